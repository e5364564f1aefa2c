# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: names in certificates: subjects, DNS names, IP addresses, subjectAltName entries."""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.dockyard.registry.plugins.module_utils._x509.common import COMMON_NAME_MAX

try:
    from cryptography import x509
    from cryptography.x509.oid import NameOID
except ImportError:
    pass  # common.HAS_CRYPTOGRAPHY is False: the modules fail with missing_required_lib first

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
