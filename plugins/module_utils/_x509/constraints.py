# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: X.509 name constraints: a CA that can only sign for the names it was made for.

A private CA trusted by clients can otherwise issue a certificate for any web site. A critical
``nameConstraints`` extension on the CA certificate limits every certificate below it to the
permitted DNS subtrees and IP networks (RFC 5280 4.2.1.10); Go (docker, containerd, skopeo) and
OpenSSL (curl, Python, nginx) refuse a leaf outside them, also when the CA is a trust anchor.

Matching follows RFC 5280 as Go and OpenSSL implement it: the DNS constraint ``example.com``
permits ``example.com`` and every name below it (``a.example.com``, ``*.example.com``);
``.example.com`` permits only names below it; an IP constraint is a network. A name type without
any permitted entry would be unconstrained, so IP families without a permitted network are
excluded outright (``0.0.0.0/0``, ``::/0``).
"""

from __future__ import annotations

import ipaddress

from ansible_collections.dockyard.registry.plugins.module_utils._x509.names import normalize_dns_name, san_string

try:
    from cryptography import x509
except ImportError:
    pass  # common.HAS_CRYPTOGRAPHY is False: the modules fail with missing_required_lib first

ALL_IPV4 = ipaddress.ip_network("0.0.0.0/0")
ALL_IPV6 = ipaddress.ip_network("::/0")


def parse_constraint(entry):
    """``DNS:name``, ``.name``, ``IP:10.0.0.0/24``, ``IP:10.0.0.5`` or a bare name/address/network."""
    if not isinstance(entry, str) or not entry.strip():
        raise ValueError("name constraint entries must be non-empty strings, got %r" % (entry,))
    text = entry.strip()
    kind, _sep, value = text.partition(":")
    if kind.upper() in ("DNS", "IP") and _sep:
        kind, value = kind.upper(), value.strip()
    else:
        kind, value = None, text
    if kind in (None, "IP"):
        try:
            return x509.IPAddress(ipaddress.ip_network(value, strict=False))
        except ValueError:
            if kind == "IP":
                raise ValueError("invalid IP network in name constraint %r" % entry)
    subdomains_only = value.startswith(".")
    name = normalize_dns_name(value[1:] if subdomains_only else value)
    if name.startswith("*"):
        raise ValueError("name constraint %r: wildcards are not constraints; %s permits every name below it"
                         % (entry, name[2:]))
    return x509.DNSName(("." if subdomains_only else "") + name)


def constraint_string(general_name):
    if isinstance(general_name, x509.IPAddress):
        return "IP:" + str(general_name.value)
    return san_string(general_name)


def _dns_covers(constraint, name):
    if constraint.startswith("."):
        return name.endswith(constraint)
    return name == constraint or name.endswith("." + constraint)


def normalize(entries):
    """Parse, de-duplicate and simplify constraint entries (a name below another permitted name and an
    address inside a permitted network are dropped; networks are collapsed). Sorted: DNS, then IP."""
    dns, nets = [], []
    for entry in entries or []:
        gn = entry if isinstance(entry, (x509.DNSName, x509.IPAddress)) else parse_constraint(entry)
        if isinstance(gn, x509.IPAddress):
            nets.append(gn.value)
        elif gn.value not in dns:
            dns.append(gn.value)
    kept = [d for d in dns if not any(o != d and _dns_covers(o, d.lstrip(".")) for o in dns)]
    collapsed = []
    for version in (4, 6):
        collapsed.extend(ipaddress.collapse_addresses([n for n in nets if n.version == version]))
    return [x509.DNSName(d) for d in sorted(kept)] + [x509.IPAddress(n) for n in collapsed]


def derive(names, networks, lenient_names=()):
    """Permitted subtrees for a registry CA: ``names`` (strict DNS names: the registry name and extra
    names), ``networks`` (addresses or CIDRs: the hosts' networks, the registry and backend addresses)
    and ``lenient_names`` (inventory names and FQDNs; an entry that is not a valid DNS name is skipped).
    Returns ``(constraint strings, skipped reasons)``."""
    entries, skipped = [], []
    for name in names or []:
        name = str(name).strip()
        entries.append(parse_constraint("DNS:" + (name[2:] if name.startswith("*.") else name)))
    for name in lenient_names or []:
        if not name or not str(name).strip():
            continue
        try:
            ipaddress.ip_address(str(name).strip())
            continue  # an address: covered by the networks
        except ValueError:
            pass
        try:
            entries.append(parse_constraint("DNS:" + str(name).strip()))
        except ValueError as exc:
            skipped.append(str(exc))
    for net in networks or []:
        if net in (None, ""):
            continue
        entries.append(parse_constraint("IP:" + str(net).strip()))
    return [constraint_string(gn) for gn in normalize(entries)], skipped


def extension(permitted):
    """The critical ``NameConstraints`` for ``permitted`` (strings or GeneralNames)."""
    subtrees = normalize(permitted)
    if not subtrees:
        raise ValueError("name constraints need at least one permitted name")
    versions = {gn.value.version for gn in subtrees if isinstance(gn, x509.IPAddress)}
    excluded = [x509.IPAddress(net) for net in (ALL_IPV4, ALL_IPV6) if net.version not in versions]
    return x509.NameConstraints(permitted_subtrees=subtrees, excluded_subtrees=excluded or None)


def of_certificate(cert):
    """``{"permitted": [...], "excluded": [...]}`` of a CA certificate, or ``None`` without the extension."""
    try:
        nc = cert.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        return None
    return {"permitted": [constraint_string(gn) for gn in nc.permitted_subtrees or []],
            "excluded": [constraint_string(gn) for gn in nc.excluded_subtrees or []]}


def _permits(constraints, gn):
    permitted = [parse_constraint(e) for e in constraints["permitted"]]
    excluded = [parse_constraint(e) for e in constraints["excluded"]]
    if isinstance(gn, x509.IPAddress):
        addr = gn.value
        if any(isinstance(e, x509.IPAddress) and addr.version == e.value.version and addr in e.value
               for e in excluded):
            return False
        nets = [p.value for p in permitted if isinstance(p, x509.IPAddress)]
        return not nets or any(addr.version == n.version and addr in n for n in nets)
    if isinstance(gn, x509.DNSName):
        name = gn.value.lower()
        # a wildcard stands for the names one label below it: judge one of them
        probe = "x" + name[1:] if name.startswith("*.") else name
        if any(isinstance(e, x509.DNSName) and _dns_covers(e.value, probe) for e in excluded):
            return False
        dns = [p.value for p in permitted if isinstance(p, x509.DNSName)]
        return not dns or any(_dns_covers(d, probe) for d in dns)
    return False


def outside(sans, ca_cert):
    """The SAN strings of ``sans`` (GeneralNames) that ``ca_cert``'s name constraints do not permit."""
    constraints = of_certificate(ca_cert)
    if constraints is None:
        return []
    return [san_string(gn) for gn in sans if not _permits(constraints, gn)]


def describe(ca_cert):
    """One line for messages: the permitted names of ``ca_cert`` (or 'none')."""
    constraints = of_certificate(ca_cert)
    if constraints is None:
        return "no name constraints"
    return ", ".join(constraints["permitted"]) or "nothing permitted"
