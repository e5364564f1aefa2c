# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: certificates and CSRs: load/dump, fingerprints, extensions, issuer checks, metadata safe to log."""

from __future__ import annotations

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID
except ImportError:
    pass  # common.HAS_CRYPTOGRAPHY is False: the modules fail with missing_required_lib first

from ansible_collections.dockyard.registry.plugins.module_utils._x509.common import format_time, not_after, not_before
from ansible_collections.dockyard.registry.plugins.module_utils._x509.keys import key_type_of
from ansible_collections.dockyard.registry.plugins.module_utils._x509.names import san_strings


def _load_pem(data, what, kind, marker, loader):
    """``loader(data)`` for PEM text (str or bytes) holding ``marker``; ``ValueError`` naming ``what``
    and the ``kind`` of PEM object when the marker is missing or the loader refuses it."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if marker not in data:
        raise ValueError("%s is not a PEM %s" % (what, kind))
    try:
        return loader(data)
    except ValueError as exc:
        raise ValueError("%s is not a valid PEM %s (%s)" % (what, kind, exc)) from exc


def load_certificate(data, what="certificate"):
    return _load_pem(data, what, "certificate", b"-----BEGIN CERTIFICATE-----", x509.load_pem_x509_certificate)


def dump_certificate(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def load_csr(data, what="CSR"):
    csr = _load_pem(data, what, "certificate signing request", b"-----BEGIN CERTIFICATE REQUEST-----",
                    x509.load_pem_x509_csr)
    if not csr.is_signature_valid:
        raise ValueError("%s has an invalid signature" % what)
    return csr


def dump_csr(csr):
    return csr.public_bytes(serialization.Encoding.PEM)


def fingerprint(cert):
    """SHA-256 fingerprint as ``AB:CD:...`` (what ``openssl x509 -fingerprint -sha256`` prints)."""
    return ":".join("%02X" % b for b in bytearray(cert.fingerprint(hashes.SHA256())))


def _extension(obj, ext_class):
    try:
        return obj.extensions.get_extension_for_class(ext_class).value
    except x509.ExtensionNotFound:
        return None


def is_ca_certificate(cert):
    bc = _extension(cert, x509.BasicConstraints)
    return bool(bc is not None and bc.ca)


# What a leaf certificate is for: its one extended key usage.
USAGES = ("server", "client")


def _usage_oid(usage):
    if usage not in USAGES:
        raise ValueError("usage must be one of %s, got %r" % (", ".join(USAGES), usage))
    return ExtendedKeyUsageOID.SERVER_AUTH if usage == "server" else ExtendedKeyUsageOID.CLIENT_AUTH


def extended_key_usages(cert):
    """The leaf usages (``server``, ``client``) the certificate's extendedKeyUsage names."""
    eku = _extension(cert, x509.ExtendedKeyUsage)
    oids = list(eku) if eku is not None else []
    return [u for u in USAGES if _usage_oid(u) in oids]


def has_server_auth(cert):
    return "server" in extended_key_usages(cert)


def _verify_signature(cert, issuer_public_key):
    sig, tbs = cert.signature, cert.tbs_certificate_bytes
    try:
        if isinstance(issuer_public_key, rsa.RSAPublicKey):
            issuer_public_key.verify(sig, tbs, padding.PKCS1v15(), cert.signature_hash_algorithm)
        elif isinstance(issuer_public_key, ec.EllipticCurvePublicKey):
            issuer_public_key.verify(sig, tbs, ec.ECDSA(cert.signature_hash_algorithm))
        elif isinstance(issuer_public_key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            issuer_public_key.verify(sig, tbs)
        else:
            return False
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def is_issued_by(cert, ca_cert):
    """True when ``ca_cert``'s subject is ``cert``'s issuer and its key made the signature."""
    if cert.issuer != ca_cert.subject:
        return False
    return _verify_signature(cert, ca_cert.public_key())


def describe_name(name):
    return name.rfc4514_string()


def certificate_sans(cert):
    san = _extension(cert, x509.SubjectAlternativeName)
    return san_strings(list(san)) if san is not None else []


def describe_certificate(cert):
    """Metadata safe to log and diff: never key material."""
    return {
        "subject": describe_name(cert.subject),
        "issuer": describe_name(cert.issuer),
        "subject_alt_name": certificate_sans(cert),
        "not_before": format_time(not_before(cert)),
        "not_after": format_time(not_after(cert)),
        "serial_number": "%X" % cert.serial_number,
        "fingerprint": fingerprint(cert),
        "key_type": key_type_of(cert.public_key()),
    }
