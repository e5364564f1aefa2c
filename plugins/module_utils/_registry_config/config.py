# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: the entry points that assemble the registry ``config.yml``.

Private to the dockyard.registry collection; other collections must not import it. No Ansible
import. ``build_config`` returns the whole structure for the role inputs and a major version, or
raises ``ValueError`` listing every problem (one per line, each naming its role variable);
``config_errors`` returns that list.
"""

from __future__ import annotations

from ansible_collections.dockyard.registry.plugins.module_utils._registry_config.problems import (
    env_problems,
    lb_problems,
    topology_problems,
)
from ansible_collections.dockyard.registry.plugins.module_utils._registry_config.sections import (
    _auth,
    _health,
    _http,
    _log,
    _notifications,
    _redis,
    _storage_cache,
    _storage_maintenance,
    _storage_tag,
)
from ansible_collections.dockyard.registry.plugins.module_utils._registry_config.storage import (
    build_storage_driver,
    storage_driver,
)
from ansible_collections.dockyard.registry.plugins.module_utils._registry_config.versions import (
    major_version,
)


def _collect(params, version):
    """``(config, errors)``; ``config`` is None when anything is wrong."""
    errors = []
    if not isinstance(params, dict):
        return None, ["registry_config: the parameters must be a dictionary, got %r" % type(params).__name__]
    try:
        major = major_version(params.get("image"), version)
    except ValueError as exc:
        return None, [str(exc)]

    config = {"version": "0.1"}

    def run(key, builder):
        try:
            value = builder()
        except ValueError as exc:
            errors.append(str(exc))
            return
        if value is not None:
            config[key] = value

    storage = {}

    def run_storage(builder):
        try:
            storage.update(builder())
        except ValueError as exc:
            errors.append(str(exc))

    run("log", lambda: _log(params, major))
    run_storage(lambda: dict([build_storage_driver(params, major)]))
    run_storage(lambda: _storage_cache(params, major))
    run_storage(lambda: _storage_maintenance(params, major))
    run_storage(lambda: _storage_tag(params, major))
    config["storage"] = storage
    run("http", lambda: _http(params, major))
    run("auth", lambda: _auth(params, major))
    run("notifications", lambda: _notifications(params, major))
    run("redis", lambda: _redis(params, major))
    run("health", lambda: _health(params, major))

    errors.extend(env_problems(params, major))
    try:
        errors.extend(topology_problems(params, storage_driver(params)))
    except ValueError:
        pass  # already reported by the storage section
    errors.extend(lb_problems(params))
    return (None if errors else config), errors


def config_errors(params, version=None):
    """Every problem with the role inputs, each naming its variable; ``[]`` when all is well."""
    return _collect(params, version)[1]


def build_config(params, version=None):
    """The ``config.yml`` structure for ``params`` and a registry version (``''``: from the tag).

    Raises ValueError listing every problem (one per line), each naming its role variable.
    """
    config, errors = _collect(params, version)
    if errors:
        raise ValueError("\n".join(errors))
    return config
