"""X.509 name constraints: derivation, matching, the CA extension, signing refusals, and what a real
verifier (OpenSSL) makes of a certificate outside them."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _x509
from ansible_collections.dockyard.registry.plugins.module_utils._x509 import constraints

NOW = _x509.utcnow()
PERMITTED = ["DNS:registry.example.com", "DNS:proxy1", "IP:10.1.0.0/24", "IP:192.0.2.10"]


@pytest.mark.parametrize("entry, want", [
    ("registry.example.com", "DNS:registry.example.com"),
    ("DNS:Registry.Example.COM.", "DNS:registry.example.com"),
    ("DNS:.example.com", "DNS:.example.com"),
    ("10.1.0.7", "IP:10.1.0.7/32"),
    ("IP:10.1.0.7/24", "IP:10.1.0.0/24"),
    ("IP:2001:db8::/64", "IP:2001:db8::/64"),
])
def test_parse_constraint(entry, want):
    assert constraints.constraint_string(constraints.parse_constraint(entry)) == want


@pytest.mark.parametrize("entry", ["", "DNS:*.example.com", "IP:300.1.1.1", "DNS:under_score.example"])
def test_parse_constraint_refuses(entry):
    with pytest.raises(ValueError):
        constraints.parse_constraint(entry)


def test_derive_simplifies_and_skips_bad_inventory_names():
    got, skipped = constraints.derive(
        ["registry.example.com", "mirror.registry.example.com"],
        ["10.1.0.0/24", "10.1.0.5", "192.0.2.10", None, ""],
        lenient_names=["proxy1", "backend_1", "10.1.0.9", "", "proxy1"])
    assert got == ["DNS:proxy1", "DNS:registry.example.com", "IP:10.1.0.0/24", "IP:192.0.2.10/32"]
    assert len(skipped) == 1 and "backend_1" in skipped[0]


def ca(permitted):
    key = _x509.generate_private_key("ecdsa-p256")
    cert = _x509.build_ca_certificate(key, _x509.parse_subject({"CN": "Test CA"}), 3650, NOW,
                                      name_constraints=permitted)
    return key, cert


def test_the_extension_is_critical_and_excludes_unpermitted_ip_families():
    _key, cert = ca(PERMITTED)
    ext = cert.extensions.get_extension_for_class(_x509.constraints.x509.NameConstraints)
    assert ext.critical
    got = constraints.of_certificate(cert)
    assert got["permitted"] == ["DNS:proxy1", "DNS:registry.example.com", "IP:10.1.0.0/24", "IP:192.0.2.10/32"]
    assert got["excluded"] == ["IP:::/0"]


def sans(*names):
    return _x509.parse_sans(list(names))[0]


@pytest.mark.parametrize("name, allowed", [
    ("registry.example.com", True),
    ("b1.registry.example.com", True),
    ("*.registry.example.com", True),
    ("proxy1", True),
    ("www.example.org", False),
    ("example.com", False),
    ("evilregistry.example.com", False),
    ("IP:10.1.0.200", True),
    ("IP:192.0.2.10", True),
    ("IP:192.0.2.11", False),
    ("IP:2001:db8::1", False),
])
def test_outside(name, allowed):
    _key, cert = ca(PERMITTED)
    assert (constraints.outside(sans(name), cert) == []) is allowed


def test_a_ca_without_constraints_permits_everything():
    _key, cert = ca(None)
    assert constraints.of_certificate(cert) is None
    assert constraints.outside(sans("www.example.org", "IP:8.8.8.8"), cert) == []


def test_signing_outside_the_constraints_is_refused_with_the_way_out():
    key, cert = ca(PERMITTED)
    leaf_key = _x509.generate_private_key("ecdsa-p256")
    csr = _x509.build_csr(leaf_key, _x509.parse_subject({"CN": "www.example.org"}), sans("www.example.org"))
    with pytest.raises(ValueError, match=r"DNS:www\.example\.org is outside the CA's name constraints.*re-sign"):
        _x509.sign_csr(csr, cert, key, 30, NOW)


def test_changed_constraints_are_drift_until_reissue_is_allowed():
    key, cert = ca(PERMITTED)
    subject = _x509.parse_subject({"CN": "Test CA"})
    same = _x509.plan_ca(key, cert, "ecdsa-p256", subject, 3650, 180, NOW, name_constraints=list(reversed(PERMITTED)))
    assert not same.needed and same.warnings == []
    wider = PERMITTED + ["IP:10.2.0.0/24"]
    drift = _x509.plan_ca(key, cert, "ecdsa-p256", subject, 3650, 180, NOW, name_constraints=wider)
    assert not drift.needed and "name constraints are" in drift.warnings[0]
    resign = _x509.plan_ca(key, cert, "ecdsa-p256", subject, 3650, 180, NOW, name_constraints=wider,
                           reissue_certificate=True)
    assert resign.issue_certificate and not resign.generate_key
    unmanaged = _x509.plan_ca(key, cert, "ecdsa-p256", subject, 3650, 180, NOW)
    assert not unmanaged.needed and unmanaged.warnings == []


def _openssl_verify(tmp_path, ca_cert, leaf):
    (tmp_path / "ca.pem").write_bytes(_x509.dump_certificate(ca_cert))
    (tmp_path / "leaf.pem").write_bytes(_x509.dump_certificate(leaf))
    return subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "ca.pem"), str(tmp_path / "leaf.pem")],
                          capture_output=True, text=True, check=False)


def _forge(ca_key, ca_cert, name):
    """What a thief of the CA key could do: sign any name, bypassing every check of ours."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes  # pylint: disable=import-outside-toplevel
    leaf_key = _x509.generate_private_key("ecdsa-p256")
    return (x509.CertificateBuilder().subject_name(_x509.parse_subject({"CN": name})).issuer_name(ca_cert.subject)
            .public_key(leaf_key.public_key()).serial_number(7).not_valid_before(NOW)
            .not_valid_after(NOW + _x509.VALIDITY_TOLERANCE * 30)
            .add_extension(x509.SubjectAlternativeName(sans(name)), critical=False)
            .sign(ca_key, hashes.SHA256()))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_openssl_refuses_a_forged_certificate_outside_the_constraints(tmp_path):
    key, cert = ca(PERMITTED)
    forged = _openssl_verify(tmp_path, cert, _forge(key, cert, "www.example.org"))
    assert forged.returncode != 0 and "permitted subtree violation" in (forged.stdout + forged.stderr)
    good = _openssl_verify(tmp_path, cert, _forge(key, cert, "registry.example.com"))
    assert good.returncode == 0, good.stdout + good.stderr
