"""playbooks/rotate-ca.yml under load: the private CA is replaced (every host trusts the old and the
next CA, every proxy and backend certificate is reissued by the next one with the backends restarted
one at a time out of the load balancer, then the old CA is retired) while tests/lab/load_loop.py
pulls (every blob re-hashed) and pushes through the proxy on new TLS connections, trusting the
published trust bundle as a client that client_trust keeps up to date.

Asserts 0 failed pulls and pushes, that the proxy's server certificate, its client certificate
to the backends and every backend's certificate are signed by the new CA key afterwards, that the
trust bundle holds the new CA alone, and that the old CA is kept under <ca_dir>/retired/.

Its own lab (bench/_lab.py, hosts crot-*: proxy, two backends, Ceph RGW; inventory
bench/lab/inventory/crot.yml). Marked ``long_lab`` (not in ``make labtest``/CI, 45-minute budget):
run it with ``make labtest-long``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conftest import LoadLoop, deployed_bench_lab

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.lab, pytest.mark.long_lab, pytest.mark.slow]

TLS_DIR = "/etc/dockyard/tls"


@pytest.fixture(scope="module")
def lab(labctl):  # noqa: ARG001 (skips without Docker)
    yield from deployed_bench_lab("crot")


def _certificates(pem: str):
    from cryptography import x509  # pylint: disable=import-outside-toplevel

    return x509.load_pem_x509_certificates(pem.encode())


def _key_id(cert) -> bytes:
    from cryptography import x509  # pylint: disable=import-outside-toplevel

    return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def _issuer_key_id(cert) -> bytes:
    from cryptography import x509  # pylint: disable=import-outside-toplevel

    return cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier


def _host_certificate(host: str, name: str):
    import _lab  # pylint: disable=import-outside-toplevel

    return _certificates(_lab.dexec(host, "cat", f"{TLS_DIR}/{name}").stdout)[0]


def test_rotating_the_ca_fails_no_request(lab, tmp_path):
    ca_dir = lab.state / "dockyard-ca"
    bundle = ca_dir / "trust-bundle.crt"
    old_ca = _certificates((ca_dir / "ca.crt").read_text())[0]
    assert _issuer_key_id(_host_certificate(lab.proxy, "registry.crt")) == _key_id(old_ca)

    with LoadLoop(lab, tmp_path, "rotate") as load:
        started = time.monotonic()
        lab.playbook(REPO / "playbooks" / "rotate-ca.yml", None, "rotate-ca")
        seconds = time.monotonic() - started
    summary = load.summary
    print(json.dumps({"rotate_ca_seconds": round(seconds, 1), "rounds": summary["rounds"],
                      "pulls": summary["pulls"], "pushes": summary["pushes"]}, indent=1))

    new_ca = _certificates((ca_dir / "ca.crt").read_text())[0]
    assert _key_id(new_ca) != _key_id(old_ca), "ca.crt is still the old CA"
    assert [_key_id(c) for c in _certificates(bundle.read_text())] == [_key_id(new_ca)]
    retired = [_certificates(p.read_text())[0] for p in (ca_dir / "retired").glob("*/ca.crt")]
    assert _key_id(old_ca) in [_key_id(c) for c in retired], "the old CA was not kept under retired/"
    issued = {f"{lab.proxy}:registry.crt": _host_certificate(lab.proxy, "registry.crt"),
              f"{lab.proxy}:proxy-client.crt": _host_certificate(lab.proxy, "proxy-client.crt")}
    issued.update({f"{b}:backend.crt": _host_certificate(b, "backend.crt") for b in lab.backends})
    stale = [name for name, cert in issued.items() if _issuer_key_id(cert) != _key_id(new_ca)]
    assert stale == [], f"still signed by another CA: {stale}"

    assert summary["rounds"] >= 20, summary
    assert summary["pulls"]["failed"] == 0 and summary["pushes"]["failed"] == 0, summary["errors"]
    assert summary["pushes"]["refused"] == 0, summary["errors"]
