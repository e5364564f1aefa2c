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
import re
import subprocess
from pathlib import Path

import pytest

from conftest import LoadLoop, deployed_bench_lab

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.lab, pytest.mark.long_lab, pytest.mark.slow]


def _recap_changed(log_text):
    return sum(int(n) for n in re.findall(r"changed=(\d+)", log_text.split("PLAY RECAP", 1)[-1]))


@pytest.fixture(scope="module")
def lab(labctl):  # noqa: ARG001 (skips without Docker)
    yield from deployed_bench_lab("btls")


def test_switching_the_backend_hop_fails_no_request(lab, tmp_path):
    import _lab  # pylint: disable=import-outside-toplevel

    with LoadLoop(lab, tmp_path, "switch") as load:
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
    summary = load.summary
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
