# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The registry part of image references (``name`` or ``name:port``); see module_utils/_registry_ref.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: registry_host
short_description: The registry host as clients write it in image references
version_added: 0.1.0
author: dockyard.registry maintainers
description:
  - Returns the registry part of an image reference for a registry name and HTTPS port,
    C(name) when the port is 443 and C(name:port) otherwise. IPv6 addresses are bracketed.
  - This is the directory name under C(/etc/docker/certs.d), C(/etc/containers/certs.d) and
    C(/etc/containerd/certs.d), and the key C(docker login) stores credentials under. Docker looks
    the directory up with the port exactly as the image reference has it, so a registry on 443 must
    not get a C(name:443) directory.
  - Fails with a message that names the variable at fault when the name is not a DNS name or IP
    address (for example a URL, or a name with a port) or the port is not 1-65535.
positional: _input, port
options:
  _input:
    description: The registry's DNS name or IP address, without scheme, port or path.
    type: str
    required: true
  port:
    description: The HTTPS port clients use. V(null) means 443.
    type: int
    default: 443
  name_var:
    description: Variable name to use in error messages about the name.
    type: str
    default: dockyard_registry_name
  port_var:
    description: Variable name to use in error messages about the port.
    type: str
    default: dockyard_registry_port
"""

EXAMPLES = r"""
- name: Directory Docker reads the registry's CA from
  ansible.builtin.debug:
    msg: "/etc/docker/certs.d/{{ dockyard_registry_name | dockyard.registry.registry_host(dockyard_registry_port) }}/ca.crt"
  # registry.example.com, 443  => /etc/docker/certs.d/registry.example.com/ca.crt
  # registry.example.com, 5043 => /etc/docker/certs.d/registry.example.com:5043/ca.crt
  # 2001:db8::10, 5000         => /etc/docker/certs.d/[2001:db8::10]:5000/ca.crt

- name: Name the role variable in error messages
  ansible.builtin.set_fact:
    __host: "{{ client_trust_registry_name | dockyard.registry.registry_host(client_trust_registry_port,
                name_var='client_trust_registry_name', port_var='client_trust_registry_port') }}"
"""

RETURN = r"""
_value:
  description: C(name) for port 443, C(name:port) otherwise; IPv6 addresses in brackets.
  type: str
  sample: registry.example.com:5043
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.registry.plugins.module_utils._registry_ref import registry_host as _registry_host


def registry_host(name, port=443, name_var="dockyard_registry_name", port_var="dockyard_registry_port"):
    """``name`` for 443, ``name:port`` otherwise; AnsibleFilterError naming the variable on bad input."""
    try:
        return _registry_host(name, port, name_var=name_var, port_var=port_var)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule:
    def filters(self):
        return {"registry_host": registry_host}
