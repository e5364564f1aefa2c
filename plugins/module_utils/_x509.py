# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: X.509 decisions for the dockyard.registry certificate modules.

This file is private to the dockyard.registry collection; other collections must not import it.
It builds on ``cryptography`` directly, imports nothing from Ansible, raises ``ValueError`` on bad
input and takes ``now`` as a parameter so every decision can be tested without sleeping.

Tested with cryptography 38.0.4 (Debian 12's python3-cryptography) and 50.0.2.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import tempfile
import traceback
from dataclasses import dataclass, field

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None


KEY_TYPES = ("ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096")
DEFAULT_KEY_TYPE = "ecdsa-p256"

# notBefore is set this far in the past so a client whose clock is slightly behind the CA host's
# accepts a freshly issued certificate.
BACKDATE = datetime.timedelta(minutes=5)
# Two validity periods closer than this are "the same" (absorbs BACKDATE and clamping rounding).
VALIDITY_TOLERANCE = datetime.timedelta(days=1)
# RFC 5280 upper bound for commonName.
COMMON_NAME_MAX = 64

# Subject keys accepted in ``subject`` dicts, in the order they appear in the distinguished name.
SUBJECT_KEYS = (
    ("countryName", "C"),
    ("stateOrProvinceName", "ST"),
    ("localityName", "L"),
    ("organizationName", "O"),
    ("organizationalUnitName", "OU"),
    ("commonName", "CN"),
    ("emailAddress", None),
)

_DNS_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_SAN_PREFIX = re.compile(r"^\s*(DNS|IP)\s*:(.*)$", re.IGNORECASE)
_OTHER_PREFIX = re.compile(r"^\s*(email|uri|dirname|rid|othername)\s*:", re.IGNORECASE)


def _utc(value):
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def format_time(value):
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def not_before(cert):
    value = getattr(cert, "not_valid_before_utc", None)
    return _utc(value if value is not None else cert.not_valid_before)


def not_after(cert):
    value = getattr(cert, "not_valid_after_utc", None)
    return _utc(value if value is not None else cert.not_valid_after)


# ---------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------

def generate_private_key(key_type):
    """Return a new private key of one of KEY_TYPES."""
    if key_type == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ecdsa-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if key_type in ("rsa-2048", "rsa-3072", "rsa-4096"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[4:]))
    raise ValueError("unsupported key type %r; valid: %s" % (key_type, ", ".join(KEY_TYPES)))


def key_type_of(key):
    """Describe a private or public key in KEY_TYPES terms (``rsa-1024``, ``ed25519`` for others)."""
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return "rsa-%d" % key.key_size
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        curve = key.curve.name
        return {"secp256r1": "ecdsa-p256", "secp384r1": "ecdsa-p384", "secp521r1": "ecdsa-p521"}.get(
            curve, "ecdsa-" + curve)
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "ed25519"
    if isinstance(key, (ed448.Ed448PrivateKey, ed448.Ed448PublicKey)):
        return "ed448"
    return type(key).__name__


class PassphraseError(ValueError):
    """An encrypted key was given no passphrase, or a wrong one."""


def is_encrypted_pem(data):
    """True when ``data`` is a passphrase-protected PEM private key (PKCS#8 or traditional)."""
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data or b"Proc-Type: 4,ENCRYPTED" in data


def load_private_key(data, passphrase=None, what="private key"):
    """Load a PEM private key; ``ValueError`` with a clear message when it is not one.

    A passphrase given for an unencrypted key is ignored (the caller can warn with
    ``is_encrypted_pem``); an encrypted key without (or with a wrong) passphrase is refused.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    if b"-----BEGIN" not in data or b"PRIVATE KEY-----" not in data:
        raise ValueError("%s is not a PEM private key" % what)
    encrypted = is_encrypted_pem(data)
    if encrypted and not passphrase:
        raise PassphraseError("%s is encrypted: a passphrase is required" % what)
    password = passphrase.encode("utf-8") if (encrypted and passphrase) else None
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        if encrypted:
            raise PassphraseError("%s could not be decrypted: wrong passphrase?" % what) from exc
        raise ValueError("%s is not a valid PEM private key (%s)" % (what, exc)) from exc
    return key


def dump_private_key(key, passphrase=None):
    """PKCS#8 PEM, encrypted with the best available cipher when a passphrase is given."""
    if passphrase:
        encryption = serialization.BestAvailableEncryption(passphrase.encode("utf-8"))
    else:
        encryption = serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def public_keys_match(a, b):
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return a.public_bytes(*fmt) == b.public_bytes(*fmt)


