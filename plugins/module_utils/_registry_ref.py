# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: how clients write the registry's address, for the dockyard.registry collection.

This file is private to the dockyard.registry collection; other collections must not import it.
It imports nothing from Ansible and raises ``ValueError`` (naming the variable at fault) on bad
input. It decides:

* what the registry part of an image reference is (``registry_host``): ``name`` for port 443 and
  ``name:port`` otherwise, IPv6 literals in brackets. Docker (``/etc/docker/certs.d``), the
  containers libraries of podman/skopeo/buildah (``/etc/containers/certs.d``) and containerd
  (``/etc/containerd/certs.d``) look up a directory named exactly like that, and ``docker login``
  stores credentials under it, so the port must appear exactly as clients write it: a reference
  to ``registry.example.com/app`` never looks in ``registry.example.com:443``;
* whether a registry name (DNS name, IPv4 or IPv6 address) and port are valid
  (``validate_name``, ``validate_port``).
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.dockyard.registry.plugins.module_utils import _scalars

DEFAULT_PORT = 443

# One DNS label: letters, digits and inner hyphens, at most 63 characters (RFC 1123). Underscores
# are refused: they are not valid in host names and Go's TLS stack rejects them in SAN matching.
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_DIGITS = re.compile(r"^[0-9]+$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _ipv6(text):
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        return None


def validate_name(name, var="dockyard_registry_name"):
    """Return the registry name as written in image references, without a port.

    Accepts a DNS name (``registry.example.com``), an IPv4 address or an IPv6 address with or
    without brackets (``2001:db8::1`` or ``[2001:db8::1]``; the result is always bracketed).
    Raises ValueError naming ``var`` for anything else: empty values, URLs, paths, ports
    (``name:5000``: the port belongs in the port variable), zone ids, underscores.
    """
    if name is None or isinstance(name, bool) or not isinstance(name, str):
        raise ValueError("%s must be the registry's DNS name or IP address (a string), got %r" % (var, name))
    text = name.strip()
    if not text:
        raise ValueError("%s must be the registry's DNS name or IP address, e.g. registry.example.com; it is empty"
                         % var)
    if _SCHEME.match(text) or "/" in text:
        raise ValueError("%s must be a bare host name such as registry.example.com, without scheme or path; got %r"
                         % (var, name))
    if text.startswith("["):
        if not text.endswith("]"):
            raise ValueError("%s %r looks like a bracketed IPv6 address with a port or a typo; "
                             "give the address alone and the port in the port variable" % (var, name))
        inner = text[1:-1]
        if _ipv6(inner) is None or "%" in inner:
            raise ValueError("%s %r is not a valid IPv6 address (zone ids are not allowed)" % (var, name))
        return "[%s]" % inner
    if ":" in text:
        if _ipv6(text) is not None and "%" not in text:
            return "[%s]" % text
        head, _sep, tail = text.rpartition(":")
        if _DIGITS.match(tail) and head and ":" not in head:
            raise ValueError("%s %r contains a port; set the name alone (%s) and the port in the port variable"
                             % (var, name, head))
        raise ValueError("%s %r is neither a DNS name nor an IP address" % (var, name))
    try:
        ipaddress.IPv4Address(text)
        return text
    except ValueError:
        pass
    if len(text.rstrip(".")) > 253:
        raise ValueError("%s %r is longer than 253 characters, the limit of a DNS name" % (var, name))
    if text.endswith("."):
        raise ValueError("%s %r ends with a dot; write the name as clients do in image references, "
                         "without the trailing dot" % (var, name))
    labels = text.split(".")
    for label in labels:
        if not _LABEL.match(label):
            raise ValueError("%s %r is not a valid DNS name: label %r must be 1-63 letters, digits or inner "
                             "hyphens" % (var, name, label))
    if _DIGITS.match(labels[-1]):
        raise ValueError("%s %r is neither a valid IPv4 address nor a DNS name (the last label is numeric)"
                         % (var, name))
    return text


def validate_port(port, var="dockyard_registry_port"):
    """Return the port as an int in 1..65535; accept ints and digit strings, refuse booleans."""
    try:
        return _scalars._int(var, port, 1, 65535)
    except ValueError:
        raise ValueError("%s must be a TCP port number 1-65535, got %r" % (var, port))


def registry_host(name, port=DEFAULT_PORT, name_var="dockyard_registry_name", port_var="dockyard_registry_port"):
    """The registry part of image references: ``name`` for 443, ``name:port`` otherwise.

    This is also the directory name under ``/etc/docker/certs.d``, ``/etc/containers/certs.d`` and
    ``/etc/containerd/certs.d`` and the key ``docker login`` stores credentials under.
    """
    host = validate_name(name, name_var)
    number = validate_port(DEFAULT_PORT if port is None else port, port_var)
    if number == DEFAULT_PORT:
        return host
    return "%s:%d" % (host, number)
