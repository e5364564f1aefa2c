"""Trust boundaries on the lab: nobody gets past the proxy, no password crosses a wire in clear, and
the CA cannot vouch for other sites.

* From `client` (a host on the backends' network), every backend's registry port refuses plain
  HTTP, TLS without a client certificate, and TLS with a certificate from the same CA that is not
  a client certificate; only the proxies' clientAuth certificates get in.
* A capture on a backend while docker pulls through the proxy shows TLS records only: no
  `Authorization` header, no password, no registry request in clear.
* A certificate for www.example.org signed with the lab CA's own key (what a thief of the key could
  do) fails verification on the client, with OpenSSL and with Go (skopeo), while the registry's
  own certificate passes: the CA carries critical name constraints.
* With the CA directory gone (a fresh clone), a run stops before changing anything and says what
  to do; the proxy keeps its certificate.
"""

from __future__ import annotations

import base64
import os
import shlex
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import PROJECT, lab_host

NAME = "registry.dockyard.test"
BACKENDS = ["backend1", "backend2"]
CERTS_D_CA = f"/etc/docker/certs.d/{NAME}/ca.crt"
PASSWORD = "lab-ci-password-0123"  # lab-only credential (inventory/group_vars/all.yml)
EPHEMERAL = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent"))
CA_DIR = EPHEMERAL / "inventory" / ".dockyard-ca"
# curl's exit codes when the server ends the TLS handshake with an alert (no HTTP exchange at all):
# 35 handshake error, 55/56 the connection is gone while sending/receiving (TLS 1.3 alerts arrive late).
HANDSHAKE_FAILURES = (35, 55, 56)

sys.path.insert(0, str(PROJECT / ".cache" / "collections"))
from ansible_collections.dockyard.registry.plugins.module_utils import _x509  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope="module")
def client():
    return lab_host("client")


def address(name: str) -> str:
    return lab_host(name).check_output("hostname -i").split()[0]


def lab_ca():
    key = _x509.load_private_key((CA_DIR / "ca.key").read_bytes())
    cert = _x509.load_certificate((CA_DIR / "ca.crt").read_bytes())
    return key, cert


