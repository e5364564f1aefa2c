# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that turn inventory facts into the nginx configuration model (see module_utils/_nginx.py).

Documentation of each filter is in the YAML file of the same name next to this one.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.registry.plugins.module_utils import _nginx, _nginx_build_cache


def _wrap(func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


def nginx_backends(hosts, hostvars, defaults=None):
    """Backend dicts from the backend group's host names and ``hostvars``."""
    if hosts is None:
        return []
    if isinstance(hosts, (str, bytes)) or not hasattr(hosts, "__iter__"):
        raise AnsibleFilterError("nginx_backends expects a list of inventory host names, got %r" % (hosts,))
    if defaults is not None and not isinstance(defaults, Mapping):
        raise AnsibleFilterError("nginx_backends: defaults must be a dict, got %r" % (defaults,))
    backends = []
    for name in hosts:
        try:
            host_vars = hostvars[name]
        except KeyError:
            raise AnsibleFilterError("nginx_backends: %s is not in the inventory" % name)
        merged = {}
        for var in list(_nginx.BACKEND_HOSTVARS.values()) + ["ansible_host", "ansible_default_ipv4"]:
            value = host_vars.get(var) if hasattr(host_vars, "get") else None
            if value is None and defaults:
                value = defaults.get(var)
            if value is not None:
                merged[var] = value
        backends.append(_nginx.backend_from_hostvars(name, merged))
    return backends


def nginx_upstream(backends, method="round_robin", hash_key="$request_uri", hash_consistent=True,
                   random_two=False, group_var="nginx_backends_group", version=None):
    """The upstream model (balancing directive + server lines)."""
    return _wrap(_nginx.build_upstream, list(backends or []), method=method, hash_key=hash_key,
                 hash_consistent=hash_consistent, random_two=random_two, group_var=group_var, version=version)


def nginx_upstream_problems(backends, method="round_robin", group_var="nginx_backends_group", version=None):
    """Messages naming the variable for every upstream problem; empty when the upstream is valid."""
    return _nginx.upstream_problems(list(backends or []), method=method, group_var=group_var, version=version)


def nginx_listen_problems(listeners, backends=None, local_names=None):
    """Messages for every port clash among the proxy's listeners and local backends."""
    return _nginx.listen_problems(list(listeners or []), list(backends or []), list(local_names or []))


def nginx_configure_args(flags, prefix, user, group, extra_flags=None, required_flags=None):
    """The full ./configure argument list."""
    return _wrap(_nginx.configure_args, prefix, user, group, flags=flags, extra_flags=extra_flags or [],
                 required_flags=required_flags or [])


def nginx_build_recipe(version, source_sha256, configure_args, facts):
    """``{"id", "fingerprint", "recipe"}`` of an nginx build on a host with these ``ansible_facts``."""
    if not isinstance(facts, Mapping):
        raise AnsibleFilterError("nginx_build_recipe: facts must be the host's ansible_facts, got %r" % (facts,))
    return _wrap(lambda: _nginx_build_cache.describe(_nginx_build_cache.build_recipe(
        version, source_sha256, list(configure_args or []), facts.get("distribution"),
        facts.get("distribution_major_version"), facts.get("architecture"))))


class FilterModule:
    def filters(self):
        return {
            "nginx_backends": nginx_backends,
            "nginx_upstream": nginx_upstream,
            "nginx_upstream_problems": nginx_upstream_problems,
            "nginx_listen_problems": nginx_listen_problems,
            "nginx_configure_args": nginx_configure_args,
            "nginx_build_recipe": nginx_build_recipe,
        }
