"""docs/auth.md's move from basic to token authentication on a running registry, under load: the
two site.yml runs the guide gives (token mode with nginx verifying bearer tokens itself, then the
normal run), while tests/lab/load_loop.py pulls (every blob re-hashed) and pushes through the proxy
with Basic credentials on new TLS connections. Asserts 0 failed pulls (the guide's promise), that
the proxy then answers with a Bearer challenge and the token service issues tokens; failed pushes
are counted and printed (the registries restart during the second step; see docs/auth.md).

Its own lab (bench/_lab.py, hosts btls-*), ~25 minutes on a loaded 2-vCPU machine: marked
``long_lab``, not part of ``make labtest``/CI. Run it with ``make labtest-long``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

pytestmark = [pytest.mark.lab, pytest.mark.long_lab, pytest.mark.slow]

NAME = "registry.bench.dockyard.test"
PASSWORD = "lab-bench-password-0123"  # lab-only (bench/lab/inventory/group_vars/all.yml)


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


def _curl(lab, ca, *args):
    proxy = lab.address(lab.proxy)
    return subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert", str(ca), "--resolve", f"{NAME}:443:{proxy}",
                           *args], capture_output=True, text=True)


def test_basic_to_token_fails_no_pull(lab, tmp_path):
    ca = lab.state / "dockyard-ca" / "trust-bundle.crt"
    head = _curl(lab, ca, "-o", "/dev/null", "-D", "-", f"https://{NAME}/v2/").stdout
    assert "Basic realm" in head, head  # starts in basic mode
    base = [sys.executable, str(Path(__file__).with_name("load_loop.py")), "--name", NAME,
            "--resolve", lab.address(lab.proxy), "--ca", str(ca), "--user", "bench"]
    env = dict(os.environ, OPS_LAB_PASSWORD=PASSWORD)
    seed = subprocess.run(base + ["push", "--repo", "auth/pull", "--tag", "t", "--layer", "au-a:4096",
                                  "--layer", "au-b:65536"], env=env, capture_output=True, text=True, check=True)
    (tmp_path / "pull.json").write_text(seed.stdout)
    loop = subprocess.Popen(base + ["loop", "--pull", str(tmp_path / "pull.json"), "--push-repo", "auth/loop",
                                    "--stop-file", str(tmp_path / "stop"), "--started-file", str(tmp_path / "started"),
                                    "--out", str(tmp_path / "loop.json"), "--max-seconds", "2400"],
                            env=env, stdout=subprocess.DEVNULL)
    site = REPO / "playbooks" / "site.yml"
    try:
        for _ in range(60):
            if (tmp_path / "started").exists():
                break
            time.sleep(1)
        assert (tmp_path / "started").exists(), "the load loop got no answer through the proxy"
        # docs/auth.md, "Moving a running registry from basic to token with no failed pull".
        lab.playbook(site, {"dockyard_auth_mode": "token", "nginx_token_verify_bearer": True}, "auth-switch-1")
        lab.playbook(site, {"dockyard_auth_mode": "token"}, "auth-switch-2")
        time.sleep(3)
        (tmp_path / "stop").write_text("stop\n")
        loop.wait(timeout=300)
    finally:
        if loop.poll() is None:
            loop.kill()
    summary = json.loads((tmp_path / "loop.json").read_text())
    print(json.dumps({"rounds": summary["rounds"], "pulls": summary["pulls"], "pushes": summary["pushes"],
                      "errors": summary["errors"][:10]}, indent=1))
    head = _curl(lab, ca, "-o", "/dev/null", "-D", "-", f"https://{NAME}/v2/").stdout
    assert "Bearer realm" in head, head
    token = _curl(lab, ca, "-u", f"bench:{PASSWORD}",
                  f"https://{NAME}/token?service={NAME}&scope=repository:auth/pull:pull").stdout
    assert json.loads(token).get("token"), token[:300]
    assert summary["rounds"] >= 20, summary
    assert summary["pulls"]["failed"] == 0, summary["errors"]
