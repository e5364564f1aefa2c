# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of ``_registry_config.problems``: what backends behind the load balancer must share.
"""

from __future__ import annotations

from ansible_collections.dockyard.registry.plugins.module_utils import _registry_config as rc
from ansible_collections.dockyard.registry.tests.unit.plugins.module_utils._registry_config.inputs import (
    OSS,
    S3_CEPH,
    SECRET,
    params,
)


# ---------------------------------------------------------------------------------------------
# Load-balancing consistency
# ---------------------------------------------------------------------------------------------


def _with_peers(me, *others):
    peers = {p["host"]: rc.lb_fingerprint(p) for p in (me,) + others}
    return dict(me, lb_peers=peers)


def test_fingerprint_has_digests_only():
    fp = rc.lb_fingerprint(params(storage_driver="s3", storage_s3=S3_CEPH))
    assert sorted(fp) == ["http_secret", "redis", "storage"]
    assert all(len(v) == 64 for v in fp.values())
    assert "ceph-secret" not in str(fp) and SECRET not in str(fp)


def test_identical_backends_agree():
    b1 = params(host="b1", storage_driver="s3", storage_s3=S3_CEPH, backends=["b1", "b2"])
    b2 = params(host="b2", storage_driver="s3", storage_s3=dict(S3_CEPH), backends=["b1", "b2"],
                listen_address="10.0.0.12", port=5001)  # per-host address and port may differ
    assert rc.config_errors(_with_peers(b1, b2), "3") == []


def test_backends_disagreeing_are_named():
    b1 = params(host="b1", storage_driver="s3", storage_s3=S3_CEPH)
    b2 = params(host="b2", storage_driver="s3", storage_s3=S3_CEPH, http_secret="another-secret-of-enough-length")
    b3 = params(host="b3", storage_driver="s3", storage_s3=dict(S3_CEPH, bucket="other"))
    b4 = params(host="b4", storage_driver="s3", storage_s3=S3_CEPH, blobdescriptor_cache="redis", redis_addrs=["r:6379"])
    errors = rc.config_errors(_with_peers(b1, b2, b3, b4), "3")
    assert len(errors) == 3
    assert errors[0].startswith("registry_storage_driver/registry_storage_*: b1 would use different storage than b3.")
    assert errors[1].startswith("registry_http_secret: b1 would get a different http.secret than b2.")
    assert "blob upload unknown" in errors[1]
    assert errors[2].startswith("registry_blobdescriptor_cache/registry_redis_*: b1 would use a different Redis cache than b4")


def test_peers_not_in_this_run_are_skipped():
    b1 = params(host="b1")
    assert rc.config_errors(dict(b1, lb_peers={"b1": rc.lb_fingerprint(b1), "b2": None}), "3") == []


def test_oss_on_2x_and_3x_backends_share_the_bucket():
    """A rolling upgrade from a 2.x image (native oss) to 3.x (s3 at the OSS endpoint) compares equal."""
    old = params(host="b1", image="registry:2.8.3", storage_driver="oss", storage_oss=OSS)
    new = params(host="b2", image="registry:3.0.0", storage_driver="oss", storage_oss=dict(OSS, region="cn-beijing", api="s3"))
    assert rc.lb_fingerprint(old) == rc.lb_fingerprint(new)
    assert rc.config_errors(_with_peers(old, new), "") == []
