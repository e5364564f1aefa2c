"""Shared helpers for the ca scenario's testinfra verifiers.

Everything runs on the controller (where the CA lives) and reaches the lab hosts with
``testinfra.get_host("docker://<name>")``; playbooks/ca.yml is rerun with ``ansible-playbook``
against molecule's inventory, with the ``ansible.posix.json`` stdout callback so its play recap
(the per-host ``changed=`` counts) and each task's result are read as data.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

SCENARIO = Path(__file__).resolve().parents[1]
PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", SCENARIO.parents[1]))
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
INVENTORY = Path(os.environ["MOLECULE_INVENTORY_FILE"])
# The role's default CA location: <inventory dir>/.dockyard-ca (dockyard_ca_dir is not set).
CA_DIR = INVENTORY.parent / ".dockyard-ca"
FIRST_FINGERPRINT_FILE = EPHEMERAL / "ca-fingerprint.first"

GROUP_VARS = yaml.safe_load((SCENARIO / "inventory" / "group_vars" / "all.yml").read_text())
NAME = GROUP_VARS["dockyard_registry_name"]
UNLISTED = GROUP_VARS["lab_ca_unlisted_name"]
TLS_UNIT = GROUP_VARS["lab_ca_tls_unit"]
TLS_DIR = "/etc/dockyard/tls"
PROXY = "ca-proxy"
CLIENT = "ca-client"

# ansible_collections.dockyard.registry resolves through the checkout's link (see ansible.cfg).
sys.path.insert(0, str(PROJECT / ".cache" / "collections"))
from ansible_collections.dockyard.registry.tests.harness import run_playbook  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.dockyard.registry.tests.lab_hosts import lab_host  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import


@functools.cache
def proxy_address() -> str:
    """ca-proxy's address on the lab network, as the inventory computes dockyard_registry_address."""
    return subprocess.run([sys.executable, str(PROJECT / "lab" / "labctl.py"), "address", PROXY],
                          check=True, capture_output=True, text=True).stdout.strip()


def load_certificate(pem: str | bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)


def fingerprint(cert: x509.Certificate) -> str:
    """``AB:CD:...``, as ``openssl x509 -noout -fingerprint -sha256`` prints it."""
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def public_key_der(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)


def ca_certificate() -> x509.Certificate:
    return load_certificate((CA_DIR / "ca.crt").read_bytes())


def server_certificate() -> x509.Certificate:
    return load_certificate(lab_host(PROXY).file(f"{TLS_DIR}/registry.crt").content_string)


def served_certificate() -> x509.Certificate:
    """The certificate ca-proxy's HTTPS test server presents to ca-client for the registry name."""
    res = lab_host(CLIENT).run(
        f"openssl s_client -connect {NAME}:443 -servername {NAME} </dev/null 2>/dev/null | openssl x509")
    assert res.rc == 0, res.stderr
    return load_certificate(res.stdout)


def san_strings(cert: x509.Certificate) -> list[str]:
    """The SANs in certificate order, written DNS:name / IP:address."""
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [f"IP:{n.value}" if isinstance(n, x509.IPAddress) else f"DNS:{n.value}" for n in san]


@dataclasses.dataclass
class PlaybookRun:
    """One ansible-playbook run: its exit code, the recap per host and every task result."""

    args: list
    rc: int
    stdout: str
    stderr: str
    data: dict

    @property
    def stats(self) -> dict:
        """The play recap: {host: {ok, changed, failures, unreachable, skipped, ...}}."""
        return self.data.get("stats", {})

    def results(self, action: str) -> list[dict]:
        """Per-host results of every task whose module name ends with ``action``."""
        found = []
        for play in self.data.get("plays", []):
            for task in play["tasks"]:
                for host, result in task["hosts"].items():
                    if result.get("action", "").split(".")[-1] == action:
                        found.append(dict(result, _host=host, _task=task["task"]["name"]))
        return found

    def ran(self, action: str) -> list[dict]:
        """Results of ``action`` that were not skipped."""
        return [r for r in self.results(action) if not r.get("skipped")]

    def decisions(self) -> list[dict]:
        """x509_csr's planning results (key, reissue, reasons), not its second use that installs the
        signed certificate next to the key (roles/ca/tasks/certificate.yml)."""
        return [r for r in self.ran("x509_csr") if "Ensure the key and decide" in r["_task"]]

    def installs(self) -> list[dict]:
        """x509_csr's installs of a signed certificate."""
        return [r for r in self.ran("x509_csr") if "Install the certificate together" in r["_task"]]

    def changed_tasks(self) -> list[str]:
        return [f"{host}: {task['task']['name']}" for play in self.data.get("plays", []) for task in play["tasks"]
                for host, result in task["hosts"].items() if result.get("changed")]

    def total_changed(self) -> int:
        return sum(s["changed"] for s in self.stats.values())

    def describe(self) -> str:
        return (f"ansible-playbook {' '.join(shlex.quote(a) for a in self.args)}\n"
                f"rc={self.rc} recap={json.dumps(self.stats, sort_keys=True)}\n"
                f"changed tasks={self.changed_tasks()}\nstderr:\n{self.stderr[-4000:]}")

    def assert_ok(self) -> None:
        assert self.rc == 0 and self.data, self.describe() + "\nstdout:\n" + self.stdout[-4000:]
        for host, stats in self.stats.items():
            assert stats["failures"] == 0 and stats["unreachable"] == 0, f"{host}\n{self.describe()}"

    def assert_unchanged(self) -> None:
        """The play recap says changed=0 for every host."""
        self.assert_ok()
        assert self.stats, self.describe()
        assert self.total_changed() == 0, self.describe()


def run_ca_playbook(*options: str, **extra_vars) -> PlaybookRun:
    """Run the collection's playbooks/ca.yml against molecule's inventory, with ansible-playbook
    ``options`` (e.g. ``--check``) and extra variables.

    dockyard_registry_address is passed with the value the inventory computes (labctl.py address
    ca-proxy), looked up once here instead of at every use in the run (a dozen docker inspects)."""
    args = ["-i", str(INVENTORY), *options, str(PROJECT / "playbooks" / "ca.yml"),
            "-e", json.dumps({"dockyard_registry_address": proxy_address(), **extra_vars})]
    proc = run_playbook(*args, env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"})
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        data = {}
    return PlaybookRun(args, proc.returncode, proc.stdout, proc.stderr, data)


@pytest.fixture(scope="session")
def first_ca_fingerprint() -> str:
    """The CA fingerprint the first converge recorded (the file is never overwritten)."""
    return FIRST_FINGERPRINT_FILE.read_text().strip()