def _signature_hash(key):
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


# ---------------------------------------------------------------------------------------------
# Certificates and CSRs
# ---------------------------------------------------------------------------------------------

def load_certificate(data, what="certificate"):
    if isinstance(data, str):
        data = data.encode("utf-8")
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise ValueError("%s is not a PEM certificate" % what)
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise ValueError("%s is not a valid PEM certificate (%s)" % (what, exc)) from exc


def dump_certificate(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def load_csr(data, what="CSR"):
    if isinstance(data, str):
        data = data.encode("utf-8")
    if b"-----BEGIN CERTIFICATE REQUEST-----" not in data:
        raise ValueError("%s is not a PEM certificate signing request" % what)
    try:
        csr = x509.load_pem_x509_csr(data)
    except ValueError as exc:
        raise ValueError("%s is not a valid PEM certificate signing request (%s)" % (what, exc)) from exc
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


def has_server_auth(cert):
    eku = _extension(cert, x509.ExtendedKeyUsage)
    return eku is not None and ExtendedKeyUsageOID.SERVER_AUTH in list(eku)


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


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------

def _name_oids():
    return {
        "countryName": NameOID.COUNTRY_NAME,
        "stateOrProvinceName": NameOID.STATE_OR_PROVINCE_NAME,
        "localityName": NameOID.LOCALITY_NAME,
        "organizationName": NameOID.ORGANIZATION_NAME,
        "organizationalUnitName": NameOID.ORGANIZATIONAL_UNIT_NAME,
        "commonName": NameOID.COMMON_NAME,
        "emailAddress": NameOID.EMAIL_ADDRESS,
    }


def parse_subject(subject):
    """Build an ``x509.Name`` from a dict such as ``{"commonName": "x", "O": "y"}``.

    Long names and the usual short names are accepted; the attributes are put in the conventional
    C, ST, L, O, OU, CN, emailAddress order so the same dict always gives the same name.
    """
    if subject is None:
        subject = {}
    if not isinstance(subject, dict):
        raise ValueError("subject must be a dict such as {commonName: registry.example.com}")
    aliases = {}
    for long_name, short_name in SUBJECT_KEYS:
        aliases[long_name.lower()] = long_name
        if short_name:
            aliases[short_name.lower()] = long_name
    values = {}
    for key, value in subject.items():
        long_name = aliases.get(str(key).lower())
        if long_name is None:
            raise ValueError("unsupported subject attribute %r; valid: %s" % (
                key, ", ".join(pair[0] for pair in SUBJECT_KEYS)))
        if long_name in values:
            raise ValueError("subject attribute %s given twice" % long_name)
        if value is None or str(value).strip() == "":
            continue
        values[long_name] = str(value).strip()
    if "countryName" in values and len(values["countryName"]) != 2:
        raise ValueError("subject countryName must be a two-letter code, got %r" % values["countryName"])
    if len(values.get("commonName", "")) > COMMON_NAME_MAX:
        raise ValueError("subject commonName %r is longer than %d characters" % (
            values["commonName"], COMMON_NAME_MAX))
    oids = _name_oids()
    ordered = [pair[0] for pair in SUBJECT_KEYS if pair[0] in values]
    return x509.Name([x509.NameAttribute(oids[k], values[k]) for k in ordered])


def default_server_subject(sans):
    """``CN=<first DNS SAN>`` (when it fits in a commonName), else an empty subject."""
    dns = [n.value for n in sans if isinstance(n, x509.DNSName)]
    if dns and len(dns[0]) <= COMMON_NAME_MAX:
        return parse_subject({"commonName": dns[0]})
    return parse_subject({})


def normalize_dns_name(name):
    """Lower-case DNS name without trailing dot; ``ValueError`` if it is not a valid host name."""
    original = name
    name = name.strip().lower()
    if name.endswith("."):
        name = name[:-1]
    if not name:
        raise ValueError("empty DNS name")
    try:
        name.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError("invalid DNS name %r: use the IDNA (xn--) form of internationalised names" % original)
    if len(name) > 253:
        raise ValueError("invalid DNS name %r: longer than 253 characters" % original)
    labels = name.split(".")
    for index, label in enumerate(labels):
        if label == "*" and index == 0 and len(labels) > 1:
            continue
        if "_" in label:
            raise ValueError("invalid DNS name %r: underscores are not allowed in host names" % original)
        if not _DNS_LABEL.match(label):
            raise ValueError(
                "invalid DNS name %r: label %r must be 1-63 letters, digits or hyphens, "
                "not starting or ending with a hyphen (a wildcard '*' only as the whole first label)"
                % (original, label))
    if labels[-1].isdigit():
        raise ValueError("%r is neither a valid IP address nor a valid DNS name" % original)
    return name


def _parse_ip(value, original):
    if "%" in value:
        raise ValueError("invalid IP address %r: scoped IPv6 addresses are not allowed" % original)
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("invalid IP address %r" % original)


def parse_san(entry):
    """Parse ``DNS:name``, ``IP:addr`` or a bare name/address (auto-detected) into a GeneralName."""
    if not isinstance(entry, str):
        raise ValueError("subject_alt_name entries must be strings, got %r" % (entry,))
    text = entry.strip()
    match = _SAN_PREFIX.match(text)
    if match:
        kind, value = match.group(1).upper(), match.group(2).strip()
    else:
        try:
            return x509.IPAddress(_parse_ip(text, entry))
        except ValueError:
            pass
        if _OTHER_PREFIX.match(text):
            raise ValueError("unsupported SAN type in %r: only DNS: and IP: are supported" % entry)
        kind, value = "DNS", text
    if kind == "IP":
        return x509.IPAddress(_parse_ip(value, entry))
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return x509.DNSName(normalize_dns_name(value))
    raise ValueError("%r is an IP address: write it as IP:%s (clients match IP addresses only "
                     "against IP SANs)" % (entry, value))


def san_string(general_name):
    if isinstance(general_name, x509.DNSName):
        return "DNS:" + general_name.value.lower()
    if isinstance(general_name, x509.IPAddress):
        return "IP:" + str(general_name.value)
    return "%s:%s" % (type(general_name).__name__, general_name.value)


def san_strings(general_names):
    return [san_string(n) for n in general_names]


def parse_sans(entries, lenient_entries=None):
    """Parse SAN entries, de-duplicated in order.

    ``entries`` are strict: a bad one raises ``ValueError``. ``lenient_entries`` (names discovered
    from inventory and facts) are appended when valid and otherwise returned as ``dropped`` with the
    reason, so a host called ``proxy_1`` does not stop the run. Returns ``(general_names, dropped)``.
    """
    result, seen, dropped = [], set(), []

    def add(name):
        key = san_string(name)
        if key not in seen:
            seen.add(key)
            result.append(name)

    for entry in entries or []:
        add(parse_san(entry))
    for entry in lenient_entries or []:
        if entry is None or (isinstance(entry, str) and not entry.strip()):
            continue
        try:
            add(parse_san(entry))
        except ValueError as exc:
            dropped.append(str(exc))
    return result, dropped


# ---------------------------------------------------------------------------------------------
# Building and signing
# ---------------------------------------------------------------------------------------------

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


def build_ca_certificate(key, subject, validity_days, now, path_length=0, serial=None):
    """Self-signed CA certificate: CA:TRUE (critical), keyCertSign + cRLSign (critical), SKI, AKI."""
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
    return builder.sign(key, _signature_hash(key))


def build_csr(key, subject, sans):
    """CSR carrying the subject and the SAN extension (what the signer copies into the certificate)."""
    if not sans:
        raise ValueError("at least one subject_alt_name is required (clients ignore the commonName)")
    builder = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .add_extension(x509.SubjectAlternativeName(list(sans)), critical=len(subject) == 0)
    )
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


