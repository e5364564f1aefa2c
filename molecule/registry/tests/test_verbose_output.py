"""No secret in `ansible-playbook -v --diff` output of the converge, on the change path.

Runs last (file order): it recreates every container twice (log level changed, then restored).
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from conftest import BACKENDS, INVENTORY_FILE, SCENARIO_DIR  # puts .cache/collections on sys.path

from ansible_collections.dockyard.registry.tests.harness import run_ansible, run_playbook  # noqa: E402


def converge(*extra: str) -> subprocess.CompletedProcess:
    return run_playbook("-v", "--diff", "-i", INVENTORY_FILE, SCENARIO_DIR / "converge.yml", *extra, timeout=900)


def recap(output: str) -> dict:
    found = {}
    for host, changed in re.findall(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", output, re.M):
        found[host] = int(changed)
    return found


@pytest.mark.parametrize("extra", [["-e", "registry_log_level=warn"], []], ids=["change", "restore"])
def test_verbose_converge_prints_no_secret(extra, secrets):
    res = converge(*extra)
    output = res.stdout + res.stderr
    assert res.returncode == 0, output[-3000:]
    # The change path ran (config.yml rewritten, containers recreated) and -v printed results.
    counts = recap(res.stdout)
    assert all(counts.get(h, 0) > 0 for h in BACKENDS), counts
    assert "changed: [reg-b1] => " in res.stdout, "no -v result printed"
    assert "the output has been hidden" in res.stdout  # no_log tasks ran and were censored
    for what, value in secrets.items():
        assert value not in output, f"{what} printed by ansible-playbook -v"


def test_inventory_lists_no_secret(secrets):
    """The inventory as molecule passes it (a directory) holds no secret: no generated secret
    file below it is parsed as an inventory source (a host named after the secret)."""
    res = run_ansible("ansible-inventory", "-i", INVENTORY_FILE.parent, "--list", timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    data = json.loads(res.stdout)
    hosts = set(data["_meta"]["hostvars"]) | {h for group in data.values() for h in group.get("hosts", [])}
    assert hosts <= {"reg-b1", "reg-b2", "reg-fs", "reg-s3"}, hosts
    for what, value in secrets.items():
        assert value not in res.stdout + res.stderr, f"{what} in ansible-inventory --list"
