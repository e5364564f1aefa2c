# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import http.server
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.dockyard.registry.plugins.module_utils import _backend_probe as probe
from ansible_collections.dockyard.registry.tests.unit.servers import serving

API = {"docker-distribution-api-version": "registry/2.0"}


@pytest.mark.parametrize("check,status,headers,body,passed", [
    ("api", 200, API, b"{}", True),
    ("api", 401, API, b"", True),
    ("api", 200, {}, b"{}", False),
    ("api", 503, API, b"storage down", False),
    ("api", 404, API, b"", False),
    ("api", None, {}, b"", False),
    ("storage", 200, API, b'{"repositories":[]}', True),
    ("storage", 401, API, b"", True),
    ("storage", 503, API, b"", False),
    ("readonly", 405, {"Allow": "GET, HEAD"}, b"Method not allowed", True),
    ("readonly", 405, {"Allow": "GET, HEAD, POST"}, b"", False),
    ("readonly", 202, {}, b"", False),
    ("readonly", 401, {}, b"", False),
    ("debug_health", 200, {}, b"{}", True),
    ("debug_health", 200, {}, b'{"storagedriver_s3": "s3aws: Path not found"}', False),
    ("debug_health", 503, {}, b"{}", False),
])
def test_judge(check, status, headers, body, passed):
    ok, detail = probe.judge(check, status, headers, body)
    assert ok is passed
    assert detail


def test_judge_and_paths_refuse_unknown_checks():
    with pytest.raises(ValueError):
        probe.judge("ping", 200, {}, b"")
    with pytest.raises(ValueError):
        probe.check_path("ping")
    assert probe.check_path("readonly", "a/b") == ("POST", "/v2/a/b/blobs/uploads/")


def test_host_for_url():
    assert probe.host_for_url("10.0.0.1") == "10.0.0.1"
    assert probe.host_for_url("fd00::1") == "[fd00::1]"
    with pytest.raises(ValueError):
        probe.host_for_url(" ")


def test_basic_auth_never_needs_a_password_in_the_result():
    assert probe.basic_auth(None, "x") is None
    assert probe.basic_auth("ci", "pw") == "Basic Y2k6cHc="


class FakeRegistry(http.server.BaseHTTPRequestHandler):
    """Answers like Distribution: /v2/ 200, catalog 200, uploads 202 or 405 (read-only)."""

    readonly = False
    seen = []

    def log_message(self, *args):
        pass

    def _send(self, status, headers=None, body=b""):
        self.send_response(status)
        for key, value in {"Docker-Distribution-Api-Version": "registry/2.0", **(headers or {})}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.seen.append(("GET", self.path))
        if self.path == "/debug/health":
            self._send(200, body=b"{}")
        elif self.path.startswith("/v2/_catalog"):
            self._send(200, body=b'{"repositories":[]}')
        else:
            self._send(200, body=b"{}")

    def do_POST(self):
        self.seen.append(("POST", self.path))
        if self.readonly:
            self._send(405, {"Allow": "GET, HEAD"}, b"Method not allowed")
        else:
            self._send(202, {"Location": "/v2/x/blobs/uploads/u1?_state=s"})

    def do_DELETE(self):
        self.seen.append(("DELETE", self.path))
        self._send(204)


@pytest.fixture
def registry():
    FakeRegistry.readonly = False
    FakeRegistry.seen = []
    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeRegistry)) as server:
        yield server


def test_plain_http_checks(registry):
    port = registry.server_address[1]
    for check in ("api", "storage", "debug_health"):
        result = probe.run_check(check, "127.0.0.1", port)
        assert result["passed"], result
    result = probe.run_check("readonly", "127.0.0.1", port)
    assert not result["passed"] and result["status"] == 202
    # the upload a writable backend accepted is cancelled again
    assert ("DELETE", "/v2/x/blobs/uploads/u1?_state=s") in FakeRegistry.seen
    FakeRegistry.readonly = True
    result = probe.run_check("readonly", "127.0.0.1", port, repository="a/b")
    assert result["passed"] and result["path"] == "/v2/a/b/blobs/uploads/"


def test_nothing_listening_is_a_failed_check(registry):
    port = registry.server_address[1]
    registry.shutdown()
    registry.server_close()
    result = probe.run_check("api", "127.0.0.1", port, timeout=2)
    assert not result["passed"] and result["status"] is None
    assert "Error" in result["detail"]


# --- mutual TLS, as the proxy reaches a backend -------------------------------------------------

def _cert(subject, issuer_key, key, issuer=None, ca=False, eku=None, sans=()):
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path, *items):
    data = b""
    for item in items:
        if isinstance(item, x509.Certificate):
            data += item.public_bytes(serialization.Encoding.PEM)
        else:
            data += item.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
    path.write_bytes(data)
    return str(path)


@pytest.fixture
def mtls(tmp_path):
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("test CA", ca_key, ca_key, ca=True)
    srv_key = ec.generate_private_key(ec.SECP256R1())
    srv = _cert("backend", ca_key, srv_key, ca.subject, eku=[ExtendedKeyUsageOID.SERVER_AUTH], sans=["backends.test"])
    cli_key = ec.generate_private_key(ec.SECP256R1())
    cli = _cert("proxy", ca_key, cli_key, ca.subject, eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
    files = {"ca": _write(tmp_path / "ca.crt", ca), "srv": _write(tmp_path / "srv.pem", srv, srv_key),
             "cli": _write(tmp_path / "cli.crt", cli), "cli_key": _write(tmp_path / "cli.key", cli_key)}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeRegistry)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(files["srv"])
    ctx.load_verify_locations(files["ca"])
    ctx.verify_mode = ssl.CERT_REQUIRED
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    with serving(server):
        yield server.server_address[1], files


def test_mutual_tls_probe_passes_with_the_proxy_client_certificate(mtls):
    port, files = mtls
    ctx = probe.ssl_context(files["ca"], files["cli"], files["cli_key"])
    result = probe.run_check("api", "127.0.0.1", port, tls=True, server_name="backends.test", context=ctx)
    assert result["passed"], result


def test_mutual_tls_probe_fails_without_client_certificate_or_with_a_wrong_name(mtls):
    port, files = mtls
    no_client = probe.run_check("api", "127.0.0.1", port, tls=True, server_name="backends.test",
                                context=probe.ssl_context(files["ca"]), timeout=3)
    assert not no_client["passed"]
    wrong_name = probe.run_check("api", "127.0.0.1", port, tls=True, server_name="other.test",
                                 context=probe.ssl_context(files["ca"], files["cli"], files["cli_key"]), timeout=3)
    assert not wrong_name["passed"] and "certificate" in wrong_name["detail"].lower()
    plain = probe.run_check("api", "127.0.0.1", port, tls=False, timeout=3)
    assert not plain["passed"]
