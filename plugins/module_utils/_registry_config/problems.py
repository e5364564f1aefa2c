# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: problems that are not about one ``config.yml`` section.

Private to the dockyard.registry collection; other collections must not import it. No Ansible
import. ``env_problems``: the container environment (secrets or ``REGISTRY_*`` overrides where
``docker inspect`` shows them); ``topology_problems``: storage drivers several backends cannot
share; ``lb_fingerprint`` / ``lb_problems``: digests of what every backend behind the load balancer
must share (storage, ``http.secret``, Redis) and which peers differ. Only digests leave this
module, never secrets.
"""

from __future__ import annotations

import hashlib
import json
import re

from ansible_collections.dockyard.registry.plugins.module_utils._scalars import (
    _bool,
    _dict,
    _shown,
)
from ansible_collections.dockyard.registry.plugins.module_utils._registry_config.storage import (
    DRIVERS,
    oss_region_id,
    _present,
)

_SECRET_ENV = re.compile(r"(SECRET|PASSW|TOKEN|ACCESS_?KEY|ACCOUNT_?KEY|CREDENTIAL|PRIVATE_?KEY)", re.IGNORECASE)


def env_problems(params, major):
    """Problems with ``registry_env`` (the container environment is visible in ``docker inspect``)."""
    problems = []
    env = params.get("env")
    try:
        env = _dict("registry_env", env)
    except ValueError as exc:
        return [str(exc)]
    for name in sorted(env, key=str):
        value = env[name]
        text = str(name)
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", text):
            problems.append("registry_env: %r is not a valid environment variable name" % text)
        elif text.upper().startswith("REGISTRY_"):
            problems.append(
                "registry_env: %s would override config.yml from the environment, where docker inspect shows it "
                "and the backends' consistency check cannot see it; set the matching registry_* variable instead" % text
            )
        elif text == "AWS_CA_BUNDLE" and major == 2:
            problems.append("registry_env: AWS_CA_BUNDLE makes Distribution 2.8 panic at start; "
                            "mount the CA into the image's trust store instead")
        elif _SECRET_ENV.search(text):
            problems.append(
                "registry_env: %s looks like a secret; secrets belong in config.yml (mode 0600) only, never in the "
                "container environment that docker inspect shows" % text
            )
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            # The type only: the value may be a secret.
            problems.append("registry_env: the value of %s must be a string (quote it), got %s" % (text, _shown(value)))
    return problems


def topology_problems(params, driver):
    """Storage drivers that cannot be shared by several backends."""
    backends = params.get("backends") or []
    if not isinstance(backends, (list, tuple)) or len(backends) < 2:
        return []
    if driver == "inmemory":
        return ["registry_storage_driver: 'inmemory' keeps images inside one process; %d backends (%s) "
                "would each see different content. Use it for single-backend tests only"
                % (len(backends), ", ".join(str(b) for b in backends))]
    if driver == "filesystem" and not _bool("registry_filesystem_shared", params.get("filesystem_shared", False)):
        return ["registry_storage_driver: 'filesystem' with %d backends (%s): each host would keep its own "
                "copy and pushes through one backend would be missing on the others. Mount the same shared "
                "filesystem (NFS, CephFS) at registry_filesystem_host_dir on every backend and set "
                "registry_filesystem_shared: true, or use object storage (s3, oss, azure, gcs)"
                % (len(backends), ", ".join(str(b) for b in backends))]
    return []


# ---------------------------------------------------------------------------------------------
# Load-balancing consistency
# ---------------------------------------------------------------------------------------------

_LB_KINDS = ("storage", "http_secret", "redis")


def _digest(value):
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def lb_fingerprint(params):
    """Digests of what every backend behind the load balancer must share.

    They are computed from the role *inputs*, not from the rendered section, so a rolling
    upgrade from a 2.x image (native ``oss``) to a 3.x image (``s3`` at the OSS endpoint) over
    the same bucket compares equal. Only digests leave this function, never the secrets.
    """
    driver = params.get("storage_driver")
    driver = str(driver).strip() if driver is not None else ""
    section = params.get("storage_" + driver) if driver in DRIVERS else None
    inputs = _present(section) if isinstance(section, dict) else {}
    if driver == "oss":
        # The same bucket whatever the implementation (api) and however the region is written.
        inputs.pop("api", None)
        try:
            inputs["region"] = oss_region_id(inputs.get("region"))
        except ValueError:
            pass
    storage = {"driver": driver, "params": inputs, "extra": params.get("storage_extra_params") or {}}
    if driver == "filesystem":
        storage["shared"] = params.get("filesystem_shared", False)
    redis = None
    if params.get("blobdescriptor_cache", "inmemory") == "redis":
        redis = {"addrs": params.get("redis_addrs"), "db": params.get("redis_db") or 0}
    return {
        "storage": _digest(storage),
        "http_secret": _digest(str(params.get("http_secret") or "")),
        "redis": _digest(redis),
    }


def lb_problems(params):
    """Which backends would disagree with this one (``params['lb_peers']``: host -> fingerprint)."""
    peers = params.get("lb_peers") or {}
    if not isinstance(peers, dict) or not peers:
        return []
    me = str(params.get("host") or "this backend")
    mine = lb_fingerprint(params)
    differ = {kind: [] for kind in _LB_KINDS}
    for host in sorted(peers, key=str):
        theirs = peers[host]
        if str(host) == me or not isinstance(theirs, dict):
            continue
        for kind in _LB_KINDS:
            if theirs.get(kind) not in (None, mine[kind]):
                differ[kind].append(str(host))
    problems = []
    if differ["storage"]:
        problems.append(
            "registry_storage_driver/registry_storage_*: %s would use different storage than %s. Every backend "
            "behind the load balancer must use the same driver, bucket, credentials and rootdirectory, or an "
            "image pushed through one backend is missing on the others; define the storage once for the "
            "backends group, not per host" % (me, ", ".join(differ["storage"]))
        )
    if differ["http_secret"]:
        problems.append(
            "registry_http_secret: %s would get a different http.secret than %s. Chunked uploads that move "
            "between backends would fail with 'blob upload unknown'; set dockyard_http_secret once (vaulted) "
            "or leave it unset everywhere so the secret generated on the controller is used"
            % (me, ", ".join(differ["http_secret"]))
        )
    if differ["redis"]:
        problems.append(
            "registry_blobdescriptor_cache/registry_redis_*: %s would use a different Redis cache than %s; "
            "backends must share the cache (or all use inmemory)" % (me, ", ".join(differ["redis"]))
        )
    return problems
