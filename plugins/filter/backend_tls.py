# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter: what playbooks/backend-tls.yml must do (see module_utils/_backend_tls.py)."""

from __future__ import annotations

import base64

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.registry.plugins.module_utils import _backend_tls

DOCUMENTATION = r"""
name: backend_tls_plan
short_description: Decide whether the proxy-to-backend hop must switch between plain HTTP and mutual TLS
version_added: 0.2.0
author: dockyard.registry maintainers (@dockyard)
description:
  - Reads each proxy's nginx configuration (as returned by M(ansible.builtin.slurp)) and tells whether it
    talks mutual TLS to the backends (it presents a client certificate), and which backends still run a
    bridge container of an interrupted switch.
  - Used by C(playbooks/backend-tls.yml); the result is C({switch, other_mode, bridges, message}).
options:
  _input:
    description: Proxy names.
    type: list
    elements: str
    required: true
  hostvars:
    description: The C(hostvars) magic variable.
    type: dict
    required: true
  target:
    description: The mode to switch to (V(true) mutual TLS, V(false) plain HTTP).
    type: bool
    required: true
  backends:
    description: Backend names.
    type: list
    elements: str
    default: []
  conf_var:
    description: The host variable holding the registered slurp result of nginx.conf on each proxy.
    type: str
    default: __backend_tls_conf
  bridge_var:
    description: The host variable holding the registered container info of the bridge on each backend.
    type: str
    default: __backend_tls_bridge
"""

EXAMPLES = r"""
- name: Decide
  ansible.builtin.set_fact:
    plan: "{{ groups['registry_proxy'] | dockyard.registry.backend_tls_plan(hostvars, target=true,
              backends=groups['registry_backends']) }}"
"""

RETURN = r"""
_value:
  description: C(switch) (bool), C(other_mode) (proxies in the other mode), C(bridges) (backends with a bridge), C(message).
  type: dict
"""


def _get(hostvars, name, var):
    try:
        host = hostvars[name]
    except KeyError:
        raise AnsibleFilterError("backend_tls_plan: %s is not in the inventory" % name)
    return host.get(var) if hasattr(host, "get") else None


def backend_tls_plan(proxies, hostvars, target, backends=(), conf_var="__backend_tls_conf",
                     bridge_var="__backend_tls_bridge"):
    confs = {}
    for name in proxies or []:
        result = _get(hostvars, name, conf_var) or {}
        content = result.get("content") if hasattr(result, "get") else None
        confs[name] = base64.b64decode(content).decode("utf-8", "replace") if content else ""
    bridges = [name for name in backends or []
               if ((_get(hostvars, name, bridge_var) or {}).get("exists") is True)]
    try:
        return _backend_tls.switch_plan(confs, bridges, target)
    except ValueError as exc:
        raise AnsibleFilterError("backend_tls_plan: %s" % exc)


class FilterModule:
    def filters(self):
        return {"backend_tls_plan": backend_tls_plan}
