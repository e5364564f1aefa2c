# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: the token service's signing keys and their rotation, for dockyard.registry.

This file is private to the dockyard.registry collection; other collections must not import it.
No Ansible import; bad input raises ``ValueError``. It owns:

* ``plan``: the pure decision over the key directory's ``state.json``: create the first key,
  start a rotation (a *pending* key, published to the registries but not used to sign yet),
  activate the pending key once every registry trusts it (the old one becomes *retired*), and
  forget retired keys once every token they signed has expired (``overlap`` seconds);
* ``new_key``: an EC P-256 key and a self-signed certificate for it (ES256; the registries'
  ``auth.token.rootcertbundle`` holds these certificates and nothing else).

Rotation therefore takes two phases of one playbook run: ``prepare`` on the proxies (a pending
key appears and its certificate goes into every registry's bundle), then ``activate`` after the
registries restarted with the new bundle. Old and new keys are both trusted meanwhile; the old one
stays in the bundle for ``overlap`` seconds after it stopped signing.
"""

from __future__ import annotations

import datetime
import hashlib

STATE_VERSION = 1
PHASES = ("prepare", "activate")


def key_id(public_der):
    """A short, stable, alphanumeric id of a public key (hex of its SHA-256, 16 characters)."""
    return hashlib.sha256(public_der).hexdigest()[:16]


def empty_state():
    return {"version": STATE_VERSION, "active": None, "pending": None, "keys": {}}


def check_state(state):
    """Raise ValueError unless ``state`` is a state.json this module wrote."""
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION or not isinstance(state.get("keys"), dict):
        raise ValueError("state.json: unknown format (version %d expected)" % STATE_VERSION)
    for kid, meta in state["keys"].items():
        if not isinstance(kid, str) or not kid.isalnum() or not isinstance(meta, dict):
            raise ValueError("state.json: invalid key entry")
        if not isinstance(meta.get("created"), (int, float)):
            raise ValueError("state.json: key %s has no creation time" % kid)
    for name in ("active", "pending"):
        if state.get(name) is not None and state[name] not in state["keys"]:
            raise ValueError("state.json: %s key %s is not listed" % (name, state[name]))
    if state.get("active") is None and state["keys"] and state.get("pending") is None:
        raise ValueError("state.json: keys but no active key")


class Plan(object):
    """What to do with the key directory. ``create`` is True when a new key must be made (its id
    is known only once it exists: ``apply`` takes it)."""

    def __init__(self):
        self.create = False
        self.create_as = None  # 'active' or 'pending'
        self.activate = False
        self.remove = []
        self.reasons = []

    @property
    def changed(self):
        return self.create or self.activate or bool(self.remove)


def plan(state, now, phase="prepare", rotate_days=90, overlap=600, force_rotate=False):
    """Decide what ``phase`` does to the key set described by ``state`` at time ``now`` (epoch s).

    prepare: no key yet -> create one, active at once (nothing trusts any key yet); the active key
             is ``rotate_days`` old (or ``force_rotate``) and no rotation is under way -> create a
             pending key; retired keys older than ``overlap`` seconds -> remove.
    activate: a pending key -> it becomes active, the active one retired (now).
    """
    check_state(state)
    if phase not in PHASES:
        raise ValueError("phase must be one of %s" % ", ".join(PHASES))
    if int(rotate_days) < 1:
        raise ValueError("rotate_days must be at least 1")
    if int(overlap) < 0:
        raise ValueError("overlap must be >= 0 seconds")
    p = Plan()
    keys = state["keys"]
    if phase == "activate":
        if state.get("pending"):
            p.activate = True
            p.reasons.append("key %s becomes the signing key; %s stays trusted for %d s"
                             % (state["pending"], state.get("active") or "-", int(overlap)))
        return p
    if not state.get("active") and not state.get("pending"):
        p.create, p.create_as = True, "active"
        p.reasons.append("no signing key yet")
    elif not state.get("pending"):
        active = keys[state["active"]]
        age_days = (now - active.get("activated", active["created"])) / 86400.0
        if force_rotate:
            p.create, p.create_as = True, "pending"
            p.reasons.append("rotation requested")
        elif age_days >= int(rotate_days):
            p.create, p.create_as = True, "pending"
            p.reasons.append("signing key %s is %.0f days old (rotate after %d)"
                             % (state["active"], age_days, int(rotate_days)))
    for kid, meta in sorted(keys.items()):
        retired = meta.get("retired")
        if retired is not None and now - retired >= int(overlap) and kid not in (state.get("active"), state.get("pending")):
            p.remove.append(kid)
            p.reasons.append("retired key %s is no longer needed (every token it signed expired)" % kid)
    return p


def apply(state, p, now, new_kid=None):
    """The new state after ``p`` (``new_kid``: id of the key made for ``p.create``)."""
    out = {"version": STATE_VERSION, "active": state.get("active"), "pending": state.get("pending"),
           "keys": {k: dict(v) for k, v in state["keys"].items()}}
    if p.create:
        if not new_kid:
            raise ValueError("a new key id is needed")
        out["keys"][new_kid] = {"created": int(now)}
        if p.create_as == "active":
            out["active"] = new_kid
            out["keys"][new_kid]["activated"] = int(now)
        else:
            out["pending"] = new_kid
    if p.activate:
        old = out["active"]
        if old:
            out["keys"][old]["retired"] = int(now)
        out["active"] = out["pending"]
        out["pending"] = None
        out["keys"][out["active"]]["activated"] = int(now)
    for kid in p.remove:
        out["keys"].pop(kid, None)
    return out


def published(state):
    """Key ids whose certificates belong in the registries' bundle: every key still listed."""
    return sorted(state["keys"])


def new_key(common_name, days, now=None):
    """(kid, private key PEM, certificate PEM): an EC P-256 key and a self-signed certificate.

    The certificate only carries the public key to the registries (they trust exactly the
    certificates of their bundle): digitalSignature usage, no CA, no EKU.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    if not isinstance(common_name, str) or not common_name or len(common_name) > 64:
        raise ValueError("common_name must be 1-64 characters")
    if int(days) < 2:
        raise ValueError("certificate validity must be at least 2 days")
    now = datetime.datetime.now(datetime.timezone.utc) if now is None else now
    key = ec.generate_private_key(ec.SECP256R1())
    public_der = key.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    kid = key_id(public_der)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=int(days)))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode("ascii")
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    return kid, key_pem, cert_pem
