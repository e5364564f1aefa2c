# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters for rules about the shared inventory facts (see module_utils/_inventory.py).
Documentation of each filter is in the YAML file of the same name next to this one.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.registry.plugins.module_utils import _inventory


def present_users(users, var="dockyard_registry_users"):
    """The users with ``state: present`` or no state."""
    try:
        return _inventory.present_users(users, var)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


def url_host(host):
    """An IPv6 literal in brackets; anything else unchanged."""
    return _inventory.url_host(host)


class FilterModule:
    def filters(self):
        return {"present_users": present_users, "url_host": url_host}
