"""Signing keys and their rotation (module_utils/_token_keys.py)."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ansible_collections.dockyard.registry.plugins.module_utils import _token_keys as tk

DAY = 86400


def test_first_run_creates_an_active_key():
    state = tk.empty_state()
    p = tk.plan(state, 1000)
    assert p.create and p.create_as == "active" and p.reasons == ["no signing key yet"]
    new = tk.apply(state, p, 1000, "aaa")
    assert new["active"] == "aaa" and new["pending"] is None
    assert not tk.plan(new, 2000).changed


def test_rotation_is_prepared_then_activated_then_the_old_key_expires():
    state = tk.apply(tk.empty_state(), tk.plan(tk.empty_state(), 0), 0, "old")
    p = tk.plan(state, 89 * DAY, rotate_days=90)
    assert not p.changed
    p = tk.plan(state, 90 * DAY, rotate_days=90)
    assert p.create and p.create_as == "pending" and "90 days old" in p.reasons[0]
    state = tk.apply(state, p, 90 * DAY, "new")
    assert (state["active"], state["pending"]) == ("old", "new")
    assert tk.published(state) == ["new", "old"]
    # preparing again while a rotation is pending changes nothing
    assert not tk.plan(state, 91 * DAY, rotate_days=90).changed
    a = tk.plan(state, 90 * DAY + 60, phase="activate")
    assert a.activate
    state = tk.apply(state, a, 90 * DAY + 60, None)
    assert (state["active"], state["pending"]) == ("new", None)
    assert state["keys"]["old"]["retired"] == 90 * DAY + 60
    # both trusted during the overlap, the old one forgotten after it
    assert not tk.plan(state, 90 * DAY + 60 + 899, overlap=900).remove
    later = tk.plan(state, 90 * DAY + 60 + 900, overlap=900)
    assert later.remove == ["old"]
    state = tk.apply(state, later, 90 * DAY + 961, None)
    assert tk.published(state) == ["new"]


def test_force_rotate_and_activate_without_pending():
    state = tk.apply(tk.empty_state(), tk.plan(tk.empty_state(), 0), 0, "k1")
    assert tk.plan(state, 10, force_rotate=True).create_as == "pending"
    assert not tk.plan(state, 10, phase="activate").changed


@pytest.mark.parametrize("state", [
    {}, {"version": 2, "keys": {}}, {"version": 1, "keys": {"a/b": {"created": 1}}, "active": "a/b"},
    {"version": 1, "keys": {"a": {"created": 1}}, "active": "b"},
    {"version": 1, "keys": {"a": {}}, "active": "a"},
    {"version": 1, "keys": {"a": {"created": 1}}, "active": None, "pending": None},
])
def test_bad_state_is_refused(state):
    with pytest.raises(ValueError):
        tk.plan(state, 0)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError):
        tk.plan(tk.empty_state(), 0, phase="rotate")
    with pytest.raises(ValueError):
        tk.plan(tk.empty_state(), 0, rotate_days=0)
    with pytest.raises(ValueError):
        tk.apply(tk.empty_state(), tk.plan(tk.empty_state(), 0), 0, None)


def test_new_key_is_p256_with_a_self_signed_signing_certificate():
    kid, key_pem, cert_pem = tk.new_key("dockyard token signer", 30)
    key = serialization.load_pem_private_key(key_pem.encode(), None)
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    assert key.curve.name == "secp256r1"
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert cert.issuer == cert.subject
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert datetime.timedelta(days=30) < life < datetime.timedelta(days=30, minutes=10)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert kid == tk.key_id(der) and kid.isalnum() and len(kid) == 16
    with pytest.raises(ValueError):
        tk.new_key("", 30)
    with pytest.raises(ValueError):
        tk.new_key("x", 1)
