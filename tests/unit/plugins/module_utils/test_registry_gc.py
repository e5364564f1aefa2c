# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _registry_gc as gc

D1 = "sha256:36bca38b70002de6347a48032521bf9512bff00231caaa9f2d71aa33e9540133"
D2 = "sha256:3a0337ac22797e214d7eac828f48ceef9bf27e0f1d6645aa83f5d32dc610f46f"

# What Distribution 2.8.2 printed in the lab (stdout, then the log lines of a real run on stderr).
DRY_RUN = """a/one
a/one: marking manifest sha256:d06c6e7e390c7dc29625182be1d2c98a3d99fcea0ece2fe79d51318219e5a142
a/one: marking blob sha256:39ef998a4855d4459c4df5f656b9f3a7a37f03d9b4ac4e0b19d1515c306ab0b0
a/two

4 blobs marked, 2 blobs and 0 manifests eligible for deletion
blob eligible for deletion: %s
blob eligible for deletion: %s
""" % (D1, D2)
REAL_LOG = ('time="2026-12-07T02:07:23Z" level=info msg="Deleting blob: /docker/registry/v2/blobs/sha256/36/%s" '
            'go.version=go1.19.8\n' % D1.split(":")[1])


def test_parse_dry_run():
    parsed = gc.parse_gc_output(DRY_RUN)
    assert parsed == {"marked": 4, "eligible_blobs": 2, "eligible_manifests": 0, "blobs": [D1, D2],
                      "manifests": [], "deleted": []}


def test_parse_real_run_log_lines():
    parsed = gc.parse_gc_output(DRY_RUN + REAL_LOG)
    assert parsed["deleted"] == [D1]


def test_parse_untagged_manifests():
    text = DRY_RUN.replace("0 manifests", "1 manifests") + "manifest eligible for deletion: {a/two %s []}\n" % D1
    parsed = gc.parse_gc_output(text)
    assert parsed["eligible_manifests"] == 1 and parsed["manifests"] == ["{a/two %s []}" % D1]


@pytest.mark.parametrize("text", ["", "failed to construct s3 driver: Access Denied", "a/one\n"])
def test_no_summary_is_an_error(text):
    with pytest.raises(ValueError) as err:
        gc.parse_gc_output(text)
    assert "no summary line" in str(err.value)


def test_argv():
    assert gc.gc_argv("registry", "/etc/docker/registry/config.yml") == [
        "docker", "exec", "registry", "registry", "garbage-collect", "/etc/docker/registry/config.yml"]
    assert gc.gc_argv("r", "/c.yml", delete_untagged=True, dry_run=True)[-3:] == [
        "--delete-untagged", "--dry-run", "/c.yml"]
    assert gc.gc_argv("r", "/c.yml", docker_host="unix:///run/podman.sock")[:4] == [
        "docker", "--host", "unix:///run/podman.sock", "exec"]
    for container, config in (("", "/c"), ("r", ""), ("--rm", "/c"), ("r", "--x")):
        with pytest.raises(ValueError):
            gc.gc_argv(container, config)


def test_storage_locations():
    hexa = D1.split(":")[1]
    assert gc.blob_path(D1) == "/docker/registry/v2/blobs/sha256/36/%s/data" % hexa
    assert gc.s3_key("", D1) == "docker/registry/v2/blobs/sha256/36/%s/data" % hexa
    assert gc.s3_key("/registry/", D1) == "registry/docker/registry/v2/blobs/sha256/36/%s/data" % hexa
    assert gc.filesystem_path("/var/lib/dockyard/registry", D1) == \
        "/var/lib/dockyard/registry/docker/registry/v2/blobs/sha256/36/%s/data" % hexa
    for bad in ("sha256:abc", "md5:" + "0" * 64, None, "sha256:../../etc/passwd" + "0" * 50):
        with pytest.raises(ValueError):
            gc.blob_path(bad)
    with pytest.raises(ValueError):
        gc.filesystem_path("relative", D1)


def test_summarise_never_invents_bytes():
    assert gc.summarise([D1, D2], {D1: 10, D2: 32}) == {
        "count": 2, "bytes": 42, "bytes_measured": True, "bytes_note": "measured in the storage before the collection"}
    missing = gc.summarise([D1, D2], {D1: 10, D2: None})
    assert missing["bytes"] is None and not missing["bytes_measured"] and D2 in missing["bytes_note"]
    reason = gc.unmeasured_reason("azure")
    assert "azure" in reason
    assert gc.summarise([D1], None, reason) == {"count": 1, "bytes": None, "bytes_measured": False,
                                                "bytes_note": reason}
    assert gc.unmeasured_reason("s3") is None and gc.unmeasured_reason("filesystem") is None
    assert gc.summarise([], {}) == {"count": 0, "bytes": 0, "bytes_measured": True,
                                    "bytes_note": "measured in the storage before the collection"}
