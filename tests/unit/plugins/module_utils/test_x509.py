# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Decisions of plugins/module_utils/_x509.py, with certificates made here and ``now`` injected."""

from __future__ import annotations

import datetime

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.dockyard.registry.plugins.module_utils import _x509

NOW = datetime.datetime(2030, 6, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)
SANS = ("DNS:registry.example.com", "IP:192.0.2.10", "DNS:proxy1")


@pytest.fixture(scope="module")
def ca_key():
    return _x509.generate_private_key("ecdsa-p256")


@pytest.fixture(scope="module")
def ca_subject():
    return _x509.parse_subject({"CN": "Test registry CA"})


@pytest.fixture(scope="module")
def ca_cert(ca_key, ca_subject):
    return _x509.build_ca_certificate(ca_key, ca_subject, 3650, NOW)


@pytest.fixture(scope="module")
def server_key():
    return _x509.generate_private_key("ecdsa-p256")


@pytest.fixture(scope="module")
def rsa_key():
    return _x509.generate_private_key("rsa-2048")


def server_subject():
    return _x509.parse_subject({"commonName": "registry.example.com"})


def make_csr(key, sans=SANS, subject=None):
    names = _x509.parse_sans(sans)[0]
    return _x509.build_csr(key, subject if subject is not None else server_subject(), names)


def issue(key, ca_cert, ca_key, sans=SANS, validity=365, now=NOW):
    return _x509.sign_csr(make_csr(key, sans), ca_cert, ca_key, validity, now)[0]


def plan(cert, key, ca_cert, sans=SANS, validity=365, renew=30, now=NOW, **kwargs):
    names = _x509.parse_sans(sans)[0]
    return _x509.plan_certificate(cert, key, ca_cert, server_subject(), names, validity, renew, now, **kwargs)


def ext(cert, cls):
    return cert.extensions.get_extension_for_class(cls)


# ---------------------------------------------------------------------------------------------
# keys
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key_type", ["ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072"])
def test_generate_key_round_trips_its_type(key_type):
    key = _x509.generate_private_key(key_type)
    assert _x509.key_type_of(key) == key_type
    loaded = _x509.load_private_key(_x509.dump_private_key(key))
    assert _x509.key_type_of(loaded) == key_type
    assert _x509.public_keys_match(key.public_key(), loaded.public_key())


def test_key_types_cover_the_documented_choices():
    assert _x509.KEY_TYPES == ("ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096")
    assert _x509.DEFAULT_KEY_TYPE == "ecdsa-p256"


def test_unknown_key_type_is_refused():
    with pytest.raises(ValueError, match="unsupported key type 'dsa-1024'"):
        _x509.generate_private_key("dsa-1024")


def test_key_type_of_describes_foreign_keys():
    assert _x509.key_type_of(ec.generate_private_key(ec.SECP521R1())) == "ecdsa-p521"


@pytest.mark.parametrize("data", [b"", b"hello", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])
def test_a_file_that_is_not_a_key_is_refused(data):
    with pytest.raises(ValueError, match="is not a PEM private key"):
        _x509.load_private_key(data, what="/etc/x/registry.key")


def test_a_corrupt_pem_key_is_refused():
    data = b"-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"
    with pytest.raises(ValueError, match="is not a valid PEM private key"):
        _x509.load_private_key(data)


def test_passphrase_protected_key(ca_key):
    pem = _x509.dump_private_key(ca_key, "s3cret")
    assert _x509.is_encrypted_pem(pem)
    assert b"s3cret" not in pem
    loaded = _x509.load_private_key(pem, "s3cret")
    assert _x509.public_keys_match(loaded.public_key(), ca_key.public_key())
    with pytest.raises(_x509.PassphraseError, match="a passphrase is required"):
        _x509.load_private_key(pem)
    with pytest.raises(_x509.PassphraseError, match="wrong passphrase"):
        _x509.load_private_key(pem, "wrong")


def test_passphrase_for_an_unencrypted_key_is_ignored(ca_key):
    pem = _x509.dump_private_key(ca_key)
    assert not _x509.is_encrypted_pem(pem)
    assert _x509.key_type_of(_x509.load_private_key(pem, "unused")) == "ecdsa-p256"


