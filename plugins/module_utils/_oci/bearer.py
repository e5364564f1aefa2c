# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: the client side of the Docker registry token protocol, for ``registry_check``.

Private to the dockyard.registry collection; other collections must not import it. Standard
library only, no Ansible import. It owns the decisions ``RegistryClient`` takes when a registry
answers ``401`` with ``WWW-Authenticate: Bearer realm=...,service=...,scope=...``:

* ``parse_challenge``: the scheme and parameters of a ``WWW-Authenticate`` value;
* ``TokenState``: which scopes the token in hand covers and which the next token request must ask
  for (every scope seen so far, so one token ends up covering the whole run);
* ``token_request_url`` and ``token_from_response``: the GET form of the token request
  (``service`` and one ``scope`` parameter per scope, what docker sends with Basic credentials) and
  the ``token``/``access_token`` of the answer.

Credentials go to the realm only when it is on the registry's own origin (decided by the client).
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

_PARAM = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


def parse_challenge(value):
    """(scheme in lower case, {param: value}) of a WWW-Authenticate header; ('', {}) when empty."""
    text = (value or "").strip()
    scheme, _sep, rest = text.partition(" ")
    params = {}
    for m in _PARAM.finditer(rest):
        params[m.group(1).lower()] = m.group(2) if m.group(2) is not None else m.group(3)
    return scheme.lower(), params


def token_request_url(realm, service, scopes):
    """The GET token request URL: ``realm?service=...&scope=...&scope=...``."""
    query = [("service", service)] if service else []
    query += [("scope", s) for s in sorted(scopes)]
    return realm + (("&" if "?" in realm else "?") + urlencode(query) if query else "")


def token_from_response(status, body):
    """The token of a 200 answer of the token endpoint; ValueError otherwise (no body in messages)."""
    if status != 200:
        raise ValueError("the token endpoint answered HTTP %d" % status)
    try:
        data = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the token endpoint answered something that is not JSON")
    token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise ValueError("the token endpoint's answer has no token")
    return token


class TokenState(object):
    """The bearer token in hand and the scopes it was asked for."""

    def __init__(self):
        self.token = None
        self.scopes = frozenset()
        self.realm = None
        self.service = None

    def wanted(self, challenge_params):
        """Scopes the next token must cover after this challenge (old ones plus the new ones)."""
        new = frozenset(s for s in (challenge_params.get("scope") or "").split(" ") if s)
        return self.scopes | new

    def covers(self, challenge_params):
        return self.token is not None and self.wanted(challenge_params) == self.scopes

    def update(self, token, scopes, realm, service):
        self.token, self.scopes, self.realm, self.service = token, frozenset(scopes), realm, service
