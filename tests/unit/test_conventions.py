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
    assert {"ca", "nginx", "registry", "client_trust", "token_service", "keepalived"} <= set(ROLES)
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
               "registry": {"registry_backends"}, "client_trust": {"registry_clients"},
               "token_service": {"registry_proxy"}, "keepalived": {"registry_proxy"}}
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


def test_every_role_has_its_groups_named():
    # A role missing here would count every registry group's platforms as its own.
    assert set(ROLE_GROUPS) == set(ROLES)


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


def test_a_wrapped_default_stays_on_its_table_row():
    gen = _generator()
    assert gen.default({"default": "{{ a\n   | b }}"}) == "`{{ a \\| b }}`"
    assert gen.default({"default": "x  y"}) == "`x  y`"


# Roles proven inside a scenario that deploys the whole site rather than in one of their own (the
# scenario's molecule.yml must say so, and its converge must apply the role, through site.yml).
# keepalived needs two proxies, backends and a client: the `ha` scenario brings them up once.
SCENARIO_OF_ROLE = {"token_service": "default", "keepalived": "ha"}


def _playbook_texts(playbook: Path, seen=None):
    """The text of a playbook and of every playbook it imports (import_playbook), recursively."""
    seen = set() if seen is None else seen
    if playbook in seen or not playbook.exists():
        return []
    seen.add(playbook)
    texts = [playbook.read_text()]
    for play in yaml.safe_load(texts[0]) or []:
        target = play.get("ansible.builtin.import_playbook") or play.get("import_playbook")
        if target:
            texts += _playbook_texts((playbook.parent / target).resolve(), seen)
    return texts


def test_every_role_has_a_molecule_scenario():
    for role in ROLES:
        scenario = SCENARIO_OF_ROLE.get(role, role)
        config = REPO / "molecule" / scenario / "molecule.yml"
        assert config.exists(), f"no molecule scenario for {role}"
        if scenario != role:
            assert role in config.read_text(), f"molecule/{scenario}/molecule.yml does not say it covers {role}"
            converge = REPO / "molecule" / scenario / "converge.yml"
            assert "playbooks/site.yml" in converge.read_text()
            texts = _playbook_texts(converge)
            assert any(f"dockyard.registry.{role}" in text for text in texts), \
                f"molecule/{scenario} is named as {role}'s scenario but its converge does not apply the role"


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


# --- Booleans and numbers are converted where they are used (issue 16) ------------------------
# `-e name=value` and INI inventories hand every value over as a string, and role argument-spec
# validation checks a type without converting the variable: "false" is a true string. So every use
# of a variable whose spec says `type: bool` goes through `| bool` (a `| default(...)` may come
# first), and a `type: int` variable that is compared or used in arithmetic goes through `| int`.
# Specs: each role's meta/argument_specs.yml and meta/shared_variables.yml (dockyard_* facts).

SHARED_SPECS = REPO / "meta" / "shared_variables.yml"
# Playbook keywords Ansible itself converts with a strict boolean(): the `no_log` form every secret
# task carries ("{{ dockyard_no_log | default(true) }}", PLAN.md) is left as it is.
_KEYWORDS_CONVERTED_BY_ANSIBLE = {"no_log"}
_CONDITION_KEYS = {"when", "changed_when", "failed_when", "until", "that"}
_JINJA_BLOCK = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.S)
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)
_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_COMPARE_OR_ARITH_AFTER = re.compile(r"\s*(==|!=|<=|>=|<|>|\+|-|\*|/|%)")
_COMPARE_OR_ARITH_BEFORE = re.compile(r"(==|!=|<=|>=|<|>|\+|-|\*|/|%|\brange\()\s*$")
# Template macros that convert their only argument with `| bool` (roles/nginx/templates/nginx.conf.j2).
_CONVERTING_MACROS = ("onoff",)


def _all_specs() -> dict:
    specs = {}
    for role in ROLES:
        specs.update(_specs(role))
    specs.update(yaml.safe_load(SHARED_SPECS.read_text())["options"])
    return specs


def _names_of_type(kind: str) -> set:
    return {name for name, spec in _all_specs().items() if spec.get("type") == kind}


def _files_using_variables():
    for role in ROLES:
        base = REPO / "roles" / role
        for sub in ("tasks", "handlers", "vars", "defaults"):
            yield from sorted((base / sub).glob("**/*.yml"))
        yield from sorted((base / "templates").glob("**/*.j2"))
    yield from sorted((REPO / "playbooks").glob("*.yml"))


def _template_expressions(text: str):
    for match in _JINJA_BLOCK.finditer(_JINJA_COMMENT.sub("", text)):
        yield (match.group(1) if match.group(1) is not None else match.group(2)).strip("-+ \n")


