"""Repository conventions that a reviewer would otherwise have to check by eye."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.dockyard.registry.tests.harness import run_ansible, run_playbook

REPO = Path(__file__).resolve().parents[2]
ROLES = sorted(p.name for p in (REPO / "roles").iterdir() if (p / "meta" / "argument_specs.yml").exists())


def _specs(role: str) -> dict:
    data = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return data["argument_specs"]["main"].get("options", {})


def _defaults(role: str) -> dict:
    return yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text()) or {}


def test_every_role_is_checked():
    # Roles are discovered (every directory under roles/ with a meta/argument_specs.yml): a new role
    # is checked by every test below without being listed, and a role without a spec is refused.
    assert {"ca", "nginx", "registry", "client_trust"} <= set(ROLES)
    assert sorted(p.name for p in (REPO / "roles").iterdir() if p.is_dir()) == ROLES


def _folded(value):
    """A value with YAML formatting taken out: a line break and the indentation after it (block
    scalars, wrapped flow scalars) count as one space; nothing else is changed."""
    if isinstance(value, str):
        return re.sub(r"[ \t]*\n\s*", " ", value).strip()
    if isinstance(value, list):
        return [_folded(v) for v in value]
    if isinstance(value, dict):
        return {k: _folded(v) for k, v in value.items()}
    return value


def default_drifts(defaults: dict, specs: dict) -> list:
    """Variables whose value in defaults/main.yml is not the `default:` of meta/argument_specs.yml."""
    drifts = []
    for name, spec in sorted(specs.items()):
        if name not in defaults:
            continue
        want, got = _folded(spec.get("default")), _folded(defaults[name])
        if want != got or type(want) is not type(got):
            drifts.append(f"{name}: defaults/main.yml has {got!r}, argument_specs {want!r}")
    return drifts


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_the_argument_spec_default(role):
    drifts = default_drifts(_defaults(role), _specs(role))
    assert drifts == [], f"roles/{role}: " + "; ".join(drifts)


def test_the_default_comparison_sees_values_not_formatting():
    specs = yaml.safe_load("""
a: {default: "0700"}
b: {default: "{{ x | default('y') }}"}
c: {default: [1, 2]}
d: {}
e: {default: "{{ x | default(z) }}"}
""")
    same = yaml.safe_load("""
a: '0700'
b: >-
  {{ x
     | default('y') }}
c:
  - 1
  - 2
