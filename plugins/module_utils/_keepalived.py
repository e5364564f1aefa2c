# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: the registry's virtual IP over the proxies with keepalived (VRRP).

This file is private to the dockyard.registry collection; other collections must not import it.
It imports nothing from Ansible and raises ``ValueError`` naming the variable at fault (never
echoing a secret). It owns:

* who the VRRP peers are (:func:`vrrp_peers`): every host of the proxy group with the address it
  speaks VRRP from (``keepalived_unicast_address``, else the IPv4 address of
  ``keepalived_interface``, else its default IPv4 address, from the inventory and gathered facts)
  and its priority (``keepalived_priority``, else 150 minus its position in the group);
* what ``keepalived.conf`` says (:func:`build_config` -> :func:`render_config`): one
  ``vrrp_instance`` holding the VIP, unicast peers only (no multicast: most clouds filter it) and
  ``check_unicast_src`` (adverts from other addresses are dropped), ``state BACKUP`` everywhere and
  ``nopreempt`` unless preemption is asked for (a proxy that comes back does not take the VIP back),
  a ``vrrp_script`` that follows nginx's health endpoint, and VRRPv2 PASS authentication (the
  password is in a separate file included by path) or VRRPv3 without authentication.

The lines that configure the health-check script are between ``# dockyard:script-begin`` and
``# dockyard:script-end`` markers: keepalived 2.2.7 (Debian 12) kills itself when ``keepalived -t``
meets a ``vrrp_script`` (fixed in 2.2.8), and the role's validation wrapper tests a copy without
them there.
"""

from __future__ import annotations

import ipaddress
import re

INSTANCE = "dockyard_registry"
SCRIPT = "dockyard_nginx_health"
SCRIPT_BEGIN = "# dockyard:script-begin"
SCRIPT_END = "# dockyard:script-end"
AUTH_PASS_MAX = 8
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]*$")
_INTERFACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,14}$")
_AUTH_PASS = re.compile(r"^[^\s#!\"'{}\\]{1,%d}$" % AUTH_PASS_MAX)
_PATH = re.compile(r"^/[^\s\"'#!{}]*$")


def _int(value, var, low, high):
    if isinstance(value, bool):
        raise ValueError("%s must be a number from %d to %d, got %r" % (var, low, high, value))
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValueError("%s must be a number from %d to %d, got %r" % (var, low, high, value))
    if not low <= number <= high:
        raise ValueError("%s must be from %d to %d, got %d" % (var, low, high, number))
    return number


def _bool(value, var):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ValueError("%s must be true or false, got %r" % (var, value))


def _ipv4(value, var):
    try:
        address = ipaddress.ip_address(str(value or "").strip())
    except ValueError:
        raise ValueError("%s must be an IPv4 address, got %r" % (var, value))
    if address.version != 4:
        raise ValueError("%s must be an IPv4 address (the role supports IPv4 VRRP only), got %r" % (var, value))
    if address.is_loopback or address.is_multicast or address.is_unspecified:
        raise ValueError("%s=%s is a loopback, multicast or unspecified address" % (var, value))
    return str(address)


def check_auth_pass(value, version):
    """Check ``keepalived_auth_pass`` for ``keepalived_vrrp_version`` without showing it."""
    version = _int(version, "keepalived_vrrp_version", 2, 3)
    secret = "" if value is None else str(value)
    if version == 3:
        if secret:
            raise ValueError("keepalived_auth_pass must be empty with keepalived_vrrp_version: 3 "
                             "(VRRPv3 has no authentication; keepalived would ignore it)")
        return ""
    if not _AUTH_PASS.match(secret):
        raise ValueError("keepalived_auth_pass must be 1 to %d characters without blanks, #, !, quotes, braces "
                         "or backslashes (VRRPv2 PASS authentication carries at most %d; the value is not shown)"
                         % (AUTH_PASS_MAX, AUTH_PASS_MAX))
    return secret


# ---------------------------------------------------------------------------------------------
# Peers
# ---------------------------------------------------------------------------------------------


def _facts(host_vars):
    facts = host_vars.get("ansible_facts") or {}
    return facts if hasattr(facts, "get") else {}


def peer_address(name, host_vars):
    """The address ``name`` speaks VRRP from (see the module docstring)."""
    explicit = host_vars.get("keepalived_unicast_address")
    if explicit:
        return _ipv4(explicit, "keepalived_unicast_address (%s)" % name)
    facts = _facts(host_vars)
    interface = host_vars.get("keepalived_interface")
    if interface:
        found = facts.get(str(interface).replace("-", "_").replace(":", "_")) or {}
        address = (found.get("ipv4") or {}).get("address") if hasattr(found, "get") else None
        if not address:
            raise ValueError("%s: no IPv4 address of keepalived_interface=%s in its facts; gather facts of every "
                             "proxy (playbooks/validate.yml does) or set keepalived_unicast_address" % (name, interface))
        return _ipv4(address, "the address of keepalived_interface (%s)" % name)
    default = facts.get("default_ipv4") or host_vars.get("ansible_default_ipv4") or {}
    address = default.get("address") if hasattr(default, "get") else None
    if not address:
        raise ValueError("%s: no default IPv4 address in its facts; gather facts of every proxy "
                         "(playbooks/validate.yml does) or set keepalived_unicast_address for it" % name)
    return _ipv4(address, "the default IPv4 address of %s" % name)


def vrrp_peers(hosts, hostvars):
    """``[{"name", "address", "priority"}]`` for every host of the proxy group, in group order."""
    names = list(hosts or [])
    if len(names) < 2:
        raise ValueError("a virtual IP needs at least two proxies in keepalived_group; found %s" % (names,))
    peers = []
    seen = {}
    for position, name in enumerate(names):
        host_vars = hostvars[name]
        address = peer_address(name, host_vars)
        if address in seen:
            raise ValueError("%s and %s both speak VRRP from %s; set keepalived_unicast_address" % (seen[address], name, address))
        seen[address] = name
        priority = host_vars.get("keepalived_priority")
        if priority in (None, "", 0, "0"):
            priority = max(1, 150 - position)
        peers.append({"name": str(name), "address": address,
                      "priority": _int(priority, "keepalived_priority (%s)" % name, 1, 254)})
    return peers


# ---------------------------------------------------------------------------------------------
# keepalived.conf
# ---------------------------------------------------------------------------------------------


def build_config(me, peers, vip, interface, virtual_router_id, vip_prefix=32, advert_int=1, preempt=False,
                 preempt_delay=0, vrrp_version=2, auth_file="", script="", script_user="keepalived_script",
                 check_interval=1, check_timeout=1, check_fall=2, check_rise=2, garp_master_delay=1,
                 garp_master_repeat=3):
    """The keepalived configuration model for host ``me`` (a name in ``peers``)."""
    by_name = {peer["name"]: peer for peer in peers}
    if me not in by_name:
        raise ValueError("%s is not one of the VRRP peers %s (keepalived_group)" % (me, sorted(by_name)))
    vip = _ipv4(vip, "keepalived_vip (default: dockyard_registry_vip)")
    clash = [peer["name"] for peer in peers if peer["address"] == vip]
    if clash:
        raise ValueError("keepalived_vip %s is the address of %s; the VIP must be an address no host has" % (vip, clash[0]))
    if not _INTERFACE.match(str(interface or "")):
        raise ValueError("keepalived_interface must be a network interface name (e.g. eth0), got %r" % (interface,))
    version = _int(vrrp_version, "keepalived_vrrp_version", 2, 3)
    if version == 2 and not auth_file:
        raise ValueError("VRRPv2 needs authentication here: set keepalived_auth_pass, or keepalived_vrrp_version: 3")
    if version == 3 and auth_file:
        raise ValueError("keepalived_vrrp_version 3 has no authentication: leave keepalived_auth_pass empty")
    if auth_file and not _PATH.match(str(auth_file)):
        raise ValueError("the authentication file must be an absolute path, got %r" % (auth_file,))
    if not _PATH.match(str(script or "")):
        raise ValueError("the health check script must be an absolute path, got %r" % (script,))
    if not _NAME.match(str(script_user or "")):
        raise ValueError("keepalived_script_user must be a user name, got %r" % (script_user,))
    timeout = _int(check_timeout, "keepalived_check_timeout", 1, 60)
    return {
        "router_id": str(me),
        "script_user": str(script_user),
        "script": {
            "path": str(script),
            "interval": _int(check_interval, "keepalived_check_interval", 1, 3600),
            # keepalived kills the script after this; the script's own timeout is check_timeout
            "timeout": timeout + 1,
            "fall": _int(check_fall, "keepalived_check_fall", 1, 100),
            "rise": _int(check_rise, "keepalived_check_rise", 1, 100),
        },
        "instance": {
            "interface": str(interface),
            "virtual_router_id": _int(virtual_router_id, "keepalived_virtual_router_id", 1, 255),
            "priority": by_name[me]["priority"],
            "advert_int": _int(advert_int, "keepalived_advert_int", 1, 255),
            "version": version,
            "preempt": _bool(preempt, "keepalived_preempt"),
            "preempt_delay": _int(preempt_delay, "keepalived_preempt_delay", 0, 1000),
            "unicast_src_ip": by_name[me]["address"],
            "unicast_peers": [peer["address"] for peer in peers if peer["name"] != me],
            "auth_file": str(auth_file or ""),
            "vip": "%s/%d" % (vip, _int(vip_prefix, "keepalived_vip_prefix", 1, 32)),
            "garp_master_delay": _int(garp_master_delay, "keepalived_garp_master_delay", 0, 255),
            "garp_master_repeat": _int(garp_master_repeat, "keepalived_garp_master_repeat", 1, 255),
        },
    }


def render_config(model):
    """keepalived.conf text for :func:`build_config`'s model (no secret in it)."""
    inst = model["instance"]
    script = model["script"]
    lines = [
        "global_defs {",
        "    router_id %s" % model["router_id"],
        "    # health checks run as this unprivileged user; scripts must be root-owned and not writable by others",
        "    script_user %s" % model["script_user"],
        "    enable_script_security",
        "}",
        "",
        SCRIPT_BEGIN,
        "# nginx's own health: its unauthenticated health endpoint over TLS, not just its process",
        "vrrp_script %s {" % SCRIPT,
        '    script "%s"' % script["path"],
        "    interval %d" % script["interval"],
        "    timeout %d" % script["timeout"],
        "    fall %d" % script["fall"],
        "    rise %d" % script["rise"],
        "}",
        SCRIPT_END,
        "",
        "vrrp_instance %s {" % INSTANCE,
        "    # every proxy starts as BACKUP; the election picks the highest priority",
        "    state BACKUP",
        "    interface %s" % inst["interface"],
        "    virtual_router_id %d" % inst["virtual_router_id"],
        "    priority %d" % inst["priority"],
        "    advert_int %d" % inst["advert_int"],
        "    version %d" % inst["version"],
    ]
    if inst["preempt"]:
        if inst["preempt_delay"]:
            lines.append("    preempt_delay %d" % inst["preempt_delay"])
    else:
        lines.append("    # a proxy that comes back does not take the VIP back (no second interruption)")
        lines.append("    nopreempt")
    lines += [
        "    # unicast only (multicast is filtered in most clouds); adverts from other sources are dropped",
        "    unicast_src_ip %s" % inst["unicast_src_ip"],
        "    unicast_peer {",
    ]
    lines += ["        %s" % address for address in inst["unicast_peers"]]
    lines += ["    }", "    check_unicast_src"]
    if inst["auth_file"]:
        lines += [
            "    # VRRPv2 PASS: the password travels in clear in every advert (see the role README)",
            "    authentication {",
            "        include %s" % inst["auth_file"],
            "    }",
        ]
    lines += [
        "    virtual_ipaddress {",
        "        %s dev %s" % (inst["vip"], inst["interface"]),
        "    }",
        "    garp_master_delay %d" % inst["garp_master_delay"],
        "    garp_master_repeat %d" % inst["garp_master_repeat"],
        "    " + SCRIPT_BEGIN,
        "    track_script {",
        "        %s" % SCRIPT,
        "    }",
        "    " + SCRIPT_END,
        "}",
    ]
    return "\n".join(lines) + "\n"
