"""Helpers of the ha scenario's verifier: lab hosts, the VIP, the load loop on ha-client, playbook runs.

Everything runs on the controller and reaches the lab hosts with ``testinfra.get_host("docker://…")``
or ``docker`` itself (stop/start of a whole lab host). Lab containers share the host's clock, so the
times the loop records on ha-client and the times taken here are comparable.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

SCENARIO = Path(__file__).resolve().parents[1]
PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", SCENARIO.parents[1]))
INVENTORY = os.environ.get("MOLECULE_INVENTORY_FILE", "")
GROUP_VARS = yaml.safe_load((SCENARIO / "inventory" / "group_vars" / "all.yml").read_text())
PROXY_VARS = yaml.safe_load((SCENARIO / "inventory" / "group_vars" / "registry_proxy.yml").read_text())
NAME = GROUP_VARS["dockyard_registry_name"]
USER = GROUP_VARS["dockyard_registry_users"][0]
PROXIES = ["ha-proxy1", "ha-proxy2"]
CLIENT = "ha-client"
CA_ON_CLIENT = f"/etc/docker/certs.d/{NAME}/ca.crt"
BUILD_CACHE = PROJECT / "lab" / ".cache" / "nginx-builds"
REPORT = PROJECT / ".cache" / "ha-report.json"
LOOP_DIR = "/root/ha-loop"

# ansible_collections.dockyard.registry resolves through the checkout's link (see ansible.cfg).
sys.path.insert(0, str(PROJECT / ".cache" / "collections"))
from ansible_collections.dockyard.registry.tests.harness import run_playbook as _run_playbook  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.dockyard.registry.tests.lab_hosts import lab_host, sh  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import


def docker(*args: str, timeout: int = 300) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def vip() -> str:
    """The VIP exactly as the inventory computes it (labctl.py vip)."""
    return _labctl("vip")


def _labctl(*args: str) -> str:
    return subprocess.run([sys.executable, str(PROJECT / "lab" / "labctl.py"), *args],
                          capture_output=True, text=True, check=True).stdout.strip()


def address(name: str) -> str:
    return _labctl("address", name)


def vip_holders() -> list:
    """The proxies that have the VIP on an interface right now."""
    address_ = vip()
    holders = []
    for proxy in PROXIES:
        res = lab_host(proxy).run("ip -4 -o addr show")
        if res.rc == 0 and f" {address_}/" in res.stdout:
            holders.append(proxy)
    return holders


def wait_for(predicate, timeout: float, step: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


def single_holder() -> str:
    holders = wait_for(lambda: vip_holders() if len(vip_holders()) == 1 else None, 20, what="exactly one VIP holder")
    return holders[0]


def other(proxy: str) -> str:
    return [p for p in PROXIES if p != proxy][0]


def mac(name: str) -> str:
    return lab_host(name).check_output("cat /sys/class/net/eth0/address").strip()


def keepalived_state(proxy: str) -> str:
    """The last VRRP state keepalived logged on ``proxy`` (MASTER, BACKUP, FAULT) since it started."""
    res = lab_host(proxy).run("journalctl -u keepalived -b --no-pager -o cat | grep -o 'Entering [A-Z]* STATE' | tail -n 1")
    return res.stdout.replace("Entering", "").replace("STATE", "").strip()


def report(name: str, data: dict) -> None:
    """Keep a test's numbers in .cache/ha-report.json and print them (the molecule log shows them)."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    try:
        current = json.loads(REPORT.read_text())
    except (OSError, ValueError):
        current = {}
    current[name] = data
    REPORT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    print(f"\n[ha-report] {name}: {json.dumps(data, sort_keys=True)}")


class LoadLoop:
    """files/ha_loop.py running on ha-client in the background, bounded by --max-seconds."""

    def __init__(self, label: str, image: str | None = None, watch: dict | None = None, watch_value: str = "",
                 max_seconds: int = 240):
        self.label = f"{label}-{uuid.uuid4().hex[:6]}"
        self.dir = f"{LOOP_DIR}/{self.label}"
        self.image = image
        self.watch = watch or {}
        self.watch_value = watch_value
        self.max_seconds = max_seconds
        self.result = None

    def __enter__(self):
        client = lab_host(CLIENT)
        sh(client, f"mkdir -p {self.dir}")
        docker("cp", str(SCENARIO / "files" / "ha_loop.py"), f"{CLIENT}:{LOOP_DIR}/ha_loop.py")
        docker("cp", str(PROJECT / "plugins" / "module_utils" / "_http.py"), f"{CLIENT}:{LOOP_DIR}/_http.py")
        args = ["python3", f"{LOOP_DIR}/ha_loop.py", "--name", NAME, "--vip", vip(), "--ca", CA_ON_CLIENT,
                "--user", USER["name"], "--stop-file", f"{self.dir}/stop", "--started-file", f"{self.dir}/started",
                "--out", f"{self.dir}/result.json", "--max-seconds", str(self.max_seconds)]
        if self.image:
            args += ["--image", self.image]
        for proxy, addr in self.watch.items():
            args += ["--watch", f"{proxy}={addr}"]
        if self.watch_value:
            args += ["--watch-value", self.watch_value]
        cmd = " ".join(shlex.quote(a) for a in args) + f" >{self.dir}/stdout 2>{self.dir}/stderr"
        docker("exec", "-d", "-e", f"HA_LAB_PASSWORD={USER['password']}", CLIENT, "sh", "-c", cmd)
        wait_for(lambda: client.run(f"test -e {self.dir}/started").rc == 0, 90, 0.5,
                 f"the load loop {self.label} to get answers (see {CLIENT}:{self.dir}/stderr)")
        return self

    def __exit__(self, *exc):
        client = lab_host(CLIENT)
        client.run(f"touch {self.dir}/stop")
        wait_for(lambda: client.run(f"test -e {self.dir}/result.json").rc == 0, 180, 0.5,
                 f"the load loop {self.label} to stop")
        self.result = json.loads(client.check_output(f"cat {self.dir}/result.json"))
        return False


def run_playbook(playbook: str, extra_vars: dict | None = None, *options: str) -> subprocess.CompletedProcess:
    """Run one of the collection's playbooks against molecule's inventory (as the converge did)."""
    args = ["-i", INVENTORY, *options, str(PROJECT / "playbooks" / playbook)]
    if extra_vars:
        args += ["-e", json.dumps(extra_vars)]
    return _run_playbook(*args, timeout=900, env={"ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks"})


@pytest.fixture(scope="session")
def client():
    return lab_host(CLIENT)


@pytest.fixture(scope="session")
def pull_image(client) -> str:
    """A small two-layer image built FROM scratch on ha-client and pushed through the VIP."""
    ref = f"{NAME}/dockyard/ha:{uuid.uuid4().hex[:10]}"
    ctx = f"/root/build-{uuid.uuid4().hex[:8]}"
    sh(client, f"""
        set -e; mkdir -p {ctx} && cd {ctx}
        head -c 1M /dev/urandom > layer.bin && echo "ha {uuid.uuid4()}" > note.txt
        printf 'FROM scratch\\nCOPY layer.bin /layer.bin\\nCOPY note.txt /note.txt\\n' > Dockerfile
        docker build -q -t {ref} . >/dev/null
        docker push {ref} >/dev/null
        docker image rm {ref} >/dev/null
        cd / && rm -rf {ctx}
    """)
    return ref