d: ~
e: "{{ x | default(z) }}"
""")
    assert default_drifts(same, specs) == []
    for name, other in [("a", 700), ("a", "0755"), ("b", "{{ x | default('z') }}"), ("c", [2, 1]), ("d", []),
                        ("e", "{{ x|default(z) }}")]:
        assert [d.split(":")[0] for d in default_drifts(dict(same, **{name: other}), specs)] == [name]


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_in_the_argument_spec_and_back(role):
    defaults = {k for k in _defaults(role) if not k.startswith("__")}
    specs = set(_specs(role))
    assert sorted(defaults - specs) == [], f"{role}: in defaults/main.yml but not in meta/argument_specs.yml"
    assert sorted(specs - defaults) == [], f"{role}: in meta/argument_specs.yml but not in defaults/main.yml"


@pytest.mark.parametrize("role", ROLES)
def test_role_variables_are_prefixed_with_the_role_name(role):
    bad = [k for k in _defaults(role) if not (k.startswith(role + "_") or k.startswith("__" + role + "_"))]
    assert bad == []


@pytest.mark.parametrize("role", ROLES)
def test_secret_inputs_are_no_log(role):
    secret_words = ("password", "secret", "passphrase", "secretkey", "accountkey")
    for name, spec in _specs(role).items():
        if any(w in name for w in secret_words) and not name.endswith(("_file", "_length", "_enabled")):
            assert spec.get("no_log") is True, f"{role}: {name} carries a secret but is not no_log"


@pytest.mark.parametrize("role", ROLES)
def test_role_has_preflight_and_readme(role):
    base = REPO / "roles" / role
    assert (base / "tasks" / "preflight.yml").exists()
    assert (base / "README.md").exists()
    main = (base / "tasks" / "main.yml").read_text()
    assert "preflight.yml" in main


# Platforms a role claims in meta/main.yml must be ones a molecule scenario runs it on. A platform's
# Debian release comes from its lab image (lab/dockyard_lab/images.py: dockyard-lab/<kind> is the
# lab's default release, dockyard-lab/<kind>-<suite> another one); the role runs on the platforms in
# the groups it is applied to (playbooks/site.yml), whatever the scenario.
ROLE_GROUPS = {"ca": {"registry_proxy", "registry_backends"}, "nginx": {"registry_proxy"},
               "registry": {"registry_backends"}, "client_trust": {"registry_clients"}}
ANY_REGISTRY_GROUP = {"registry_proxy", "registry_backends", "registry_clients"}


def _default_suite() -> str:
    text = (REPO / "lab" / "dockyard_lab" / "common.py").read_text()
    return re.search(r'SUITE = os.environ.get\("DOCKYARD_LAB_SUITE", "([a-z]+)"\)', text).group(1)


def image_release(image: str, default_suite: str):
    """The Debian release of a lab test-host image (None for other images: s3, registry)."""
    match = re.match(r"^dockyard-lab/(?:systemd|dind)(?:-([a-z]+))?:", image)
    return (match.group(1) or default_suite) if match else None


def _releases_tested(role: str) -> set:
    suite, releases = _default_suite(), set()
    for molecule_yml in (REPO / "molecule").glob("*/molecule.yml"):
        for platform in yaml.safe_load(molecule_yml.read_text()).get("platforms") or []:
            release = image_release(platform.get("image", ""), suite)
            if release and set(platform.get("groups") or []) & ROLE_GROUPS.get(role, ANY_REGISTRY_GROUP):
                releases.add(release)
    return releases


def test_platform_releases_come_from_the_lab_images():
    assert image_release("dockyard-lab/dind:latest", "bookworm") == "bookworm"
    assert image_release("dockyard-lab/systemd-trixie:latest", "bookworm") == "trixie"
    assert image_release("dockyard-lab/s3:latest", "bookworm") is None
    assert _default_suite() in _releases_tested("nginx")


@pytest.mark.parametrize("role", ROLES)
def test_roles_claim_only_tested_platforms(role):
    meta = yaml.safe_load((REPO / "roles" / role / "meta" / "main.yml").read_text())
    claimed = {p["name"]: set(map(str, p.get("versions", []))) for p in meta["galaxy_info"]["platforms"]}
    tested = {"Debian": _releases_tested(role)}
    for name, versions in claimed.items():
        assert versions <= tested.get(name, set()), (
            f"roles/{role}/meta/main.yml claims {name} {sorted(versions)}; molecule runs it on {tested} only "
            "(list the rest as untested in the docs instead)")


def test_variable_reference_is_up_to_date():
    # docs/variables.md and the table between the markers of every role README
    res = subprocess.run([sys.executable, str(REPO / "scripts" / "gen-variables-doc.py"), "--check"],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr


def _generator():
    spec = importlib.util.spec_from_file_location("gen_variables_doc", REPO / "scripts" / "gen-variables-doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_tables_follow_the_argument_specs(tmp_path):
    gen = _generator()
    shutil.copytree(REPO / "roles" / "ca", tmp_path / "roles" / "ca")
    (tmp_path / "roles" / "ca" / "README.md").write_text("# ca\n\nintro\n")  # no markers yet
    (tmp_path / "docs").mkdir()
    for path, (text, _note) in gen.outputs(tmp_path).items():
        path.write_text(text)
    readme = (tmp_path / "roles" / "ca" / "README.md").read_text()
    assert readme.startswith("# ca\n\nintro\n") and gen.BEGIN in readme and "| `ca_key_type` |" in readme
    assert all(path.read_text() == text and not note for path, (text, note) in gen.outputs(tmp_path).items())
    spec = tmp_path / "roles" / "ca" / "meta" / "argument_specs.yml"
    spec.write_text(spec.read_text().replace("default: ecdsa-p256", "default: rsa-4096", 1))
    stale = {path.name: text for path, (text, _note) in gen.outputs(tmp_path).items() if path.read_text() != text}
    assert sorted(stale) == ["README.md", "variables.md"]
    assert all("|  | `rsa-4096` | Type of a newly created CA key." in text for text in stale.values())


def test_every_role_has_a_molecule_scenario():
    for role in ROLES:
        assert (REPO / "molecule" / role / "molecule.yml").exists(), f"no molecule scenario for {role}"


def test_example_inventory_parses_with_the_expected_groups():
    import json  # pylint: disable=import-outside-toplevel

    res = run_ansible("ansible-inventory", "-i", REPO / "inventory.example", "--list")
    assert res.returncode == 0, res.stderr
    inv = json.loads(res.stdout)
    for group in ("registry_proxy", "registry_backends", "registry_clients"):
        assert inv[group]["hosts"], group
    hostvars = inv["_meta"]["hostvars"]
    assert hostvars["registry1"]["dockyard_lb_weight"] == 2
    assert hostvars["proxy1"]["dockyard_registry_name"] == "docker.example.com"


@pytest.mark.parametrize("playbook", sorted(p.name for p in (REPO / "playbooks").glob("*.yml")))
def test_playbooks_pass_syntax_check_with_the_example_inventory(playbook):
    res = run_playbook("--syntax-check", "-i", REPO / "inventory.example", REPO / "playbooks" / playbook)
    assert res.returncode == 0, res.stdout + res.stderr
