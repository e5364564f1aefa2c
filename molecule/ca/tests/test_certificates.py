"""After converge + idempotence: where the CA and the proxy's key and certificate are, and what
the certificate says (checked with openssl and with cryptography)."""

from __future__ import annotations

import datetime
import ipaddress
import stat

from conftest import (CA_DIR, CLIENT, EPHEMERAL, NAME, PROXY, TLS_DIR, UNLISTED, ca_certificate, fingerprint,
                      lab_host, load_certificate, proxy_address, public_key_der, san_strings, server_certificate)
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID


def test_ca_is_on_the_controller_next_to_the_inventory():
    assert stat.S_IMODE(CA_DIR.stat().st_mode) == 0o700
    assert stat.S_IMODE((CA_DIR / "ca.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((CA_DIR / "ca.crt").stat().st_mode) == 0o644
    # Only the CA's own files and the trust bundle published for clients (the CA alone while no
    # rotation is under way): no CSR, no server key, no certificate copies.
    assert sorted(p.name for p in CA_DIR.iterdir()) == ["ca.crt", "ca.key", "trust-bundle.crt"]
    assert stat.S_IMODE((CA_DIR / "trust-bundle.crt").stat().st_mode) == 0o644
    ca = ca_certificate()
    bundle = x509.load_pem_x509_certificates((CA_DIR / "trust-bundle.crt").read_bytes())
    assert [fingerprint(c) for c in bundle] == [fingerprint(ca)]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_ca_fingerprint_unchanged_since_the_first_converge(first_ca_fingerprint):
    """The idempotence run (a second converge) kept the CA: same fingerprint as recorded first."""
    assert first_ca_fingerprint == fingerprint(ca_certificate())
    on_proxy = load_certificate(lab_host(PROXY).file(f"{TLS_DIR}/ca.crt").content_string)
    assert fingerprint(on_proxy) == first_ca_fingerprint


def test_server_key_stays_on_the_proxy():
    host = lab_host(PROXY)
    key = host.file(f"{TLS_DIR}/registry.key")
    assert key.is_file
    assert key.user == "root" and key.group == "root"
    assert key.mode == 0o600
    assert "PRIVATE KEY-----" in key.content_string
    assert "ENCRYPTED" not in key.content_string


def test_server_key_never_on_the_controller():
    """No registry.key under the CA directory (nor anywhere in molecule's ephemeral directory), and no
    private key there whose public half is the proxy certificate's."""
    assert not list(CA_DIR.rglob("registry.key"))
    assert not list(EPHEMERAL.rglob("registry.key"))
    server_public = public_key_der(server_certificate())
    for path in EPHEMERAL.rglob("*"):
        if not path.is_file() or path.is_symlink() or path.stat().st_size > 1_000_000:
            continue
        data = path.read_bytes()
        if b"PRIVATE KEY-----" not in data or b"ENCRYPTED" in data:
            continue
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except ValueError:
            continue  # not a usable PEM key (e.g. a text mentioning one)
        public = key.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        assert public != server_public, f"{path} holds the proxy's private key"


def test_openssl_verifies_the_certificate_against_the_controller_ca(tmp_path):
    """openssl verify -CAfile <controller ca.crt>, as a TLS server for the registry name and address."""
    host = lab_host(PROXY)
    ca_pem = (CA_DIR / "ca.crt").read_text()
    assert host.file(f"{TLS_DIR}/ca.crt").content_string.strip() == ca_pem.strip()
    cmd = (f"openssl verify -x509_strict -purpose sslserver -CAfile {TLS_DIR}/ca.crt {{check}} "
           f"{TLS_DIR}/registry.crt")
    for check in (f"-verify_hostname {NAME}", f"-verify_ip {proxy_address()}"):
        res = host.run(cmd.format(check=check))
        assert res.rc == 0, res.stdout + res.stderr
        assert res.stdout.strip() == f"{TLS_DIR}/registry.crt: OK"
    # A name that is not in the certificate fails the same check.
    res = host.run(cmd.format(check=f"-verify_hostname {UNLISTED}"))
    assert res.rc != 0
    assert "hostname mismatch" in res.stdout + res.stderr


def test_certificate_names():
    cert = server_certificate()
    sans = san_strings(cert)
    assert f"DNS:{NAME}" in sans
    assert f"IP:{ipaddress.ip_address(proxy_address())}" in sans
    assert f"DNS:{PROXY}" in sans  # discovered: inventory name / FQDN
    assert f"DNS:{UNLISTED}" not in sans and f"DNS:{CLIENT}" not in sans
    assert cert.subject.rfc4514_string() == f"CN={NAME}"


def test_certificate_usage_and_issuer():
    cert, ca = server_certificate(), ca_certificate()
    assert cert.issuer == ca.subject
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    # Default validity: 365 days from now (notBefore is backdated 5 minutes).
    now = datetime.datetime.now(datetime.timezone.utc)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert abs(lifetime - datetime.timedelta(days=365, minutes=5)) < datetime.timedelta(minutes=1)
    assert cert.not_valid_before_utc <= now < cert.not_valid_after_utc


def test_certificate_matches_the_key_on_the_proxy():
    host = lab_host(PROXY)
    from_key = host.check_output(f"openssl pkey -in {TLS_DIR}/registry.key -pubout")
    from_cert = host.check_output(f"openssl x509 -in {TLS_DIR}/registry.crt -noout -pubkey")
    assert from_key.strip() == from_cert.strip()