def _yaml_expressions(node, key=None):
    """Every Jinja expression in a YAML document: conditions are bare expressions, other strings
    carry theirs in {{ }} / {% %}. Values of keywords Ansible converts itself are skipped."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _yaml_expressions(v, k)
    elif isinstance(node, list):
        for item in node:
            yield from _yaml_expressions(item, key)
    elif isinstance(node, str) and key not in _KEYWORDS_CONVERTED_BY_ANSIBLE:
        if key in _CONDITION_KEYS and "{{" not in node:
            yield node
        else:
            yield from _template_expressions(node)


def _after_default(rest: str) -> str:
    """The text after an optional `| default(...)` (balanced parentheses)."""
    match = re.match(r"\s*\|\s*(?:default|d)\(", rest)
    if not match:
        return rest
    depth, pos = 1, match.end()
    while pos < len(rest) and depth:
        depth += {"(": 1, ")": -1}.get(rest[pos], 0)
        pos += 1
    return rest[pos:]


def unconverted_uses(expression: str, bools: set, ints: set) -> list:
    """Names in ``expression`` used without the conversion their type needs."""
    code = _STRING_LITERAL.sub("''", expression)
    found = []
    for match in re.finditer(r"(?<![\w.'\"])([A-Za-z_]\w*)\b(?!\s*[:=](?!=))", code):
        name = match.group(1)
        if name not in bools and name not in ints:
            continue
        rest = _after_default(code[match.end():])
        if re.match(r"\s+is\s+(not\s+)?(defined|undefined)\b", rest):
            continue
        if name in bools and re.search(r"\b(%s)\(\s*$" % "|".join(_CONVERTING_MACROS), code[:match.start()]) \
                and re.match(r"\s*\)", rest):
            continue
        if name in bools and not re.match(r"\s*\|\s*bool\b", rest):
            found.append(name)
        elif name in ints and not re.match(r"\s*\|\s*int\b", rest) and (
                _COMPARE_OR_ARITH_AFTER.match(rest) or _COMPARE_OR_ARITH_BEFORE.search(code[:match.start()])):
            found.append(name)
    return found


# A role default that only points at a shared fact (`ca_backend_tls: "{{ dockyard_backend_tls |
# default(true) }}"`) passes the value on unread: the role variable is checked in preflight and
# converted where it is used.
_PASS_THROUGH = re.compile(r"^\s*\w+\s*(\|\s*default\([^()]*\)\s*)?$")


def _unconverted_uses_in(path: Path, bools: set, ints: set) -> list:
    text = path.read_text()
    if path.suffix == ".j2":
        expressions = list(_template_expressions(text))
    else:
        expressions = list(_yaml_expressions(yaml.safe_load(text)))
    if path.parent.name == "defaults":
        expressions = [expr for expr in expressions if not _PASS_THROUGH.match(expr)]
    return ["%s: %s in `%s`" % (path.relative_to(REPO), name, " ".join(expr.split())[:160])
            for expr in expressions for name in unconverted_uses(expr, bools, ints)]


def test_booleans_and_numbers_are_converted_where_they_are_used():
    bools, ints = _names_of_type("bool"), _names_of_type("int")
    assert {"nginx_blob_cache", "registry_delete_enabled", "ca_backup", "client_trust_login"} <= bools
    assert {"nginx_listen_port", "dockyard_registry_port"} <= ints
    problems = [p for path in _files_using_variables() for p in _unconverted_uses_in(path, bools, ints)]
    assert problems == [], "use `| bool` / `| int` where these are read:\n" + "\n".join(problems)


def test_shared_booleans_and_numbers_of_the_inventory_contract_are_typed():
    """Every bool/int/float dockyard_* fact of docs/inventory.md is in meta/shared_variables.yml with
    that type: validate.yml and the roles' preflights check them, the conversion test covers them."""
    documented = dict(re.findall(r"^\| `(dockyard_\w+)` \| (bool|int|float) \|",
                                 (REPO / "docs" / "inventory.md").read_text(), re.MULTILINE))
    typed = {name: spec["type"] for name, spec in yaml.safe_load(SHARED_SPECS.read_text())["options"].items()}
    assert {"dockyard_registry_port", "dockyard_no_log"} <= set(documented)
    assert {name: typed.get(name) for name in documented} == documented


@pytest.mark.parametrize("expression, expected", [
    ("nginx_blob_cache", ["nginx_blob_cache"]),
    ("not nginx_logrotate", ["nginx_logrotate"]),
    ("nginx_http2 and nginx_version is version('1.25.1', '>=')", ["nginx_http2"]),
    ("'on' if nginx_hsts else 'off'", ["nginx_hsts"]),
    ("nginx_blob_cache | bool", []),
    ("not (nginx_logrotate | bool)", []),
    ("dockyard_no_log | default(true) | bool", []),
    ("dockyard_no_log | default(true)", ["dockyard_no_log"]),
    ("nginx_blob_cache is defined", []),
    ("'nginx_blob_cache' in names", []),
    ("item.nginx_blob_cache", []),
    ("{'nginx_blob_cache': 1}", []),
    ("nginx_listen_port > 1024", ["nginx_listen_port"]),
    ("1 + nginx_listen_port", ["nginx_listen_port"]),
    ("nginx_listen_port | int > 1024", []),
    ("nginx_listen_port | default(443) | int - 1", []),
    ("'port ' ~ nginx_listen_port", []),
    ("onoff(nginx_hsts)", []),
    ("onoff(nginx_hsts and nginx_http2)", ["nginx_hsts", "nginx_http2"]),
])
def test_the_conversion_check_finds_bare_uses(expression, expected):
    assert unconverted_uses(expression, {"nginx_blob_cache", "nginx_logrotate", "nginx_http2", "nginx_hsts",
                                         "dockyard_no_log"}, {"nginx_listen_port"}) == expected
