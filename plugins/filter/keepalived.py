# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters for the keepalived role: VRRP peers from the inventory, keepalived.conf from the model
(see module_utils/_keepalived.py).

Documentation of each filter is in the YAML file of the same name next to this one.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.registry.plugins.module_utils import _keepalived


def keepalived_peers(hosts, hostvars):
    """``[{name, address, priority}]`` of every proxy, from inventory variables and gathered facts."""
    if isinstance(hosts, (str, bytes)) or not hasattr(hosts, "__iter__"):
        raise AnsibleFilterError("keepalived_peers expects a list of inventory host names, got %r" % (hosts,))
    try:
        return _keepalived.vrrp_peers(list(hosts), hostvars)
    except KeyError as exc:
        raise AnsibleFilterError("keepalived_peers: %s is not in the inventory" % exc)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


def keepalived_config(me, peers, **options):
    """keepalived.conf text for host ``me``."""
    try:
        return _keepalived.render_config(_keepalived.build_config(me, list(peers or []), **options))
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(str(exc))


def keepalived_auth_problems(secret, vrrp_version):
    """Why ``keepalived_auth_pass`` does not fit ``keepalived_vrrp_version`` (never showing it); [] when fine."""
    try:
        _keepalived.check_auth_pass(secret, vrrp_version)
    except ValueError as exc:
        return [str(exc)]
    return []


class FilterModule:
    def filters(self):
        return {
            "keepalived_peers": keepalived_peers,
            "keepalived_config": keepalived_config,
            "keepalived_auth_problems": keepalived_auth_problems,
        }
