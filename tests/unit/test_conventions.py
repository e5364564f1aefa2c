"""Repository conventions that a reviewer would otherwise have to check by eye."""

from __future__ import annotations

import re
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
    assert set(ROLES) == {"ca", "nginx", "registry", "client_trust"}


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


# Platforms a molecule scenario runs on: the lab images are Debian (lab/dockyard_lab/common.py SUITE).
# Add one here only together with a scenario that runs on it.
TESTED_PLATFORMS = {"Debian": {"bookworm"}}


def test_lab_images_are_a_tested_platform():
    text = (REPO / "lab" / "dockyard_lab" / "common.py").read_text()
    suite = re.search(r'SUITE = os.environ.get\("DOCKYARD_LAB_SUITE", "([a-z]+)"\)', text).group(1)
    assert suite in TESTED_PLATFORMS["Debian"]


@pytest.mark.parametrize("role", ROLES)
def test_roles_claim_only_tested_platforms(role):
    meta = yaml.safe_load((REPO / "roles" / role / "meta" / "main.yml").read_text())
    claimed = {p["name"]: set(map(str, p.get("versions", []))) for p in meta["galaxy_info"]["platforms"]}
    for name, versions in claimed.items():
        assert versions <= TESTED_PLATFORMS.get(name, set()), (
            f"roles/{role}/meta/main.yml claims {name} {sorted(versions)}; no test runs there "
            "(list it as untested in the docs instead)")


def test_variable_reference_is_up_to_date():
    res = subprocess.run([sys.executable, str(REPO / "scripts" / "gen-variables-doc.py"), "--check"],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr


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
