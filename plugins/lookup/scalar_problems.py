# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Booleans and numbers of the collection's variables that are not what their type says.

Reads the types from the roles' meta/argument_specs.yml and meta/shared_variables.yml at run time;
the decisions are module_utils/_scalars.py's.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: scalar_problems
short_description: Booleans and numbers of this collection's variables that are not what their type says
version_added: 0.1.0
author: dockyard.registry maintainers (@dockyard)
description:
  - C(-e name=value) and INI inventories hand every value over as a string, and a role's argument-spec
    validation checks a type without converting the variable. The roles read booleans with C(| bool) and
    numbers with C(| int); this lookup refuses, before anything changes, what those filters would misread.
  - Reads the variable types at run time from each named role's C(meta/argument_specs.yml) and from the
    collection's C(meta/shared_variables.yml) (the C(dockyard_*) booleans and numbers), and returns one
    message per bad value, naming the variable and what it accepts. A C(bool) takes C(true)/C(false) or
    the strings C(true)/C(false), C(yes)/C(no), C(on)/C(off), C(1)/C(0) in any case (what the C(bool)
    filter reads); an C(int) takes an integer or a string of digits; a C(float) a number. An empty
    value is accepted only where the spec has no default.
  - Without O(hosts) it checks the variables of the task, role defaults included (a role's preflight).
    With O(hosts) it checks, for each host, only what the inventory and the command line set for it
    (C(hostvars)); a message lists the hosts it applies to (C(playbooks/validate.yml)).
options:
  _terms:
    description: Roles of this collection whose variables are checked; none checks every role.
    type: list
    elements: str
  hosts:
    description: Inventory hosts whose C(hostvars) are checked instead of the task's variables.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Check the role's booleans and numbers (first task of a role's preflight)
  ansible.builtin.assert:
    that: __nginx_scalar_problems | length == 0
    fail_msg: "{{ __nginx_scalar_problems | join('; ') }}"
    quiet: true
  vars:
    __nginx_scalar_problems: "{{ query('dockyard.registry.scalar_problems', 'nginx') }}"

- name: Check what the inventory and -e set for every role, before any play changes a host
  ansible.builtin.assert:
    that: __problems | length == 0
    fail_msg: "{{ __problems | join('; ') }}"
    quiet: true
  vars:
    __problems: "{{ query('dockyard.registry.scalar_problems', hosts=groups['all'] + ['localhost']) }}"
  # -e nginx_blob_cache=maybe =>
  # nginx_blob_cache must be a boolean: true or false (yes/no, on/off, 1/0, any case), got 'maybe' (hosts: proxy1, localhost)
"""

RETURN = r"""
_raw:
  description: One message per bad value (empty when every value is fine).
  type: list
  elements: str
"""

from pathlib import Path

import yaml

from ansible.errors import AnsibleLookupError, AnsibleUndefinedVariable
from ansible.plugins.lookup import LookupBase

from ansible_collections.dockyard.registry.plugins.module_utils import _scalars

_COLLECTION = Path(__file__).resolve().parents[2]
_SHARED_SPECS = _COLLECTION / "meta" / "shared_variables.yml"


def _role_options(role):
    spec_file = _COLLECTION / "roles" / role / "meta" / "argument_specs.yml"
    if not spec_file.is_file():
        raise AnsibleLookupError("scalar_problems: %r is not a role of this collection (no %s)" % (role, spec_file))
    return yaml.safe_load(spec_file.read_text())["argument_specs"]["main"].get("options") or {}


def _all_roles():
    return sorted(p.parent.parent.name for p in (_COLLECTION / "roles").glob("*/meta/argument_specs.yml"))


def _values(names, lookup):
    """name -> value for the names ``lookup`` knows; a value that cannot be templated yet (it needs
    facts, say) is left to the role's own preflight."""
    values = {}
    for name in names:
        try:
            values[name] = lookup(name)
        except KeyError:
            continue
        except AnsibleUndefinedVariable:
            continue
    return values


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        options = {}
        for role in terms or _all_roles():
            options.update(_role_options(role))
        options.update(yaml.safe_load(_SHARED_SPECS.read_text())["options"])
        hosts = self.get_option("hosts")
        variables = variables or {}
        if hosts is None:
            def lookup(name):
                return self._templar.template(variables[name])

            return _scalars.scalar_problems(_values(options, lookup), options)
        hostvars = variables.get("hostvars", {})
        per_host = {}
        for host in hosts:
            if host not in hostvars:
                continue
            host_vars = hostvars[host]

            def lookup(name, host_vars=host_vars):
                if name not in host_vars:
                    raise KeyError(name)
                return host_vars[name]

            per_host[host] = _values(options, lookup)
        return _scalars.hosts_scalar_problems(per_host, options)