def forge(names, usage="server"):
    """A certificate signed with the lab CA's key directly, bypassing every check of the collection."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes  # pylint: disable=import-outside-toplevel
    from cryptography.x509.oid import ExtendedKeyUsageOID  # pylint: disable=import-outside-toplevel
    ca_key, ca_cert = lab_ca()
    key = _x509.generate_private_key("ecdsa-p256")
    now = _x509.utcnow()
    eku = ExtendedKeyUsageOID.SERVER_AUTH if usage == "server" else ExtendedKeyUsageOID.CLIENT_AUTH
    cert = (x509.CertificateBuilder().subject_name(_x509.parse_subject({"CN": names[0]}))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(_x509.random_serial())
            .not_valid_before(now - _x509.BACKDATE).not_valid_after(now + _x509.VALIDITY_TOLERANCE * 7)
            .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
            .add_extension(x509.SubjectAlternativeName(_x509.parse_sans(names)[0]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return _x509.dump_private_key(key).decode(), _x509.dump_certificate(cert).decode()


def put(host, path: str, text: str) -> None:
    host.check_output(f"mkdir -p {shlex.quote(os.path.dirname(path))} && cat > {shlex.quote(path)} <<'EOF'\n{text}EOF")


def curl(host, url: str, *args: str):
    return host.run("curl -sS --max-time 10 -o /dev/null -w '%{http_code}' " + " ".join(shlex.quote(a) for a in args)
                    + " " + shlex.quote(url))


@pytest.mark.parametrize("backend", BACKENDS)
def test_plain_http_to_a_backend_gets_no_registry_answer(client, backend):
    res = client.run(f"curl -sS --max-time 10 -D - http://{address(backend)}:5000/v2/_catalog")
    assert res.rc == 0, res.stderr
    assert res.stdout.startswith("HTTP/1.0 400") or res.stdout.startswith("HTTP/1.1 400"), res.stdout[:300]
    assert "Client sent an HTTP request to an HTTPS server" in res.stdout
    assert "docker-distribution-api-version" not in res.stdout.lower()
    assert "repositories" not in res.stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_tls_without_a_client_certificate_fails_the_handshake(client, backend):
    res = curl(client, f"https://{address(backend)}:5000/v2/_catalog", "--cacert", CERTS_D_CA)
    assert res.rc in HANDSHAKE_FAILURES, (res.rc, res.stdout, res.stderr)  # TLS alert, no HTTP exchange
    assert res.stdout in ("", "000")
    upload = curl(client, f"https://{address(backend)}:5000/v2/anon/test/blobs/uploads/", "-X", "POST",
                  "--cacert", CERTS_D_CA)
    assert upload.rc in HANDSHAKE_FAILURES and upload.stdout in ("", "000")


def test_a_same_ca_certificate_without_client_auth_is_refused(client):
    key, cert = forge(["intruder.registry.dockyard.test"], usage="server")
    put(client, "/root/intruder/key.pem", key)
    put(client, "/root/intruder/cert.pem", cert)
    try:
        for backend in BACKENDS:
            res = curl(client, f"https://{address(backend)}:5000/v2/", "--cacert", CERTS_D_CA,
                       "--cert", "/root/intruder/cert.pem", "--key", "/root/intruder/key.pem")
            assert res.rc in HANDSHAKE_FAILURES and res.stdout in ("", "000"), (backend, res.rc, res.stdout, res.stderr)
    finally:
        client.run("rm -rf /root/intruder")


def test_the_proxy_certificate_gets_in_from_the_proxy_only():
    """The control: from the proxy, with its client certificate, the backends answer the registry API
    (the registry's own answer: 200, or 401 with its token challenge in token mode)."""
    proxy = lab_host("proxy")
    for backend in BACKENDS:
        res = curl(proxy, f"https://{address(backend)}:5000/v2/", "--cacert", "/etc/dockyard/tls/ca.crt",
                   "--cert", "/etc/dockyard/tls/proxy-client.crt", "--key", "/etc/dockyard/tls/proxy-client.key")
        # the registry itself answers: 200, or 401 asking for a token (token mode)
        assert res.rc == 0 and res.stdout in ("200", "401"), (backend, res.rc, res.stdout, res.stderr)


SNIFFER = r'''
import socket, sys, time
port, seconds, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
s.settimeout(0.5)
end = time.time() + seconds
with open(out, "wb") as fh:
    while time.time() < end:
        try:
            frame = s.recv(65535)
        except socket.timeout:
            continue
        if len(frame) < 54 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
            continue
        ihl = (frame[14] & 0x0F) * 4
        tcp = 14 + ihl
        sport, dport = int.from_bytes(frame[tcp:tcp + 2], "big"), int.from_bytes(frame[tcp + 2:tcp + 4], "big")
        if port not in (sport, dport):
            continue
        payload = frame[tcp + (frame[tcp + 12] >> 4) * 4:]
        if payload:
            fh.write(len(payload).to_bytes(4, "big") + payload)
'''


def test_no_credential_crosses_the_backend_network_in_clear(client):
    """Capture the backends' registry port while docker logs in and pulls through the proxy."""
    ref = f"{NAME}/dockyard/trust:{uuid.uuid4().hex[:8]}"
    client.check_output(f"cd /root && rm -rf ctx && mkdir ctx && head -c 2048 /dev/urandom > ctx/f && "
                        f"printf 'FROM scratch\\nCOPY f /f\\n' > ctx/Dockerfile && docker build -q -t {ref} ctx >/dev/null "
                        f"&& docker push {ref} >/dev/null && docker image rm {ref} >/dev/null")
    sniffers = {}
    for backend in BACKENDS:
        host = lab_host(backend)
        put(host, "/root/sniff.py", SNIFFER)
        host.check_output("nohup python3 /root/sniff.py 5000 25 /root/capture.bin >/dev/null 2>&1 & echo started")
        sniffers[backend] = host
    try:
        client.check_output(f"for i in 1 2 3; do docker pull -q {ref} >/dev/null && docker image rm {ref} >/dev/null; done")
        login = client.run(f"printf %s {shlex.quote(PASSWORD)} | docker --config /root/trust-login login "
                           f"--username ci --password-stdin {NAME}")
        assert login.rc == 0, login.stderr
    finally:
        client.run("rm -rf /root/trust-login /root/ctx")
    needles = [b"Authorization", b"authorization", PASSWORD.encode(),
               base64.b64encode(f"ci:{PASSWORD}".encode()), b"GET /v2/", b"HTTP/1.1"]
    total = 0
    for backend, host in sniffers.items():
        host.run("sleep 26")  # the sniffer stops by itself
        data = host.check_output("python3 -c \"import sys; sys.stdout.write(open('/root/capture.bin','rb').read().hex())\"")
        raw = bytes.fromhex(data)
        host.run("rm -f /root/capture.bin /root/sniff.py")
        total += len(raw)
        for needle in needles:
            assert needle not in raw, f"{needle!r} crossed the wire to {backend} in clear"
        # what did cross: TLS records (application data: 0x17 0x03 0x03 at the start of a segment)
        segments, i = [], 0
        while i + 4 <= len(raw):
            size = int.from_bytes(raw[i:i + 4], "big")
            segments.append(raw[i + 4:i + 4 + size])
            i += 4 + size
        if segments:
            assert any(s.startswith(b"\x17\x03\x03") for s in segments), \
                f"no TLS application data to {backend}: {[s[:8] for s in segments[:5]]}"
    assert total > 0, "the capture saw no traffic at all: the test proves nothing"


def _verify(host, cert_path):
    return host.run(f"openssl verify -CAfile {CERTS_D_CA} {cert_path}")


def test_a_certificate_for_another_site_fails_verification_on_the_client(client):
    key, cert = forge(["www.example.org"])
    put(client, "/root/forged/cert.pem", cert)
    put(client, "/root/forged/key.pem", key)
    try:
        forged = _verify(client, "/root/forged/cert.pem")
        assert forged.rc != 0 and "permitted subtree violation" in forged.stdout + forged.stderr, forged.stdout
        # The registry's own certificate passes against the same CA file.
        client.check_output(f"echo | openssl s_client -connect {NAME}:443 -servername {NAME} 2>/dev/null "
                            "| openssl x509 > /root/forged/registry.pem")
        good = _verify(client, "/root/forged/registry.pem")
        assert good.rc == 0, good.stdout + good.stderr
    finally:
        client.run("rm -rf /root/forged")


GO_SERVER = r'''
import http.server, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv = http.server.HTTPServer(("0.0.0.0", 8443), http.server.BaseHTTPRequestHandler)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.timeout = 20
srv.handle_request()
'''


def test_go_clients_refuse_the_forged_certificate_too(client):
    """skopeo (Go's crypto/x509, as docker and containerd) with the lab CA as its only trust."""
    key, cert = forge(["www.example.org"])
    put(client, "/root/forged/cert.pem", cert)
    put(client, "/root/forged/key.pem", key)
    put(client, "/root/forged/server.py", GO_SERVER)
    client.check_output(f"mkdir -p /root/forged/certs && cp {CERTS_D_CA} /root/forged/certs/ca.crt")
    hosts = client.file("/etc/hosts").content_string
    try:
        client.check_output("echo \"$(hostname -i | cut -d' ' -f1) www.example.org\" >> /etc/hosts")
        client.check_output("nohup python3 /root/forged/server.py /root/forged/cert.pem /root/forged/key.pem "
                            ">/dev/null 2>&1 & sleep 1; echo started")
        res = client.run("timeout 30 skopeo inspect --cert-dir /root/forged/certs docker://www.example.org:8443/x/y:z")
        assert res.rc != 0
        err = res.stderr.lower()
        assert "x509" in err and ("not permitted" in err or "not authorized to sign" in err), res.stderr[-800:]
    finally:
        client.run(f"cat > /etc/hosts <<'EOF'\n{hosts}EOF")
        client.run("pkill -f /root/forged/server.py; rm -rf /root/forged")


def _ansible_playbook(*args):
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(PROJECT / ".cache" / "collections"), ANSIBLE_NOCOLOR="1")
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(EPHEMERAL / "inventory")] + list(args)
    return subprocess.run(cmd, cwd=str(PROJECT), env=env, capture_output=True, text=True, timeout=900, check=False)


def test_a_missing_ca_directory_stops_the_run_before_any_change():
    proxy = lab_host("proxy")
    before = proxy.file("/etc/dockyard/tls/registry.crt").content_string
    moved = CA_DIR.with_name(".dockyard-ca.moved-by-test")
    shutil.move(str(CA_DIR), str(moved))
    try:
        proc = _ansible_playbook(str(PROJECT / "playbooks" / "site.yml"), "--tags", "ca")
        assert proc.returncode != 0
        assert "has no ca.key/ca.crt" in proc.stdout and "ca_force_rotate" in proc.stdout, proc.stdout[-3000:]
        assert not CA_DIR.joinpath("ca.key").exists()
        assert proxy.file("/etc/dockyard/tls/registry.crt").content_string == before
    finally:
        if CA_DIR.exists():
            shutil.rmtree(CA_DIR)
        shutil.move(str(moved), str(CA_DIR))