def prepare_signing(csr, ca_cert, ca_key, validity_days, now, expected_sans=None):
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
    sans = csr_sans(csr)
    if not sans:
        raise ValueError("the CSR has no subjectAltName: clients ignore the commonName, SANs are required")
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
    end = now + datetime.timedelta(days=int(validity_days))
    if end > ca_end:
        warnings.append("the certificate's notAfter is capped at the CA certificate's notAfter (%s); "
                        "renew the CA to issue certificates valid for %d days"
                        % (format_time(ca_end), int(validity_days)))
        end = ca_end
    return sans, now - BACKDATE, end, warnings


def sign_csr(csr, ca_cert, ca_key, validity_days, now, expected_sans=None, serial=None):
    """Issue a TLS server certificate for ``csr``. Returns ``(certificate, warnings)``.

    The certificate copies the CSR's subject and DNS/IP SANs, and carries CA:FALSE, keyUsage
    digitalSignature (+ keyEncipherment for RSA keys), EKU serverAuth, SKI and AKI (the CA's SKI).
    See ``prepare_signing`` for the checks and the validity window.
    """
    sans, start, end, warnings = prepare_signing(csr, ca_cert, ca_key, validity_days, now, expected_sans)
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
            digital_signature=True, content_commitment=False, key_encipherment=is_rsa,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=len(csr.subject) == 0)
        .add_extension(_ski(public_key), critical=False)
        .add_extension(aki, critical=False)
    )
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


