# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: the Distribution registry ``config.yml`` model of the dockyard.registry collection.

This package is private to the dockyard.registry collection; other collections must not import it.
It imports nothing from Ansible and raises ``ValueError`` (naming the role variable at fault) on
bad input. It decides:

* which registry major version an image runs (``major_version``: explicit ``registry_version``
  or the image tag; ``version_errors``: the same check as messages, for preflight);
* whether a Go duration string (``168h``, ``10s``, ``1h30m``) is valid (``parse_duration``);
* what ``config.yml`` says for a set of role inputs and a major version (``build_config``), with
  every problem collected and named by its role variable (``config_errors``);
* what every backend behind the load balancer must share (storage, ``http.secret``, Redis) as
  comparable fingerprints (``lb_fingerprint``), and which peers differ (part of ``config_errors``).

``params`` holds the role inputs under the role variable names without the ``registry_`` prefix
(``storage_driver`` is ``registry_storage_driver``); the role builds it in ``vars/main.yml``.

One concern per module: ``versions`` (major version), ``storage`` (the six storage drivers),
``sections`` (every other section), ``problems`` (container environment, topology, load-balancing
fingerprints) and ``config`` (``build_config`` / ``config_errors``). Scalar parsing (booleans,
integers, durations) is ``plugins/module_utils/_scalars.py``. This file re-exports the public API
(what the ``registry_config`` filter and the tests use).

Version differences handled here (checked against the 2.8.2 and 3.x sources):

* 3.x removed the native ``oss`` (and ``swift``) drivers; Aliyun OSS is reached through the ``s3``
  driver at ``https://s3.oss-<region>[-internal].aliyuncs.com`` in virtual-hosted style.
* ``storage.s3.forcepathstyle`` exists only in 3.x (default false); 2.8 forces path-style requests
  whenever ``regionendpoint`` is set, which OSS rejects (403 SecondLevelDomainForbidden).
* Redis: ``redis.addr`` + ``pool.{maxidle,maxactive,idletimeout}`` + ``tls.enabled`` in 2.x;
  ``redis.addrs`` + ``maxidleconns``/``poolsize``/``connmaxidletime`` + client-certificate
  ``tls.{certificate,key,clientcas}`` in 3.x.
* ``storage.tag.concurrencylimit`` and ``storage.cache.blobdescriptorsize`` exist only in 3.x (2.8
  would read an unknown ``storage.tag`` key as a second storage driver and refuse to start).
"""

from __future__ import annotations

from ansible_collections.dockyard.registry.plugins.module_utils._registry_config.config import build_config, config_errors
from ansible_collections.dockyard.registry.plugins.module_utils._registry_config.problems import (
    env_problems,
    lb_fingerprint,
    lb_problems,
    topology_problems,
)
from ansible_collections.dockyard.registry.plugins.module_utils._registry_config.sections import (
    BLOBDESCRIPTOR_CACHES,
    CONTAINER_DEBUG_PORT,
    CONTAINER_PORT,
    LOG_FORMATTERS,
    LOG_LEVELS,
    listen_addresses,
)
from ansible_collections.dockyard.registry.plugins.module_utils._registry_config.storage import (
    DEFAULT_FILESYSTEM_ROOT,
    DRIVERS,
    GCS_CHUNK_MULTIPLE,
    MIN_S3_CHUNK,
    build_storage_driver,
    oss_region_id,
    oss_s3_endpoint,
    storage_driver,
)
from ansible_collections.dockyard.registry.plugins.module_utils._registry_config.versions import (
    SUPPORTED_MAJORS,
    image_tag,
    major_version,
    version_errors,
)
from ansible_collections.dockyard.registry.plugins.module_utils._scalars import parse_duration

__all__ = [
    "BLOBDESCRIPTOR_CACHES", "CONTAINER_DEBUG_PORT", "CONTAINER_PORT", "DEFAULT_FILESYSTEM_ROOT", "DRIVERS",
    "GCS_CHUNK_MULTIPLE", "LOG_FORMATTERS", "LOG_LEVELS", "MIN_S3_CHUNK", "SUPPORTED_MAJORS",
    "build_config", "build_storage_driver", "config_errors", "env_problems", "image_tag", "lb_fingerprint",
    "lb_problems", "listen_addresses", "major_version", "oss_region_id", "oss_s3_endpoint", "parse_duration",
    "storage_driver", "topology_problems", "version_errors",
]