def test_not_a_certificate_or_csr_is_refused(ca_key):
    with pytest.raises(ValueError, match="is not a PEM certificate"):
        _x509.load_certificate(_x509.dump_private_key(ca_key))
    with pytest.raises(ValueError, match="not a valid PEM certificate"):
        _x509.load_certificate(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(ValueError, match="certificate signing request"):
        _x509.load_csr("garbage")


def test_a_csr_with_a_bad_signature_is_refused(server_key):
    from cryptography.hazmat.primitives.serialization import Encoding
    der = bytearray(make_csr(server_key).public_bytes(Encoding.DER))
    der[-1] ^= 0x01  # last byte of the signature's s value: still DER, no longer a valid signature
    forged = x509.load_der_x509_csr(bytes(der))
    with pytest.raises(ValueError, match="invalid signature"):
        _x509.load_csr(forged.public_bytes(Encoding.PEM))


# ---------------------------------------------------------------------------------------------
# names
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("entry, expected", [
    ("registry.example.com", "DNS:registry.example.com"),
    ("DNS:Registry.Example.COM.", "DNS:registry.example.com"),
    ("dns: registry.example.com ", "DNS:registry.example.com"),
    ("*.example.com", "DNS:*.example.com"),
    ("localhost", "DNS:localhost"),
    ("xn--bcher-kva.example", "DNS:xn--bcher-kva.example"),
    ("192.0.2.10", "IP:192.0.2.10"),
    ("IP:192.0.2.10", "IP:192.0.2.10"),
    ("ip:2001:DB8::1", "IP:2001:db8::1"),
    ("::1", "IP:::1"),
    ("abcd::1", "IP:abcd::1"),
])
def test_san_entries_are_parsed_and_normalised(entry, expected):
    assert _x509.san_string(_x509.parse_san(entry)) == expected


@pytest.mark.parametrize("entry, message", [
    ("IP:300.1.1.1", "invalid IP address"),
    ("IP:registry.example.com", "invalid IP address"),
    ("IP:fe80::1%eth0", "scoped IPv6"),
    ("DNS:192.0.2.10", "is an IP address: write it as IP:192.0.2.10"),
    ("10.0.0.256", "neither a valid IP address nor a valid DNS name"),
    ("1.2.3", "neither a valid IP address nor a valid DNS name"),
    ("proxy_1.example.com", "underscores are not allowed"),
    ("-bad.example.com", "label '-bad'"),
    ("bad-.example.com", "label 'bad-'"),
    ("a..example.com", "label ''"),
    ("foo.*.example.com", "label '\\*'"),
    ("*", "label '\\*'"),
    ("DNS:", "empty DNS name"),
    ("", "empty DNS name"),
    ("a" * 64 + ".example.com", "must be 1-63"),
    (".".join(["abcdefghij"] * 25), "longer than 253"),
    ("bücher.example", "IDNA"),
    ("email:admin@example.com", "only DNS: and IP: are supported"),
    ("URI:https://example.com", "only DNS: and IP: are supported"),
    ("registry example.com", "label"),
])
def test_invalid_san_entries_are_refused_clearly(entry, message):
    with pytest.raises(ValueError, match=message):
        _x509.parse_san(entry)


def test_non_string_san_is_refused():
    with pytest.raises(ValueError, match="must be strings"):
        _x509.parse_san(42)


def test_parse_sans_deduplicates_and_skips_bad_discovered_names():
    names, dropped = _x509.parse_sans(
        ["registry.example.com", "IP:192.0.2.10", "REGISTRY.example.com."],
        ["proxy1", "192.0.2.10", "proxy_1", "", None, "proxy1.example.com"])
    assert _x509.san_strings(names) == ["DNS:registry.example.com", "IP:192.0.2.10", "DNS:proxy1",
                                        "DNS:proxy1.example.com"]
    assert len(dropped) == 1 and "proxy_1" in dropped[0]


def test_parse_sans_strict_entries_fail():
    with pytest.raises(ValueError, match="underscores"):
        _x509.parse_sans(["proxy_1"], ["fine.example.com"])


def test_parse_subject_accepts_short_and_long_names_in_a_fixed_order():
    name = _x509.parse_subject({"CN": "registry.example.com", "organizationName": "Example", "c": "DE",
                                "OU": "", "ST": None})
    assert [a.oid for a in name] == [NameOID.COUNTRY_NAME, NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME]
    assert name.rfc4514_string() == "CN=registry.example.com,O=Example,C=DE"


@pytest.mark.parametrize("subject, message", [
    ({"foo": "bar"}, "unsupported subject attribute 'foo'"),
    ({"CN": "a", "commonName": "b"}, "given twice"),
    ({"C": "Germany"}, "two-letter"),
    ({"CN": "x" * 65}, "longer than 64"),
    ("CN=x", "must be a dict"),
])
def test_bad_subjects_are_refused(subject, message):
    with pytest.raises(ValueError, match=message):
        _x509.parse_subject(subject)


def test_default_server_subject_is_the_first_dns_name():
    names = _x509.parse_sans(["IP:192.0.2.1", "registry.example.com", "other.example.com"])[0]
    assert _x509.default_server_subject(names).rfc4514_string() == "CN=registry.example.com"
    names = _x509.parse_sans(["IP:192.0.2.1"])[0]
    assert len(_x509.default_server_subject(names)) == 0
    names = _x509.parse_sans(["a" * 60 + ".example.com"])[0]
    assert len(_x509.default_server_subject(names)) == 0


# ---------------------------------------------------------------------------------------------
# building and signing
# ---------------------------------------------------------------------------------------------

def test_ca_certificate_extensions(ca_cert, ca_key, ca_subject):
    assert ca_cert.subject == ca_subject == ca_cert.issuer
    bc = ext(ca_cert, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = ext(ca_cert, x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert not ku.value.digital_signature and not ku.value.key_encipherment
    ski = ext(ca_cert, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    assert ext(ca_cert, x509.AuthorityKeyIdentifier).value.key_identifier == ski.digest
    assert _x509.is_issued_by(ca_cert, ca_cert)
    assert _x509.not_after(ca_cert) == NOW + 3650 * DAY
    assert _x509.not_before(ca_cert) == NOW - _x509.BACKDATE


def test_ca_path_length_none_and_p384_hash():
    key = _x509.generate_private_key("ecdsa-p384")
    cert = _x509.build_ca_certificate(key, _x509.parse_subject({"CN": "x"}), 10, NOW, path_length=None)
    assert ext(cert, x509.BasicConstraints).value.path_length is None
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA384)


def test_ca_needs_a_subject_and_a_validity(ca_key):
    with pytest.raises(ValueError, match="must not be empty"):
        _x509.build_ca_certificate(ca_key, _x509.parse_subject({}), 10, NOW)
    with pytest.raises(ValueError, match="at least 1"):
        _x509.build_ca_certificate(ca_key, _x509.parse_subject({"CN": "x"}), 0, NOW)


def test_csr_needs_sans(server_key):
    with pytest.raises(ValueError, match="at least one subject_alt_name"):
        _x509.build_csr(server_key, server_subject(), [])


def test_signed_server_certificate(ca_cert, ca_key, server_key):
    cert, warnings = _x509.sign_csr(make_csr(server_key), ca_cert, ca_key, 90, NOW, expected_sans=SANS)
    assert warnings == []
    assert cert.subject == server_subject()
    assert cert.issuer == ca_cert.subject
    assert _x509.certificate_sans(cert) == list(SANS)
    bc = ext(cert, x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    ku = ext(cert, x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_encipherment
    assert not ku.value.key_cert_sign
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not ext(cert, x509.SubjectAlternativeName).critical
    ca_ski = ext(ca_cert, x509.SubjectKeyIdentifier).value
    assert ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == ca_ski.digest
    assert ext(cert, x509.SubjectKeyIdentifier).value == x509.SubjectKeyIdentifier.from_public_key(
        server_key.public_key())
    assert _x509.public_keys_match(cert.public_key(), server_key.public_key())
    assert _x509.is_issued_by(cert, ca_cert)
    assert _x509.not_after(cert) == NOW + 90 * DAY
    assert _x509.has_server_auth(cert)
    info = _x509.describe_certificate(cert)
    assert info["subject_alt_name"] == list(SANS) and info["not_after"] == "2030-08-30T12:00:00Z"
    assert info["key_type"] == "ecdsa-p256" and len(info["fingerprint"]) == 95


def test_masked_secrets_finds_a_no_log_value_in_the_pem_or_the_metadata(ca_cert, ca_key, server_key):
    cert, _warnings = _x509.sign_csr(make_csr(server_key), ca_cert, ca_key, 90, NOW, expected_sans=SANS)
    pem = _x509.dump_certificate(cert).decode("ascii")
    body = pem.splitlines()[3]
    fingerprint = _x509.describe_certificate(cert)["fingerprint"]
    assert _x509.masked_secrets(cert, [body[10:14], "no such text!", ""]) == [body[10:14]]
    assert _x509.masked_secrets(cert, [fingerprint[:5]]) == [fingerprint[:5]]
    assert _x509.masked_secrets(cert, [None, "registry.example.com"]) == ["registry.example.com"]


def test_issue_unmasked_issues_again_until_the_secret_is_gone(ca_cert, ca_key, server_key):
    csr = make_csr(server_key)
    issued = [_x509.sign_csr(csr, ca_cert, ca_key, 90, NOW, expected_sans=SANS) for _attempt in range(3)]
    # A "secret" that occurs in the first two certificates only: the third one is returned.
    first_two = [_x509.dump_certificate(cert).decode("ascii").splitlines()[-2] for cert, _w in issued[:2]]
    serials = []

    def issue(serial):
        serials.append(serial)
        return issued[len(serials) - 1]

    cert, warnings = _x509.issue_unmasked(issue, first_two)
    assert cert is issued[2][0] and warnings == []
    assert not _x509.masked_secrets(cert, first_two)
    assert [(serial.bit_length() + 1) // 8 for serial in serials] == [20, 19, 18]  # DER octets


def test_issue_unmasked_gives_up_with_a_clear_error(ca_cert, ca_key):
    # The CA's own name is in every certificate it issues: no retry can remove it.
    with pytest.raises(_x509.MaskedSecretError, match="every one of 3 certificates issued contained the CA key"):
        _x509.issue_unmasked(lambda serial: ca_cert, ["Test"], attempts=3)


@pytest.mark.parametrize("attempt, octets", [(0, 20), (1, 19), (2, 18), (3, 20), (11, 18)])
def test_random_serial_lengths_shift_the_pem(ca_key, ca_subject, attempt, octets):
    serials = {_x509.random_serial(attempt) for _round in range(50)}
    assert len(serials) == 50 and all(serial > 0 for serial in serials)
    assert {serial.bit_length() for serial in serials} == {8 * octets - 1}  # 0x40 bit set, sign bit clear
    cert = _x509.build_ca_certificate(ca_key, ca_subject, 10, NOW, serial=serials.pop())
    assert cert.serial_number.bit_length() == 8 * octets - 1


def test_rsa_server_certificate_gets_key_encipherment(ca_cert, ca_key, rsa_key):
    cert = issue(rsa_key, ca_cert, ca_key)
    assert ext(cert, x509.KeyUsage).value.key_encipherment


def test_empty_subject_makes_the_san_critical(ca_cert, ca_key, server_key):
    csr = make_csr(server_key, subject=_x509.parse_subject({}))
    cert = _x509.sign_csr(csr, ca_cert, ca_key, 30, NOW)[0]
    assert ext(cert, x509.SubjectAlternativeName).critical


def test_signing_caps_not_after_at_the_ca(ca_key, server_key):
    short_ca = _x509.build_ca_certificate(ca_key, _x509.parse_subject({"CN": "short"}), 100, NOW)
    cert, warnings = _x509.sign_csr(make_csr(server_key), short_ca, ca_key, 365, NOW)
    assert _x509.not_after(cert) == _x509.not_after(short_ca)
    assert "capped" in warnings[0]


def test_signing_refuses_unexpected_sans(ca_cert, ca_key, server_key):
    with pytest.raises(ValueError, match="CSR asks for SANs"):
        _x509.sign_csr(make_csr(server_key), ca_cert, ca_key, 90, NOW, expected_sans=["registry.example.com"])
    # order and spelling do not matter
    _x509.sign_csr(make_csr(server_key), ca_cert, ca_key, 90, NOW,
                   expected_sans=["proxy1", "192.0.2.10", "REGISTRY.example.com"])


def test_signing_refuses_a_csr_without_sans(ca_cert, ca_key, server_key):
    csr = x509.CertificateSigningRequestBuilder().subject_name(server_subject()).sign(server_key, hashes.SHA256())
    with pytest.raises(ValueError, match="no subjectAltName"):
        _x509.sign_csr(csr, ca_cert, ca_key, 90, NOW)


def test_signing_refuses_other_san_types(ca_cert, ca_key, server_key):
    csr = (x509.CertificateSigningRequestBuilder().subject_name(server_subject())
           .add_extension(x509.SubjectAlternativeName([x509.RFC822Name("a@example.com")]), critical=False)
           .sign(server_key, hashes.SHA256()))
    with pytest.raises(ValueError, match="unsupported SAN"):
        _x509.sign_csr(csr, ca_cert, ca_key, 90, NOW)


def test_signing_refuses_a_ca_certificate_that_does_not_match_its_key(ca_cert, server_key):
    with pytest.raises(ValueError, match="does not match the CA private key"):
        _x509.sign_csr(make_csr(server_key), ca_cert, server_key, 90, NOW)


def test_signing_refuses_a_non_ca(ca_cert, ca_key, server_key):
    leaf = issue(server_key, ca_cert, ca_key)
    with pytest.raises(ValueError, match="not a CA certificate"):
        _x509.sign_csr(make_csr(server_key), leaf, server_key, 90, NOW)


def test_signing_refuses_an_expired_ca(ca_key, server_key):
    old_ca = _x509.build_ca_certificate(ca_key, _x509.parse_subject({"CN": "old"}), 10, NOW - 20 * DAY)
    with pytest.raises(ValueError, match="expired on"):
        _x509.sign_csr(make_csr(server_key), old_ca, ca_key, 90, NOW)


def test_signing_refuses_a_bad_validity(ca_cert, ca_key, server_key):
    with pytest.raises(ValueError, match="at least 1"):
        _x509.sign_csr(make_csr(server_key), ca_cert, ca_key, 0, NOW)


def test_prepare_signing_describes_without_signing(ca_cert, ca_key, server_key):
    sans, start, end, warnings = _x509.prepare_signing(make_csr(server_key), ca_cert, ca_key, 30, NOW)
    assert _x509.san_strings(sans) == list(SANS) and end - start == 30 * DAY + _x509.BACKDATE and not warnings


@pytest.mark.parametrize("validity, renew, message", [
    (365, 365, "must be shorter than validity_days"),
    (30, 400, "must be shorter than validity_days"),
    (0, 0, "at least 1"),
    (365, -1, "0 or more"),
    (None, 1, "at least 1"),
])
def test_renew_before_longer_than_validity_is_refused(validity, renew, message):
    with pytest.raises(ValueError, match=message):
        _x509.validate_timing(validity, renew)


def test_validate_timing_accepts_sane_values():
    _x509.validate_timing(365, 30)
    _x509.validate_timing(1, 0)


# ---------------------------------------------------------------------------------------------
# reissue decisions for the server certificate
# ---------------------------------------------------------------------------------------------

def test_fresh_matching_certificate_needs_nothing(ca_cert, ca_key, server_key):
    cert = issue(server_key, ca_cert, ca_key)
    result = plan(cert, server_key, ca_cert)
    assert (result.reissue, result.reasons, result.warnings) == (False, [], [])


def test_missing_certificate(ca_cert, server_key):
    result = plan(None, server_key, ca_cert)
    assert result.reissue and result.reasons == ["certificate missing"]


def test_expires_within_renew_before(ca_cert, ca_key, server_key):
    cert = issue(server_key, ca_cert, ca_key)
    assert not plan(cert, server_key, ca_cert, now=NOW + 334 * DAY).reissue
    result = plan(cert, server_key, ca_cert, now=NOW + 336 * DAY)
    assert result.reissue and result.reasons == ["expires within 30 days (on 2031-06-01T12:00:00Z)"]


def test_expired(ca_cert, ca_key, server_key):
    cert = issue(server_key, ca_cert, ca_key)
    result = plan(cert, server_key, ca_cert, now=NOW + 366 * DAY)
    assert result.reasons == ["expired on 2031-06-01T12:00:00Z"]


def test_raising_renew_before_reissues_exactly_once(ca_cert, ca_key, server_key):
    cert = issue(server_key, ca_cert, ca_key)
    later = NOW + 200 * DAY  # 165 days left
    assert not plan(cert, server_key, ca_cert, renew=30, now=later).reissue
    assert plan(cert, server_key, ca_cert, renew=180, now=later).reissue
    new = issue(server_key, ca_cert, ca_key, now=later)
    assert not plan(new, server_key, ca_cert, renew=180, now=later).reissue
    assert not plan(new, server_key, ca_cert, renew=180, now=later + DAY).reissue


def test_lowering_validity_reissues_exactly_once(ca_cert, ca_key, server_key):
    cert = issue(server_key, ca_cert, ca_key, validity=365)
    result = plan(cert, server_key, ca_cert, validity=90)
    assert result.reasons == ["validity is 365 days, wanted 90"]
    new = issue(server_key, ca_cert, ca_key, validity=90, now=NOW + DAY)
    assert not plan(new, server_key, ca_cert, validity=90, now=NOW + DAY).reissue
    assert not plan(new, server_key, ca_cert, validity=90, now=NOW + 30 * DAY).reissue


def test_raising_validity_reissues_too(ca_cert, ca_key, server_key):
    cert = issue(server_key, ca_cert, ca_key, validity=90)
    assert plan(cert, server_key, ca_cert, validity=365).reasons == ["validity is 90 days, wanted 365"]


def test_sans_differ(ca_cert, ca_key, server_key):
    cert = issue(server_key, ca_cert, ca_key)
    result = plan(cert, server_key, ca_cert, sans=["registry.example.com", "IP:192.0.2.11", "proxy1"])
    assert result.reasons == ["SANs differ: add IP:192.0.2.11; remove IP:192.0.2.10"]
    assert plan(cert, server_key, ca_cert, sans=list(SANS) + ["mirror.example.com"]).reasons == [
        "SANs differ: add DNS:mirror.example.com"]


def test_san_order_and_case_do_not_reissue(ca_cert, ca_key, server_key):
    cert = issue(server_key, ca_cert, ca_key)
    assert not plan(cert, server_key, ca_cert, sans=["proxy1", "192.0.2.10", "Registry.Example.com."]).reissue


def test_key_does_not_match(ca_cert, ca_key, server_key, rsa_key):
    cert = issue(server_key, ca_cert, ca_key)
    assert plan(cert, rsa_key, ca_cert).reasons == ["certificate does not match the private key"]


def test_key_replaced(ca_cert, ca_key, server_key):
    cert = issue(server_key, ca_cert, ca_key)
    result = plan(cert, None, ca_cert, key_replaced=True)
    assert result.reasons == ["private key replaced"]


def test_issued_by_a_different_ca_with_another_name(ca_cert, ca_key, server_key):
    other_key = _x509.generate_private_key("ecdsa-p256")
    other = _x509.build_ca_certificate(other_key, _x509.parse_subject({"CN": "Other CA"}), 3650, NOW)
    cert = issue(server_key, other, other_key)
    assert plan(cert, server_key, ca_cert).reasons == [
        "issued by a different CA (issuer 'CN=Other CA', CA 'CN=Test registry CA')"]


def test_issued_by_a_different_ca_with_the_same_name(ca_cert, ca_subject, server_key):
    """A rotated CA keeps its name; only the signature tells the certificates apart."""
    other_key = _x509.generate_private_key("ecdsa-p256")
    twin = _x509.build_ca_certificate(other_key, ca_subject, 3650, NOW)
    cert = issue(server_key, twin, other_key)
    assert plan(cert, server_key, ca_cert).reasons[0].startswith("issued by a different CA")
    assert not _x509.is_issued_by(cert, ca_cert)


def test_issuer_check_works_with_an_rsa_ca(server_key):
    rsa_ca_key = _x509.generate_private_key("rsa-2048")
    rsa_ca = _x509.build_ca_certificate(rsa_ca_key, _x509.parse_subject({"CN": "RSA CA"}), 100, NOW)
    cert = issue(server_key, rsa_ca, rsa_ca_key)
    assert _x509.is_issued_by(cert, rsa_ca)
    assert not plan(cert, server_key, rsa_ca, validity=365).reasons[:1] == ["issued by a different CA"]


def test_issuer_not_checked_without_a_ca_certificate(ca_cert, ca_key, server_key):
    cert = issue(server_key, ca_cert, ca_key)
    assert not plan(cert, server_key, None).reissue


def test_a_certificate_without_server_auth_is_reissued(ca_cert, ca_key, server_key):
    """Like the recipe's hand-made certificate: CA-signed, no EKU, no SANs."""
    cert = (x509.CertificateBuilder().subject_name(server_subject()).issuer_name(ca_cert.subject)
            .public_key(server_key.public_key()).serial_number(1)
            .not_valid_before(NOW).not_valid_after(NOW + 365 * DAY).sign(ca_key, hashes.SHA256()))
    result = plan(cert, server_key, ca_cert)
    assert result.reasons == [
        "extended key usage is none, wanted serverAuth only",
        "SANs differ: add DNS:registry.example.com, IP:192.0.2.10, DNS:proxy1",
    ]


def test_subject_differs(ca_cert, ca_key, server_key):
    csr = make_csr(server_key, subject=_x509.parse_subject({"CN": "old.example.com"}))
    cert = _x509.sign_csr(csr, ca_cert, ca_key, 365, NOW)[0]
    assert plan(cert, server_key, ca_cert).reasons == [
        "subject differs: 'CN=old.example.com' -> 'CN=registry.example.com'"]


def test_several_reasons_are_all_reported(ca_cert, ca_key, server_key, rsa_key):
    cert = issue(server_key, ca_cert, ca_key)
    result = plan(cert, rsa_key, ca_cert, sans=["registry.example.com"], now=NOW + 340 * DAY)
    assert result.reasons == [
        "certificate does not match the private key",
        "SANs differ: remove IP:192.0.2.10, DNS:proxy1",
        "expires within 30 days (on 2031-06-01T12:00:00Z)",
    ]


def test_a_certificate_capped_at_an_expiring_ca_is_not_reissued_in_a_loop(ca_key, server_key):
    ca = _x509.build_ca_certificate(ca_key, _x509.parse_subject({"CN": "short"}), 100, NOW)
    cert = _x509.sign_csr(make_csr(server_key), ca, ca_key, 365, NOW)[0]
    # shorter than wanted, but only because of the CA: no reissue
    assert not plan(cert, server_key, ca).reissue
    # within renew_before: reissuing cannot help, so warn instead
    result = plan(cert, server_key, ca, now=NOW + 80 * DAY)
    assert not result.reissue and "together with the CA certificate" in result.warnings[0]


def test_a_certificate_not_valid_yet_warns(ca_cert, ca_key, server_key):
    cert = issue(server_key, ca_cert, ca_key, now=NOW + DAY)
    result = plan(cert, server_key, ca_cert, now=NOW)
    assert not result.reissue and "check the clocks" in result.warnings[0]


def test_plan_certificate_refuses_bad_timing(ca_cert, server_key):
    with pytest.raises(ValueError, match="shorter than validity_days"):
        plan(None, server_key, ca_cert, validity=30, renew=30)


def test_plan_certificate_accepts_general_names(ca_cert, ca_key, server_key):
    cert = issue(server_key, ca_cert, ca_key)
    names = _x509.parse_sans(SANS)[0]
    assert not _x509.plan_certificate(cert, server_key, ca_cert, None, names, 365, 30, NOW).reissue


# ---------------------------------------------------------------------------------------------
# server key decisions
# ---------------------------------------------------------------------------------------------

def test_server_key_missing():
    assert _x509.plan_server_key(None, "ecdsa-p256") == (True, ["private key missing"])


def test_server_key_kept(server_key):
    assert _x509.plan_server_key(server_key, "ecdsa-p256") == (False, [])


@pytest.mark.parametrize("wanted, reason", [
    ("rsa-2048", "key type changed: ecdsa-p256 -> rsa-2048"),
    ("ecdsa-p384", "key type changed: ecdsa-p256 -> ecdsa-p384"),
])
def test_server_key_type_changed(server_key, wanted, reason):
    assert _x509.plan_server_key(server_key, wanted) == (True, [reason])


def test_server_key_size_changed(rsa_key):
    assert _x509.plan_server_key(rsa_key, "rsa-3072") == (True, ["key type changed: rsa-2048 -> rsa-3072"])


def test_server_key_forced(server_key):
    assert _x509.plan_server_key(server_key, "ecdsa-p256", force=True) == (True, ["force: true"])


# ---------------------------------------------------------------------------------------------
# CA decisions
# ---------------------------------------------------------------------------------------------

def plan_ca(key, cert, subject, key_type="ecdsa-p256", validity=3650, renew=180, now=NOW, **kwargs):
    return _x509.plan_ca(key, cert, key_type, subject, validity, renew, now, **kwargs)


def test_ca_missing_creates_key_and_certificate(ca_subject):
    result = plan_ca(None, None, ca_subject)
    assert result.generate_key and result.issue_certificate and result.needed
    assert result.reasons == ["CA private key missing", "CA certificate missing"]


def test_existing_matching_ca_is_left_alone(ca_key, ca_cert, ca_subject):
    result = plan_ca(ca_key, ca_cert, ca_subject, now=NOW + 100 * DAY)
    assert not result.needed and result.reasons == [] and result.warnings == []


def test_ca_certificate_missing_is_recreated_with_the_existing_key(ca_key, ca_subject):
    result = plan_ca(ca_key, None, ca_subject)
    assert not result.generate_key and result.issue_certificate
    assert "existing key" in result.reasons[0]


def test_ca_key_missing_is_refused(ca_cert, ca_subject):
    with pytest.raises(ValueError, match="private key is missing"):
        plan_ca(None, ca_cert, ca_subject)


def test_ca_certificate_not_matching_its_key_is_refused(ca_cert, ca_subject, server_key):
    with pytest.raises(ValueError, match="does not match the CA private key"):
        plan_ca(server_key, ca_cert, ca_subject)


def test_a_non_ca_certificate_is_refused(ca_cert, ca_key, server_key, ca_subject):
    leaf = issue(server_key, ca_cert, ca_key)
    with pytest.raises(ValueError, match="not a CA certificate"):
        plan_ca(server_key, leaf, ca_subject)


@pytest.mark.parametrize("change, fragment", [
    (dict(key_type="rsa-4096"), "the CA key is ecdsa-p256 but key_type is rsa-4096"),
    (dict(subject={"CN": "New name"}), "subject is 'CN=Test registry CA', wanted 'CN=New name'"),
    (dict(validity=10000), "validity is 3650 days, wanted 10000"),
    (dict(path_length=None), "path length is 0, wanted None"),
    (dict(renew=180, now=NOW + 3500 * DAY), "expires within 180 days"),
    (dict(now=NOW + 3651 * DAY), "expired on"),
])
def test_ca_drift_warns_and_never_rotates(ca_key, ca_cert, ca_subject, change, fragment):
    change = dict(change)
    subject = _x509.parse_subject(change.pop("subject")) if "subject" in change else ca_subject
    result = plan_ca(ca_key, ca_cert, subject, **change)
    assert not result.needed and result.reasons == []
    assert len(result.warnings) == 1 and fragment in result.warnings[0]


def test_reissue_certificate_resigns_with_the_existing_key(ca_key, ca_cert):
    result = plan_ca(ca_key, ca_cert, _x509.parse_subject({"CN": "New name"}), reissue_certificate=True)
    assert result.issue_certificate and not result.generate_key
    assert "re-signed with the existing key" in result.reasons[0]


def test_reissue_certificate_never_changes_the_key_type(ca_key, ca_cert, ca_subject):
    result = plan_ca(ca_key, ca_cert, ca_subject, key_type="rsa-2048", reissue_certificate=True)
    assert not result.needed and "not rotating" in result.warnings[0]


def test_reissue_certificate_without_drift_does_nothing(ca_key, ca_cert, ca_subject):
    assert not plan_ca(ca_key, ca_cert, ca_subject, reissue_certificate=True).needed


def test_force_rotates_everything(ca_key, ca_cert, ca_subject):
    result = plan_ca(ca_key, ca_cert, ca_subject, force=True)
    assert result.generate_key and result.issue_certificate and "force" in result.reasons[0]


def test_ca_timing_is_validated(ca_key, ca_cert, ca_subject):
    with pytest.raises(ValueError, match="CA renew_before_days"):
        plan_ca(ca_key, ca_cert, ca_subject, validity=100, renew=100)


def test_server_certificates_survive_a_ca_reissued_with_the_same_key(ca_key, ca_cert, ca_subject, server_key):
    cert = issue(server_key, ca_cert, ca_key)
    renewed_ca = _x509.build_ca_certificate(ca_key, ca_subject, 3650, NOW + 10 * DAY)
    assert _x509.is_issued_by(cert, renewed_ca)
    assert not plan(cert, server_key, renewed_ca, now=NOW + 10 * DAY).reissue


# ---------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------

def test_write_file_atomic_sets_mode_and_replaces(tmp_path):
    path = tmp_path / "registry.key"
    _x509.write_file_atomic(str(path), b"one", 0o600)
    assert path.read_bytes() == b"one" and (path.stat().st_mode & 0o777) == 0o600
    _x509.write_file_atomic(str(path), b"two", 0o644)
    assert path.read_bytes() == b"two" and (path.stat().st_mode & 0o777) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["registry.key"]
    assert _x509.read_file(str(tmp_path / "missing")) is None


def test_write_file_atomic_needs_the_directory(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        _x509.write_file_atomic(str(tmp_path / "nope" / "ca.key"), b"x", 0o600)
