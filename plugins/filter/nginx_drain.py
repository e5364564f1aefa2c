# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that let the nginx role render drained backends as the nginx_drain module writes them.

All decisions are in module_utils/_nginx_drain.py; documentation of each filter is in the YAML
file of the same name next to this one.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.registry.plugins.module_utils import _nginx_drain


def _wrap(func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except (ValueError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("%s: %s" % (func.__name__, exc))


def nginx_server_directive(line, name, drained=False):
    """``server <line>[ down];  # dockyard-backend=<name>[ drained]`` for nginx.conf."""
    return _wrap(_nginx_drain.server_directive, line, name, bool(drained))


def nginx_upstream_known(conf_text):
    """``{names, endpoints, drained}`` of the upstream in a rendered nginx.conf ('' when there is none)."""
    members = _wrap(_nginx_drain.upstream_members, conf_text or "")
    return {"names": [m["name"] for m in members],
            "endpoints": _wrap(_nginx_drain.server_endpoints, conf_text or ""),
            "drained": [m["name"] for m in members if m["drained"]]}


def nginx_drain_plan(servers, previous=None, known=None, healthy=None, absent=None):
    """``{name: reason}`` of the backends the role renders down (see _nginx_drain.plan_drained)."""
    known = known or {}
    return _wrap(_nginx_drain.plan_drained, previous or {}, list(servers or []), known.get("names", []),
                 known.get("endpoints", []), dict(healthy or {}), list(absent or []))


def nginx_new_backends(servers, known=None):
    """The upstream servers a proxy has never had (by tag or by endpoint)."""
    known = known or {}
    names = set(_wrap(_nginx_drain.new_backends, list(servers or []), known.get("names", []),
                      known.get("endpoints", [])))
    return [server for server in servers or [] if server["name"] in names]


def nginx_upstream_state(drained, conf, binary, pid_file):
    """The text of the upstream state file."""
    state = _wrap(_nginx_drain.new_state, conf, binary, pid_file, dict(drained or {}))
    return _wrap(_nginx_drain.dump_state, state)


def nginx_upstream_state_load(text):
    """The drained mapping of a state file's text ({} for an empty text)."""
    if not (text or "").strip():
        return {}
    return _wrap(_nginx_drain.load_state, text)["drained"]


class FilterModule:
    def filters(self):
        return {
            "nginx_server_directive": nginx_server_directive,
            "nginx_upstream_known": nginx_upstream_known,
            "nginx_drain_plan": nginx_drain_plan,
            "nginx_new_backends": nginx_new_backends,
            "nginx_upstream_state": nginx_upstream_state,
            "nginx_upstream_state_load": nginx_upstream_state_load,
        }
