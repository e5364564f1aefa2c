"""playbooks/backend-tls.yml's decision: which mode each proxy is in, and whether to switch."""

from __future__ import annotations

import base64

import pytest

from ansible_collections.dockyard.registry.plugins.filter.backend_tls import backend_tls_plan
from ansible_collections.dockyard.registry.plugins.module_utils import _backend_tls

MTLS = """
    upstream registry_backends { server 10.0.0.5:5000; keepalive 32; }
        location /v2/ {
            proxy_pass https://registry_backends;
            proxy_ssl_certificate /etc/dockyard/tls/proxy-client.crt;
            proxy_ssl_certificate_key /etc/dockyard/tls/proxy-client.key;
            proxy_ssl_verify on;
        }
"""
PLAIN = """
    upstream registry_backends { server 10.0.0.5:5000; keepalive 32; }
        location /v2/ {
            proxy_pass http://registry_backends;
            # proxy_ssl_certificate is not used: plain HTTP to the backends
        }
"""


def test_the_client_certificate_directive_decides_the_mode():
    assert _backend_tls.conf_uses_mutual_tls(MTLS)
    assert not _backend_tls.conf_uses_mutual_tls(PLAIN)  # a comment naming the directive is not it
    assert not _backend_tls.conf_uses_mutual_tls("")
    assert not _backend_tls.conf_uses_mutual_tls(None)
    # The server's own certificate (ssl_certificate) is not the client certificate.
    assert not _backend_tls.conf_uses_mutual_tls("    ssl_certificate /etc/dockyard/tls/registry.crt;\n")


@pytest.mark.parametrize("confs, bridges, target, switch, other", [
    ({"p1": MTLS, "p2": MTLS}, [], True, False, []),
    ({"p1": PLAIN, "p2": PLAIN}, [], False, False, []),
    ({"p1": PLAIN, "p2": PLAIN}, [], True, True, ["p1", "p2"]),
    ({"p1": MTLS, "p2": PLAIN}, [], True, True, ["p2"]),  # half-switched proxies
    ({"p1": MTLS}, [], False, True, ["p1"]),
    ({"p1": None}, [], True, True, ["p1"]),  # nginx not deployed yet
    ({"p1": MTLS}, ["b2"], True, True, []),  # an interrupted run left a bridge: go on
])
def test_switch_plan(confs, bridges, target, switch, other):
    plan = _backend_tls.switch_plan(confs, bridges, target)
    assert plan["switch"] is switch
    assert plan["other_mode"] == other
    assert plan["bridges"] == sorted(bridges)
    if switch:
        assert plan["message"].startswith("Switching the backend hop to ")
    else:
        assert "nothing to switch" in plan["message"]


def test_switch_plan_names_what_it_found():
    plan = _backend_tls.switch_plan({"p1": MTLS, "p2": PLAIN}, ["b1"], True)
    assert "p2" in plan["message"] and "p1" not in plan["message"] and "b1" in plan["message"]
    assert "mutual TLS" in plan["message"]


def test_the_target_must_be_a_boolean():
    with pytest.raises(ValueError, match="boolean"):
        _backend_tls.switch_plan({"p1": MTLS}, [], "true")


def test_the_filter_reads_slurp_results_and_container_info():
    hostvars = {
        "p1": {"__backend_tls_conf": {"content": base64.b64encode(PLAIN.encode()).decode()}},
        "p2": {"__backend_tls_conf": {"failed": True}},  # slurp found no nginx.conf
        "b1": {"__backend_tls_bridge": {"exists": False}},
        "b2": {"__backend_tls_bridge": {"exists": True}},
    }
    plan = backend_tls_plan(["p1", "p2"], hostvars, target=False, backends=["b1", "b2"])
    assert plan["switch"] is True and plan["other_mode"] == [] and plan["bridges"] == ["b2"]
    plan = backend_tls_plan(["p1", "p2"], hostvars, target=True, backends=["b1"])
    assert plan["other_mode"] == ["p1", "p2"] and plan["bridges"] == []
