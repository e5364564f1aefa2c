# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Access rules of the token service (dockyard_registry_access); see module_utils/_token_access.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: token_access
short_description: Check the registry access rules, or turn them into the token service's policy
version_added: 0.2.0
author: dockyard.registry maintainers
description:
  - With O(output=problems) returns every problem of the rules as a message naming the variable
    (unknown actions, bad repository patterns, duplicate users, users missing from
    O(users)); an empty list means valid. Never fails.
  - With O(output=policy) returns the normal form the token service reads (C(access.json)); fails
    with the same messages on invalid rules.
  - "Rules: C({users: [{name, rules: [{repositories: [patterns], actions: [pull, push, delete]}],
    catalog: bool}], anonymous_pull: [patterns]}). Users not listed may do everything."
positional: _input
options:
  _input:
    description: The rules (C(dockyard_registry_access)); null means none.
    type: dict
    required: true
  users:
    description: Names of the registry users (C(dockyard_registry_users)); rules for other names are refused.
    type: list
    elements: str
  output:
    description: C(problems) or C(policy).
    type: str
    default: problems
  var:
    description: Variable name used in messages.
    type: str
    default: dockyard_registry_access
"""

EXAMPLES = r"""
- name: Refuse invalid access rules
  ansible.builtin.assert:
    that: __problems | length == 0
    fail_msg: "{{ __problems | join('; ') }}"
  vars:
    __problems: "{{ dockyard_registry_access | dockyard.registry.token_access(users=dockyard_registry_users | map(attribute='name')) }}"
"""

RETURN = r"""
_value:
  description: A list of problems (O(output=problems)) or the policy dict (O(output=policy)).
  type: raw
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.registry.plugins.module_utils import _token_access


def token_access(access, users=None, output="problems", var="dockyard_registry_access"):
    names = None if users is None else [str(u) for u in users]
    if output == "problems":
        return _token_access.access_problems(access, names, var)
    if output == "policy":
        try:
            return _token_access.normalize_access(access, names, var)
        except ValueError as exc:
            raise AnsibleFilterError(str(exc))
    raise AnsibleFilterError("token_access: output must be problems or policy, got %r" % (output,))


class FilterModule:
    def filters(self):
        return {"token_access": token_access}