# ---------------------------------------------------------------------------------------------
# Decisions
# ---------------------------------------------------------------------------------------------

@dataclass
class CAPlan:
    """What ``x509_ca`` must do: the reasons explain every action, warnings explain drift kept."""
    generate_key: bool = False
    issue_certificate: bool = False
    reasons: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @property
    def needed(self):
        return self.generate_key or self.issue_certificate


@dataclass
class ServerPlan:
    """What the host using a server certificate needs: a new key? a new certificate? why?"""
    regenerate_key: bool = False
    reissue: bool = False
    reasons: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


def _lifetime(cert):
    return not_after(cert) - not_before(cert)


def _days(delta):
    return int(round(delta.total_seconds() / 86400.0))


def plan_ca(key, cert, key_type, subject, validity_days, renew_before_days, now,
            path_length=0, force=False, reissue_certificate=False):
    """Decide what to do with the CA. ``key``/``cert`` are loaded objects or ``None`` (missing).

    An existing key is never replaced and an existing certificate is never re-signed unless
    ``force`` (new key and certificate) or ``reissue_certificate`` (re-sign the certificate with
    the existing key when it drifted or expires within ``renew_before_days``). Otherwise drift is
    reported in ``warnings``. A certificate that does not match its key, or is not a CA, is refused.
    """
    validate_timing(validity_days, renew_before_days, what="CA")
    plan = CAPlan()
    if force:
        plan.generate_key = plan.issue_certificate = True
        plan.reasons.append("force: true (the CA key and certificate are replaced)")
        return plan
    if key is None and cert is None:
        plan.generate_key = plan.issue_certificate = True
        plan.reasons.append("CA private key missing")
        plan.reasons.append("CA certificate missing")
        return plan
    if key is None:
        raise ValueError("the CA certificate exists but its private key is missing: restore the key, "
                         "or set force: true to create a new CA (every client must then trust it)")
    current_type = key_type_of(key)
    if current_type != key_type:
        plan.warnings.append("the CA key is %s but key_type is %s: not rotating the CA (set force: true "
                             "to replace the CA key and certificate)" % (current_type, key_type))
    if cert is None:
        plan.issue_certificate = True
        plan.reasons.append("CA certificate missing (re-created with the existing key)")
        return plan
    if not public_keys_match(cert.public_key(), key.public_key()):
        raise ValueError("the CA certificate does not match the CA private key: restore the matching "
                         "files, or set force: true to create a new CA")
    if not is_ca_certificate(cert):
        raise ValueError("the CA certificate is not a CA certificate (basicConstraints CA:TRUE missing): "
                         "set force: true to create a new CA")
    drift = []
    if cert.subject != subject:
        drift.append("subject is '%s', wanted '%s'" % (describe_name(cert.subject), describe_name(subject)))
    lifetime = _lifetime(cert)
    wanted = datetime.timedelta(days=int(validity_days))
    if abs(lifetime - wanted) > VALIDITY_TOLERANCE:
        drift.append("validity is %d days, wanted %d" % (_days(lifetime), int(validity_days)))
    bc = _extension(cert, x509.BasicConstraints)
    if bc.path_length != path_length:
        drift.append("path length is %s, wanted %s" % (bc.path_length, path_length))
    end = not_after(cert)
    if end <= now:
        drift.append("the CA certificate expired on %s" % format_time(end))
    elif end - now <= datetime.timedelta(days=int(renew_before_days)):
        drift.append("the CA certificate expires within %d days (on %s)"
                     % (int(renew_before_days), format_time(end)))
    if drift and reissue_certificate:
        plan.issue_certificate = True
        plan.reasons.extend("%s (re-signed with the existing key)" % d for d in drift)
    elif drift:
        plan.warnings.extend("%s: not changing the CA (set reissue_certificate: true to re-sign it with "
                             "the existing key, or force: true to replace the CA)" % d for d in drift)
    return plan


