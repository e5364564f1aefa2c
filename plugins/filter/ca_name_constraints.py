# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The names a registry CA may sign for, read from the inventory (see module_utils/_x509/constraints.py).

Documentation is in ca_name_constraints.yml next to this file.
"""

from __future__ import annotations

import ipaddress

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.registry.plugins.module_utils import _nginx, _x509
from ansible_collections.dockyard.registry.plugins.module_utils._x509 import constraints


def _network(facts):
    """``address/prefix`` of a host's default IPv4 or IPv6 interface facts, or ``None``."""
    if not isinstance(facts, dict) or not facts.get("address"):
        return None
    try:
        if facts.get("netmask"):
            return str(ipaddress.ip_interface("%s/%s" % (facts["address"], facts["netmask"])).network)
        if facts.get("prefix"):
            return str(ipaddress.ip_interface("%s/%s" % (facts["address"], facts["prefix"])).network)
    except ValueError:
        return None
    return str(facts["address"])


def ca_name_constraints(hosts, hostvars, names=(), extra=(), backends=()):
    """Permitted subtrees: ``names`` (registry name and address, extra names, VIP: DNS names and IP
    addresses, strict), every host's inventory name, ``ansible_host``, FQDN (skipped when not a DNS
    name) and networks (default IPv4/IPv6 interface facts), each backend's address as nginx reaches
    it, and ``extra`` (operator's entries: names, ``.name``, ``IP:network``; strict)."""
    dns, networks, lenient = [], [], []
    for entry in names or []:
        if entry in (None, ""):
            continue
        try:
            gn = _x509.parse_san(str(entry))
        except ValueError as exc:
            raise AnsibleFilterError("ca_name_constraints: %s" % exc)
        text = _x509.san_string(gn)
        if text.startswith("IP:"):
            networks.append(text[len("IP:"):])
        else:
            dns.append(text[len("DNS:"):])
    for name in hosts or []:
        try:
            host = hostvars[name]
        except KeyError:
            raise AnsibleFilterError("ca_name_constraints: %s is not in the inventory" % name)
        get = host.get if hasattr(host, "get") else (lambda key, default=None: default)
        lenient.extend([name, get("ansible_host"), (get("ansible_facts") or {}).get("fqdn")])
        for facts in (get("ansible_default_ipv4"), get("ansible_default_ipv6")):
            networks.append(_network(facts))
        if get("ansible_host"):
            networks.append(_ip_or_none(get("ansible_host")))
        if name in (backends or []):
            merged = {k: get(k) for k in ("dockyard_backend_address", "ansible_host", "ansible_default_ipv4")}
            address = get("dockyard_backend_address") or _nginx.default_backend_address(name, merged)
            networks.append(_ip_or_none(address))
            if _ip_or_none(address) is None:
                dns.append(address)
    try:
        permitted, _skipped = constraints.derive(dns, [n for n in networks if n], lenient)
        if extra:
            permitted = [constraints.constraint_string(gn) for gn in constraints.normalize(list(permitted) + list(extra))]
    except ValueError as exc:
        raise AnsibleFilterError("ca_name_constraints: %s" % exc)
    return permitted


def _ip_or_none(value):
    try:
        return str(ipaddress.ip_address(str(value).strip().strip("[]")))
    except ValueError:
        return None


class FilterModule:
    def filters(self):
        return {"ca_name_constraints": ca_name_constraints}
