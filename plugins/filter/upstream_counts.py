# -*- coding: utf-8 -*-
# Copyright: dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter: count which upstream (backend) served each request in nginx access log lines."""

from __future__ import annotations

import re

DOCUMENTATION = r"""
name: upstream_counts
short_description: Count requests per backend from nginx access log lines
version_added: 0.1.0
description:
  - Reads the C($upstream_addr) field (a double-quoted C(address:port) list) of each access log
    line written with the log format of the M(dockyard.registry.nginx) role and counts, per backend,
    the requests it finally answered (the last address of the list; earlier ones were retried).
  - Lines without an upstream (answered by nginx itself, for example its own 401) count as C(nginx).
options:
  _input:
    description: Access log lines.
    type: list
    elements: str
    required: true
  names:
    description: Maps backend addresses (C(ip) or C(ip:port)) to names; unmapped ones are shown as they are.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Requests per backend
  ansible.builtin.debug:
    msg: "{{ log.stdout_lines | dockyard.registry.upstream_counts({'10.0.0.11': 'backend1'}) }}"
"""

RETURN = r"""
_value:
  description: Backend name (or address) to number of requests.
  type: dict
"""

_ADDR = r"(?:\[[0-9a-fA-F:]+\]|[\w.-]+):\d+"
_UPSTREAM = re.compile(r'"(' + _ADDR + r"(?:, (?:" + _ADDR + r"|-))*)\"")


def upstream_counts(lines, names=None):
    """Count the final upstream of each log line, mapping addresses to names."""
    names = names or {}
    counts = {}
    for line in lines or []:
        matches = _UPSTREAM.findall(line)
        if not matches:
            key = "nginx"
        else:
            last = matches[-1].split(", ")[-1]
            host = last.rsplit(":", 1)[0].strip("[]")
            key = names.get(last) or names.get(host) or last
        counts[key] = counts.get(key, 0) + 1
    return counts


class FilterModule:
    """dockyard.registry upstream_counts filter."""

    def filters(self):
        return {"upstream_counts": upstream_counts}
