# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: rules about the shared inventory facts that several roles and playbooks apply, each
written once, for the dockyard.registry collection.

This file is private to the dockyard.registry collection; other collections must not import it.
It imports nothing from Ansible and raises ``ValueError`` on bad input. It owns:

* the defaults of the shared ``dockyard_*`` facts that are not plain values (``SHARED_DEFAULTS``,
  ``shared_fact``): the inventory group names, where the CA directory and the published CA
  trust bundle are on the controller, the address clients reach the proxies at
  (docs/inventory.md). Roles and playbooks read them through the ``dockyard.registry.shared_fact``
  lookup;
* which registry users are present (``present_users``: a user without ``state`` is present);
* how a host is written next to a port (``url_host``, ``host_port``): IPv6 literals in brackets.
"""

from __future__ import annotations

import ipaddress

# The shared facts and their defaults. A callable default is computed from the other variables
# (``get(name)`` returns a variable's value or raises KeyError when it is not set).
SHARED_DEFAULTS = {
    "dockyard_proxy_group": "registry_proxy",
    "dockyard_backends_group": "registry_backends",
    "dockyard_clients_group": "registry_clients",
    # Next to the inventory (or the playbook when there is no inventory directory).
    "dockyard_ca_dir": lambda get: "%s/.dockyard-ca" % (_get(get, "inventory_dir") or _get(get, "playbook_dir") or "."),
    # What clients trust: the CA certificate, and the next one too during a rotation (roles/ca).
    "dockyard_ca_certificate_file": lambda get: "%s/trust-bundle.crt" % shared_fact("dockyard_ca_dir", get),
    # The address clients reach the proxies at: the proxies' virtual IP when there is one, else none
    # ("": a role that needs one falls back to the only proxy's address or asks for it).
    "dockyard_registry_address": lambda get: _get(get, "dockyard_registry_vip") or "",
}


def _get(get, name):
    try:
        return get(name)
    except KeyError:
        return None


def shared_fact(name, get):
    """The value of the shared fact ``name``: what ``get(name)`` returns, else its default.

    ``get`` returns a variable's value or raises KeyError when the variable is not set; a value of
    ``None`` counts as not set (YAML ``~``), as ``| default(...)`` would not treat it, but as an
    operator means it.
    """
    if name not in SHARED_DEFAULTS:
        raise ValueError("%r is not a shared fact with a default; known: %s" % (name, ", ".join(sorted(SHARED_DEFAULTS))))
    value = _get(get, name)
    if value is not None:
        return value
    default = SHARED_DEFAULTS[name]
    return default(get) if callable(default) else default


def present_users(users, var="dockyard_registry_users"):
    """The users that should exist: ``state: present``, or no ``state`` at all."""
    if users is None:
        return []
    if isinstance(users, (str, bytes, dict)) or not hasattr(users, "__iter__"):
        raise ValueError("%s must be a list of {name, password, state} dicts, got %r" % (var, type(users).__name__))
    present = []
    for user in users:
        if not isinstance(user, dict):
            raise ValueError("%s must be a list of {name, password, state} dicts; an entry is a %s"
                             % (var, type(user).__name__))
        if user.get("state", "present") == "present":
            present.append(user)
    return present


def url_host(host):
    """``host`` as it stands before ``:port`` (URLs, listen directives, Docker's published ports):
    an IPv6 literal in brackets; names, IPv4 addresses, ``*`` and ``""`` unchanged. Surrounding
    white space is dropped; an already bracketed address is kept."""
    text = str(host if host is not None else "").strip()
    if text.startswith("[") and text.endswith("]"):
        return text
    try:
        if ipaddress.ip_address(text).version == 6:
            return "[%s]" % text
    except ValueError:
        pass
    return text


def host_port(host, port):
    """``host:port`` with an IPv6 literal in brackets (an empty host: every address)."""
    return "%s:%s" % (url_host(host), port)