def plan_server_key(key, key_type, force=False):
    """Return ``(regenerate, reasons)`` for a server private key (``None`` = missing)."""
    if key is None:
        return True, ["private key missing"]
    if force:
        return True, ["force: true"]
    current = key_type_of(key)
    if current != key_type:
        return True, ["key type changed: %s -> %s" % (current, key_type)]
    return False, []


def plan_certificate(cert, key, ca_cert, subject, sans, validity_days, renew_before_days, now,
                     key_replaced=False):
    """Decide whether a server certificate must be (re)issued, and say why.

    ``cert``/``key``/``ca_cert`` are loaded objects or ``None``; ``sans`` are GeneralNames or
    strings; ``subject`` is an ``x509.Name`` (``None`` skips the subject check).
    """
    validate_timing(validity_days, renew_before_days)
    plan = ServerPlan()
    if cert is None:
        plan.reissue = True
        plan.reasons.append("certificate missing")
        return plan
    reasons = plan.reasons
    if key_replaced:
        reasons.append("private key replaced")
    elif key is not None and not public_keys_match(cert.public_key(), key.public_key()):
        reasons.append("certificate does not match the private key")
    if ca_cert is not None and not is_issued_by(cert, ca_cert):
        reasons.append("issued by a different CA (issuer '%s', CA '%s')" % (
            describe_name(cert.issuer), describe_name(ca_cert.subject)))
    if not has_server_auth(cert):
        reasons.append("not a TLS server certificate (no serverAuth extended key usage)")
    if subject is not None and cert.subject != subject:
        reasons.append("subject differs: '%s' -> '%s'" % (describe_name(cert.subject), describe_name(subject)))
    wanted = [s if isinstance(s, str) else san_string(s) for s in sans]
    wanted = san_strings(parse_sans(wanted)[0])
    current = certificate_sans(cert)
    missing = [s for s in wanted if s not in current]
    extra = [s for s in current if s not in wanted]
    if missing or extra:
        parts = []
        if missing:
            parts.append("add " + ", ".join(missing))
        if extra:
            parts.append("remove " + ", ".join(extra))
        reasons.append("SANs differ: " + "; ".join(parts))
    end, start = not_after(cert), not_before(cert)
    ca_end = not_after(ca_cert) if ca_cert is not None else None
    # A certificate whose notAfter was capped at the CA's cannot be improved by reissuing.
    capped = ca_end is not None and end >= ca_end - VALIDITY_TOLERANCE
    if end <= now:
        reasons.append("expired on %s" % format_time(end))
    elif end - now <= datetime.timedelta(days=int(renew_before_days)):
        if capped:
            plan.warnings.append("the certificate expires on %s together with the CA certificate: renew "
                                 "the CA" % format_time(end))
        else:
            reasons.append("expires within %d days (on %s)" % (int(renew_before_days), format_time(end)))
    lifetime = end - start
    wanted_lifetime = datetime.timedelta(days=int(validity_days))
    if lifetime > wanted_lifetime + VALIDITY_TOLERANCE:
        reasons.append("validity is %d days, wanted %d" % (_days(lifetime), int(validity_days)))
    elif lifetime < wanted_lifetime - VALIDITY_TOLERANCE and not capped:
        reasons.append("validity is %d days, wanted %d" % (_days(lifetime), int(validity_days)))
    if start > now:
        plan.warnings.append("the certificate is not valid before %s: check the clocks of this host and "
                             "the CA host" % format_time(start))
    plan.reissue = bool(reasons)
    return plan


# ---------------------------------------------------------------------------------------------
# Files (no Ansible import; modules add ownership and backups)
# ---------------------------------------------------------------------------------------------

def read_file(path):
    """Bytes of ``path`` or ``None`` when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write_file_atomic(path, data, mode):
    """Write ``data`` to ``path`` atomically; the file has ``mode`` from its first byte on.

    The temporary file is created 0600 in the same directory, filled, fsynced, chmod'ed and renamed,
    so a private key is never readable by others, not even for a moment.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError("directory %s does not exist" % directory)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
