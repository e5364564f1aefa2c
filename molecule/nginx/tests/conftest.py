"""Shared helpers for the nginx scenario's verifier (controller side and lab hosts)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SCENARIO = Path(__file__).resolve().parents[1]
PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
LABCTL = PROJECT / "lab" / "labctl.py"
EPHEMERAL = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", ""))
GROUP_VARS = SCENARIO / "inventory" / "group_vars"
# dockyard_ca_dir in group_vars/all.yml
CA_CERTIFICATE = EPHEMERAL / "inventory" / ".dockyard-ca" / "ca.crt"

PROXY = "ngx-proxy"
BACKENDS = ["ngx-b1", "ngx-b2"]

# ansible_collections.dockyard.registry resolves through the checkout's link (see ansible.cfg).
sys.path.insert(0, str(PROJECT / ".cache" / "collections"))
from ansible_collections.dockyard.registry.tests.lab_hosts import lab_host  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import


def labctl(*args: str) -> str:
    return subprocess.run([sys.executable, str(LABCTL), *args], check=True, text=True,
                          capture_output=True).stdout.strip()


def group_vars(group: str) -> dict:
    return yaml.safe_load((GROUP_VARS / f"{group}.yml").read_text())


@pytest.fixture(scope="session")
def lab() -> dict:
    """Where things are: names, ports, addresses, users and the CA the controller trusts."""
    facts = group_vars("all")
    ca_path = CA_CERTIFICATE
    assert ca_path.is_file(), f"the ca role did not publish the CA certificate at {ca_path}"
    return {
        "name": facts["dockyard_registry_name"],
        "port": int(facts["dockyard_registry_port"]),
        "users": facts["dockyard_registry_users"],
        "proxy_address": labctl("address", PROXY),
        "backend_addresses": {b: labctl("address", b) for b in BACKENDS},
        "ca_path": str(ca_path),
    }


@pytest.fixture(scope="session")
def oci():
    from ansible_collections.dockyard.registry.plugins.module_utils import _oci
    return _oci


@pytest.fixture()
def client(lab, oci):
    """A registry client for the proxy as clients see it (https://name:5043, CA verified)."""
    user = lab["users"][0]
    with oci.RegistryClient(f"https://{lab['name']}:{lab['port']}", user["name"], user["password"],
                            ca_path=lab["ca_path"], resolve=lab["proxy_address"], timeout=30) as c:
        yield c


@pytest.fixture(scope="session")
def proxy():
    return lab_host(PROXY)


def boot_instance(stat_text: str) -> str:
    """Start time of PID 1 (field 22 of /proc/1/stat): tells incarnations of a lab host apart."""
    return stat_text.rsplit(")", 1)[1].split()[19]
