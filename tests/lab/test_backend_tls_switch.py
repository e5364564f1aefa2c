"""playbooks/backend-tls.yml under load: mutual TLS -> plain HTTP -> mutual TLS through the bridge
containers while tests/lab/load_loop.py pulls (every blob re-hashed) and pushes through the proxy on
new TLS connections. Asserts 0 failed pulls and pushes over both switches, the mode each switch
leaves (plain HTTP answered or refused by a backend), no bridge container left, and that a third
run (already in the target mode) changes nothing.

Its own lab (bench/_lab.py, hosts btls-*: proxy, two backends, Ceph RGW) deployed with the default
wiring; 8 minutes on an idle 2-vCPU machine, ~25 on a loaded one, so it is marked ``long_lab``: not part of
``make labtest``/CI (45-minute budget). Run it with ``make labtest-long``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

pytestmark = [pytest.mark.lab, pytest.mark.long_lab, pytest.mark.slow]

PASSWORD = "lab-bench-password-0123"  # lab-only (bench/lab/inventory/group_vars/all.yml)


def _recap_changed(log_text):
    return sum(int(n) for n in re.findall(r"changed=(\d+)", log_text.split("PLAY RECAP", 1)[-1]))


@pytest.fixture(scope="module")
def lab(labctl):  # noqa: ARG001 (skips without Docker)
    import _lab  # pylint: disable=import-outside-toplevel

    bench_lab = _lab.BenchLab("btls")
    try:
        bench_lab.up()
        bench_lab.deploy()
        yield bench_lab
    finally:
        if not os.environ.get("DOCKYARD_KEEP_LAB"):
            bench_lab.down()


def test_switching_the_backend_hop_fails_no_request(lab, tmp_path):
    import _lab  # pylint: disable=import-outside-toplevel

    ca = lab.state / "dockyard-ca" / "trust-bundle.crt"
    base = [sys.executable, str(Path(__file__).with_name("load_loop.py")), "--name", "registry.bench.dockyard.test",
            "--resolve", lab.address(lab.proxy), "--ca", str(ca), "--user", "bench"]
    env = dict(os.environ, OPS_LAB_PASSWORD=PASSWORD)
    seed = subprocess.run(base + ["push", "--repo", "switch/pull", "--tag", "t", "--layer", "sw-a:4096",
                                  "--layer", "sw-b:65536"], env=env, capture_output=True, text=True, check=True)
    (tmp_path / "pull.json").write_text(seed.stdout)
    loop = subprocess.Popen(base + ["loop", "--pull", str(tmp_path / "pull.json"), "--push-repo", "switch/loop",
                                    "--stop-file", str(tmp_path / "stop"), "--started-file", str(tmp_path / "started"),
                                    "--out", str(tmp_path / "loop.json"), "--max-seconds", "2400"],
                            env=env, stdout=subprocess.DEVNULL)
    try:
        for _ in range(60):
            if (tmp_path / "started").exists():
                break
            time.sleep(1)
        assert (tmp_path / "started").exists(), "the load loop got no answer through the proxy"
        backend = lab.address(lab.b1)
        seen = {}
        for step, target in enumerate((False, True, True)):
            name = f"backend-tls-{step}"
            lab.playbook(REPO / "playbooks" / "backend-tls.yml", {"dockyard_backend_tls": target}, name)
            log_text = (lab.state / f"{name}.log").read_text()
            plain = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                                    f"http://{backend}:5000/v2/"], capture_output=True, text=True).stdout
            containers = _lab.dexec(lab.b1, "docker", "ps", "-a", "--format", "{{.Names}}").stdout.split()
            seen[step] = {"plain_http": plain, "containers": containers, "changed": _recap_changed(log_text),
                          "switching": "Switching the backend hop" in log_text}
        (tmp_path / "stop").write_text("stop\n")
        loop.wait(timeout=300)
    finally:
        if loop.poll() is None:
            loop.kill()
    summary = json.loads((tmp_path / "loop.json").read_text())
    print(json.dumps({"steps": seen, "rounds": summary["rounds"], "pulls": summary["pulls"],
                      "pushes": summary["pushes"]}, indent=1))
    # Plain HTTP after the first switch: a backend answers anyone (200); after the second it refuses
    # plain HTTP on its TLS port (400). The bridge containers are gone each time.
    assert seen[0]["switching"] and seen[0]["plain_http"] == "200", seen[0]
    assert seen[1]["switching"] and seen[1]["plain_http"] == "400", seen[1]
    assert all(s["containers"] == ["registry"] for s in seen.values()), seen
    # Already in the target mode: nothing to switch, nothing changed.
    assert not seen[2]["switching"] and seen[2]["changed"] == 0, seen[2]
    assert summary["rounds"] >= 20, summary
    assert summary["pulls"]["failed"] == 0 and summary["pushes"]["failed"] == 0, summary["errors"]
    assert summary["pushes"]["refused"] == 0, summary["errors"]
