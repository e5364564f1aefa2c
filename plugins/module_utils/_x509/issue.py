# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: building and signing: CA certificates, CSRs, leaf certificates, serial numbers, and the
retry that keeps a no_log passphrase out of what a module returns."""

from __future__ import annotations

import datetime
import os

try:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa
except ImportError:
    pass  # common.HAS_CRYPTOGRAPHY is False: the modules fail with missing_required_lib first

from ansible_collections.dockyard.registry.plugins.module_utils._x509 import constraints
from ansible_collections.dockyard.registry.plugins.module_utils._x509.certs import (
    _extension, _usage_oid, describe_certificate, dump_certificate, is_ca_certificate)
from ansible_collections.dockyard.registry.plugins.module_utils._x509.common import BACKDATE, format_time, not_after
from ansible_collections.dockyard.registry.plugins.module_utils._x509.keys import _signature_hash, public_keys_match
from ansible_collections.dockyard.registry.plugins.module_utils._x509.names import normalize_dns_name, parse_sans, san_string, san_strings


def validate_timing(validity_days, renew_before_days, what="certificate"):
    """``renew_before`` must be shorter than the validity, else every run would reissue."""
    if validity_days is None or int(validity_days) < 1:
        raise ValueError("%s validity_days must be at least 1, got %r" % (what, validity_days))
    if renew_before_days is None or int(renew_before_days) < 0:
        raise ValueError("%s renew_before_days must be 0 or more, got %r" % (what, renew_before_days))
    if int(renew_before_days) >= int(validity_days):
        raise ValueError(
            "%s renew_before_days (%d) must be shorter than validity_days (%d): otherwise every run "
            "would reissue" % (what, int(renew_before_days), int(validity_days)))


def _ski(public_key):
    return x509.SubjectKeyIdentifier.from_public_key(public_key)


def random_serial(attempt=0):
    """A positive serial number of exactly 20, 19 or 18 octets (by ``attempt``): at least 142 random
    bits, and each length moves everything after the serial to another base64 alignment in the PEM."""
    raw = bytearray(os.urandom(20 - attempt % 3))
    raw[0] = (raw[0] & 0x3F) | 0x40  # no leading zero octet, no sign octet: the DER length is fixed
    return int.from_bytes(bytes(raw), "big")


def build_ca_certificate(key, subject, validity_days, now, path_length=0, serial=None, name_constraints=None):
    """Self-signed CA certificate: CA:TRUE (critical), keyCertSign + cRLSign (critical), SKI, AKI and,
    when ``name_constraints`` lists permitted names, a critical nameConstraints extension."""
    if int(validity_days) < 1:
        raise ValueError("CA validity_days must be at least 1, got %r" % validity_days)
    if len(subject) == 0:
        raise ValueError("the CA subject must not be empty")
    ski = _ski(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(serial or random_serial())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=int(validity_days)))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    )
    if name_constraints:
        builder = builder.add_extension(constraints.extension(name_constraints), critical=True)
    return builder.sign(key, _signature_hash(key))


def build_csr(key, subject, sans, usage="server"):
    """CSR carrying the subject and the SAN extension (what the signer copies into the certificate).
    A server certificate needs SANs (clients ignore the commonName); a client certificate may have none."""
    if not sans and usage == "server":
        raise ValueError("at least one subject_alt_name is required (clients ignore the commonName)")
    if not sans and len(subject) == 0:
        raise ValueError("a certificate without subject_alt_name needs a subject")
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=len(subject) == 0)
    return builder.sign(key, _signature_hash(key))


def check_ca_pair(ca_cert, ca_key):
    """Refuse a CA certificate that does not match its key or is not a CA."""
    if not public_keys_match(ca_cert.public_key(), ca_key.public_key()):
        raise ValueError("the CA certificate does not match the CA private key")
    if not is_ca_certificate(ca_cert):
        raise ValueError("the CA certificate is not a CA certificate (basicConstraints CA:TRUE missing)")


def csr_sans(csr):
    san = _extension(csr, x509.SubjectAlternativeName)
    if san is None:
        return []
    return list(san)


def prepare_signing(csr, ca_cert, ca_key, validity_days, now, expected_sans=None, usage="server"):
    """Check everything ``sign_csr`` needs and compute the validity window.

    Returns ``(sans, not_before, not_after, warnings)``. ``notAfter`` is capped at the CA's
    ``notAfter`` (with a warning). ``expected_sans`` (strings) guards against a CSR asking for other
    names than the caller meant. Used alone by check mode, which describes without signing.
    """
    warnings = []
    check_ca_pair(ca_cert, ca_key)
    ca_end = not_after(ca_cert)
    if ca_end <= now:
        raise ValueError("the CA certificate expired on %s: renew the CA first" % format_time(ca_end))
    if int(validity_days) < 1:
        raise ValueError("validity_days must be at least 1, got %r" % validity_days)
    _usage_oid(usage)
    sans = csr_sans(csr)
    if not sans and usage == "server":
        raise ValueError("the CSR has no subjectAltName: clients ignore the commonName, SANs are required")
    if not sans and len(csr.subject) == 0:
        raise ValueError("the CSR has neither a subject nor a subjectAltName")
    for name in sans:
        if not isinstance(name, (x509.DNSName, x509.IPAddress)):
            raise ValueError("the CSR asks for an unsupported SAN %s: only DNS and IP names are signed"
                             % san_string(name))
        if isinstance(name, x509.DNSName):
            normalize_dns_name(name.value)
    if expected_sans is not None:
        wanted = parse_sans(expected_sans)[0]
        if set(san_strings(wanted)) != set(san_strings(sans)):
            raise ValueError("the CSR asks for SANs %s but subject_alt_name is %s" % (
                ", ".join(sorted(san_strings(sans))), ", ".join(sorted(san_strings(wanted)))))
    refused = constraints.outside(sans, ca_cert)
    if refused:
        raise ValueError(
            "%s %s outside the CA's name constraints (%s): the CA cannot sign for %s. Widen the CA's "
            "permitted names and re-sign the CA certificate with the same key (clients that receive the new "
            "CA certificate keep trusting every certificate issued so far)"
            % (", ".join(refused), "is" if len(refused) == 1 else "are", constraints.describe(ca_cert),
               "it" if len(refused) == 1 else "them"))
    end = now + datetime.timedelta(days=int(validity_days))
    if end > ca_end:
        warnings.append("the certificate's notAfter is capped at the CA certificate's notAfter (%s); "
                        "renew the CA to issue certificates valid for %d days"
                        % (format_time(ca_end), int(validity_days)))
        end = ca_end
    return sans, now - BACKDATE, end, warnings


def sign_csr(csr, ca_cert, ca_key, validity_days, now, expected_sans=None, serial=None, usage="server"):
    """Issue a TLS server (``usage="server"``) or client certificate for ``csr``. Returns
    ``(certificate, warnings)``.

    The certificate copies the CSR's subject and DNS/IP SANs, and carries CA:FALSE, keyUsage
    digitalSignature (+ keyEncipherment for RSA server keys), one EKU (serverAuth or clientAuth),
    SKI and AKI (the CA's SKI). See ``prepare_signing`` for the checks and the validity window.
    """
    sans, start, end, warnings = prepare_signing(csr, ca_cert, ca_key, validity_days, now, expected_sans, usage)
    public_key = csr.public_key()
    is_rsa = isinstance(public_key, rsa.RSAPublicKey)
    ca_ski = _extension(ca_cert, x509.SubjectKeyIdentifier)
    if ca_ski is not None:
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski)
    else:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(serial or random_serial())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=is_rsa and usage == "server",
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([_usage_oid(usage)]), critical=False)
        .add_extension(_ski(public_key), critical=False)
        .add_extension(aki, critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=len(csr.subject) == 0)
    return builder.sign(ca_key, _signature_hash(ca_key)), warnings


# Ansible replaces every occurrence of a no_log value (here: the CA key's passphrase) in a module's
# result with "********". A returned PEM whose base64 happens to contain the passphrase would reach
# the role corrupted (a 2-character passphrase is inside ~16% of certificates), so a freshly issued
# certificate that contains one is issued again with a serial of another length (random_serial):
# that changes the signature and moves the constant parts (names, public key) to another base64
# alignment. A passphrase that still occurs in every attempt is refused with a clear error.
UNMASKED_ATTEMPTS = 12


class MaskedSecretError(ValueError):
    """Every certificate issued contained the text of a no_log value."""


def masked_secrets(cert, secrets):
    """The no_log values that occur in what a module returns about ``cert`` (PEM and metadata)."""
    returned = [dump_certificate(cert).decode("ascii")]
    returned.extend(str(value) for value in describe_certificate(cert).values())
    return [secret for secret in secrets if secret and any(secret in text for text in returned)]


def issue_unmasked(issue, secrets, attempts=UNMASKED_ATTEMPTS):
    """Call ``issue(serial)`` (which returns a certificate or ``(certificate, extra)``) with
    ``random_serial(attempt)`` until the result contains none of ``secrets``; raise
    MaskedSecretError after ``attempts`` tries."""
    for attempt in range(attempts):
        issued = issue(random_serial(attempt))
        cert = issued[0] if isinstance(issued, tuple) else issued
        if not masked_secrets(cert, secrets):
            return issued
    raise MaskedSecretError("every one of %d certificates issued contained the CA key passphrase's text, "
                            "which Ansible masks in module results; use a longer passphrase" % attempts)
