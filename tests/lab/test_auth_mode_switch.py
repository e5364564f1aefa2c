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
import subprocess
from pathlib import Path

import pytest

from conftest import BENCH_NAME as NAME, BENCH_PASSWORD as PASSWORD, LoadLoop, deployed_bench_lab

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.lab, pytest.mark.long_lab, pytest.mark.slow]


@pytest.fixture(scope="module")
def lab(labctl):  # noqa: ARG001 (skips without Docker)
    yield from deployed_bench_lab("btls")


def _curl(lab, ca, *args):
    proxy = lab.address(lab.proxy)
    return subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert", str(ca), "--resolve", f"{NAME}:443:{proxy}",
                           *args], capture_output=True, text=True)


def test_basic_to_token_fails_no_pull(lab, tmp_path):
    ca = lab.state / "dockyard-ca" / "trust-bundle.crt"
    head = _curl(lab, ca, "-o", "/dev/null", "-D", "-", f"https://{NAME}/v2/").stdout
    assert "Basic realm" in head, head  # starts in basic mode
    site = REPO / "playbooks" / "site.yml"
    with LoadLoop(lab, tmp_path, "auth") as load:
        # docs/auth.md, "Moving a running registry from basic to token with no failed pull".
        lab.playbook(site, {"dockyard_auth_mode": "token", "nginx_token_verify_bearer": True}, "auth-switch-1")
        lab.playbook(site, {"dockyard_auth_mode": "token"}, "auth-switch-2")
    summary = load.summary
    print(json.dumps({"rounds": summary["rounds"], "pulls": summary["pulls"], "pushes": summary["pushes"],
                      "errors": summary["errors"][:10]}, indent=1))
    head = _curl(lab, ca, "-o", "/dev/null", "-D", "-", f"https://{NAME}/v2/").stdout
    assert "Bearer realm" in head, head
    token = _curl(lab, ca, "-u", f"bench:{PASSWORD}",
                  f"https://{NAME}/token?service={NAME}&scope=repository:auth/pull:pull").stdout
    assert json.loads(token).get("token"), token[:300]
    assert summary["rounds"] >= 20, summary
    assert summary["pulls"]["failed"] == 0, summary["errors"]
