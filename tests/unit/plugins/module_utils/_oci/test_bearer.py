# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of ``_oci.bearer`` and of registry_check against a registry in token mode (the fake
registry's ``token_mode``: challenges with Bearer, issues tokens at /token, checks their scopes)."""

from __future__ import annotations

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils._oci import bearer
from ansible_collections.dockyard.registry.plugins.module_utils._oci import client as oci_client
from ansible_collections.dockyard.registry.plugins.module_utils._oci.checks import CheckFailed
from ansible_collections.dockyard.registry.tests.unit.plugins.module_utils._oci.fakes import (
    PASSWORD,
    assert_no_secret,
    check,
)


@pytest.mark.parametrize("value, expected", [
    ('Bearer realm="https://r.example/token",service="r.example",scope="repository:a/b:pull,push"',
     ("bearer", {"realm": "https://r.example/token", "service": "r.example", "scope": "repository:a/b:pull,push"})),
    ('Bearer realm="https://r/token",service="r",scope="repository:a:pull repository:b:pull",error="insufficient_scope"',
     ("bearer", {"realm": "https://r/token", "service": "r", "scope": "repository:a:pull repository:b:pull",
                 "error": "insufficient_scope"})),
    ('Basic realm="registry"', ("basic", {"realm": "registry"})),
    ("", ("", {})),
    (None, ("", {})),
])
def test_parse_challenge(value, expected):
    assert bearer.parse_challenge(value) == expected


def test_token_request_url_and_answer():
    assert bearer.token_request_url("https://r/token", "r", {"repository:b:pull", "repository:a:pull"}) == \
        "https://r/token?service=r&scope=repository%3Aa%3Apull&scope=repository%3Ab%3Apull"
    assert bearer.token_request_url("https://r/token?x=1", "", set()) == "https://r/token?x=1"
    assert bearer.token_from_response(200, b'{"access_token": "t1"}') == "t1"
    for status, body in ((401, b"{}"), (200, b"nope"), (200, b"{}"), (200, b'["t"]')):
        with pytest.raises(ValueError):
            bearer.token_from_response(status, body)


def test_token_state_accumulates_scopes():
    state = bearer.TokenState()
    assert state.wanted({"scope": "repository:a:pull"}) == {"repository:a:pull"}
    state.update("t", {"repository:a:pull"}, "https://r/token", "r")
    assert state.covers({"scope": "repository:a:pull"}) and state.covers({})
    assert state.wanted({"scope": "repository:b:pull,push"}) == {"repository:a:pull", "repository:b:pull,push"}


def test_checks_speak_the_bearer_flow(fake, pki):
    fake.token_mode = True
    result = check(fake, pki, checks=["auth", "push", "pull", "delete"])
    assert result["checks_passed"] == ["auth", "push", "pull", "delete"]
    auth = result["auth"]
    assert auth["auth_scheme"] == "bearer" and auth["unauthenticated_status"] == 401
    assert auth["wrong_password_status"] == 401 and auth["authenticated_status"] == 200
    # one token per new set of scopes, not one per request: the token grows with every scope seen
    assert 2 <= len(fake.token_requests) <= 6, fake.token_requests
    assert all(r["auth"] == "Basic" for r in fake.token_requests)
    assert_no_secret(result)


def test_wrong_password_gets_no_token(fake, pki):
    fake.token_mode = True
    with pytest.raises(CheckFailed) as caught:
        check(fake, pki, checks=["auth"], password=PASSWORD + "-wrong")
    assert caught.value.result["auth"]["authenticated_status"] == 401


def test_anonymous_client_fetches_an_anonymous_token(fake, pki):
    fake.token_mode = True
    with oci_client.RegistryClient(fake.url, ca_path=pki[0], resolve="127.0.0.1") as client:
        assert client.request("GET", "/v2/").status == 200
        assert client.auth_scheme == "bearer" and client.token_requests == 1
    assert [r["auth"] for r in fake.token_requests] == [""]


def test_credentials_never_go_to_a_realm_on_another_origin(fake, pki):
    fake.token_mode = True
    with oci_client.RegistryClient(fake.url, username="u", password=PASSWORD, ca_path=pki[0],
                                   resolve="127.0.0.1") as client:
        scheme, params = bearer.parse_challenge('Bearer realm="https://elsewhere.invalid:1/token",service="x"')
        assert scheme == "bearer"
        # the token request goes to elsewhere.invalid: no credentials may be attached
        sent = []
        client._exchange = lambda method, url, headers, body, sink: sent.append(headers) or (_ for _ in ()).throw(
            oci_client.TransportError("stop", url))
        with pytest.raises(oci_client.TransportError):
            client._renew_token(params, True)
        assert sent and "Authorization" not in sent[0]
