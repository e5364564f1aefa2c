# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: private keys: generate, describe (KEY_TYPES terms), load (passphrases), dump, compare."""

from __future__ import annotations

from ansible_collections.dockyard.registry.plugins.module_utils._x509.common import KEY_TYPES

try:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
except ImportError:
    pass  # common.HAS_CRYPTOGRAPHY is False: the modules fail with missing_required_lib first


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
