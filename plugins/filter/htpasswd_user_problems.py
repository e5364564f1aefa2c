# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Preflight check of htpasswd user names; the rule lives in module_utils/_htpasswd_plan.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: htpasswd_user_problems
short_description: What is wrong with the user names of an htpasswd user list
version_added: 0.1.0
author: dockyard.registry maintainers
description:
  - Returns one message per problem with the names in a list of C({name, password, state})
    dictionaries, an empty list when every name can be written to an htpasswd file.
  - The same rule as the M(dockyard.registry.htpasswd) module's, so roles refuse a bad name in their
    preflight, before anything is built or written, instead of the module failing halfway through
    a run. Refused are an empty or missing name, a colon, a newline or other control character, a
    leading C(#) (the line would be a comment), leading or trailing whitespace, and a name listed
    twice.
  - Each message starts with O(var) and the index of the entry and names the bad name (newlines and
    control characters escaped). Passwords never appear in a message.
positional: _input, var
options:
  _input:
    description: The user list, for example C(nginx_users).
    type: list
    elements: dict
    required: true
  var:
    description: Variable name to start each message with.
    type: str
    default: users
"""

EXAMPLES = r"""
- name: Check the registry user names
  ansible.builtin.assert:
    that: __problems | length == 0
    fail_msg: "{{ __problems | join('; ') }}"
    quiet: true
  vars:
    __problems: "{{ nginx_users | dockyard.registry.htpasswd_user_problems('nginx_users') }}"
  # nginx_users[1]: user name 'al:ice' must not contain a colon (':')
"""

RETURN = r"""
_value:
  description: One message per problem; empty when every name is fine.
  type: list
  elements: str
  sample: ["nginx_users[2]: user 'ci' is listed more than once"]
"""

from ansible_collections.dockyard.registry.plugins.module_utils._htpasswd_plan import user_list_problems


def htpasswd_user_problems(users, var="users"):
    """Messages about the names in ``users`` (never a password); empty when all are fine."""
    return user_list_problems(users, var)


class FilterModule:
    def filters(self):
        return {"htpasswd_user_problems": htpasswd_user_problems}
