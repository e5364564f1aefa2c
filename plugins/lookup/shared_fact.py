# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A shared dockyard_* fact, or its default (the defaults live in module_utils/_inventory.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: shared_fact
short_description: A shared dockyard_* inventory fact, or its documented default
version_added: 0.1.0
author: dockyard.registry maintainers (@dockyard)
description:
  - Returns the value of a collection-wide C(dockyard_*) fact (docs/inventory.md) as the inventory or
    C(-e) sets it for the current host, else its default. The defaults are written once, in the
    collection's C(plugins/module_utils/_inventory.py), so every role default and playbook that reads
    the fact agrees - C(dockyard_proxy_group) V(registry_proxy), C(dockyard_backends_group)
    V(registry_backends), C(dockyard_clients_group) V(registry_clients), C(dockyard_ca_dir)
    C(<inventory_dir, else playbook_dir>/.dockyard-ca), C(dockyard_ca_certificate_file)
    C(<dockyard_ca_dir>/trust-bundle.crt), C(dockyard_registry_address) C(dockyard_registry_vip)
    when that is set, else an empty string.
  - A fact set to C(null) counts as not set.
options:
  _terms:
    description: Names of shared facts.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: The proxies, whatever the inventory calls their group (also usable in a play's hosts)
  ansible.builtin.debug:
    msg: "{{ groups[lookup('dockyard.registry.shared_fact', 'dockyard_proxy_group')] }}"

- name: Where the ca role publishes the CA certificate on the controller
  ansible.builtin.debug:
    msg: "{{ lookup('dockyard.registry.shared_fact', 'dockyard_ca_certificate_file') }}"
  # nothing set, inventory in /srv/inv => /srv/inv/.dockyard-ca/trust-bundle.crt
"""

RETURN = r"""
_raw:
  description: The value of each named fact, in order.
  type: list
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.dockyard.registry.plugins.module_utils import _inventory


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        variables = variables or {}

        def get(name):
            return self._templar.template(variables[name])

        try:
            return [_inventory.shared_fact(term, get) for term in terms]
        except ValueError as exc:
            raise AnsibleLookupError("shared_fact: %s" % exc)
