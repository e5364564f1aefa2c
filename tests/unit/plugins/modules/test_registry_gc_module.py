# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""registry_gc with a stand-in `docker` that runs a fake collector over filesystem storage."""

from __future__ import annotations

import os

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _registry_gc
from ansible_collections.dockyard.registry.plugins.modules import registry_gc
from ansible_collections.dockyard.registry.tests.unit.plugins.modules.utils import run_module

KEEP = "sha256:" + "a" * 64
DROP1 = "sha256:" + "b" * 64
DROP2 = "sha256:" + "c" * 64

FAKE_DOCKER = r'''#!/usr/bin/env python3
import os, sys
args = sys.argv[1:]
if args[:1] == ["--host"]:
    assert args[1] == "unix:///var/run/docker.sock", args
    args = args[2:]
assert args[:4] == ["exec", "registry", "registry", "garbage-collect"], args
root, eligible = os.environ["FAKE_ROOT"], os.environ["FAKE_ELIGIBLE"].split()
if os.environ.get("FAKE_FAIL"):
    print("failed to construct s3 driver: Access Denied", file=sys.stderr); sys.exit(1)
print("repo\n\n1 blobs marked, %d blobs and 0 manifests eligible for deletion" % len(eligible))
for d in eligible:
    print("blob eligible for deletion: " + d)
    if "--dry-run" not in args:
        path = os.path.join(root, "docker/registry/v2/blobs/sha256", d[7:9], d[7:], "data")
        if not os.environ.get("FAKE_KEEP_FILES"):
            os.remove(path)
        print('level=info msg="Deleting blob: /docker/registry/v2/blobs/sha256/%s/%s"' % (d[7:9], d[7:]), file=sys.stderr)
'''


@pytest.fixture
def storage(tmp_path, monkeypatch):
    root = tmp_path / "registry"
    for digest, size in ((KEEP, 100), (DROP1, 10), (DROP2, 32)):
        path = _registry_gc.filesystem_path(str(root), digest)
        os.makedirs(os.path.dirname(path))
        with open(path, "wb") as handle:
            handle.write(b"x" * size)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    docker = bindir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (bindir, os.environ["PATH"]))
    monkeypatch.setenv("FAKE_ROOT", str(root))
    monkeypatch.setenv("FAKE_ELIGIBLE", "%s %s" % (DROP1, DROP2))
    return root


def run(check_mode=False, **params):
    params.setdefault("config_path", "/etc/docker/registry/config.yml")
    params.setdefault("storage_driver", "filesystem")
    return run_module(registry_gc, check_mode=check_mode or None, **params)


def test_real_run_removes_and_measures(storage):
    out = run(filesystem_dir=str(storage), docker_host="unix:///var/run/docker.sock")
    assert not out.failed, out.result
    assert out.result["changed"]
    assert out.result["eligible"]["count"] == 2 and out.result["eligible"]["bytes"] == 42
    assert out.result["removed"]["count"] == 2 and out.result["removed"]["bytes"] == 42
    assert out.result["removed"]["bytes_measured"] is True
    assert sorted(out.result["removed"]["digests"]) == [DROP1, DROP2]
    assert os.path.exists(_registry_gc.filesystem_path(str(storage), KEEP))
    assert not os.path.exists(_registry_gc.filesystem_path(str(storage), DROP1))


def test_dry_run_and_check_mode_remove_nothing(storage):
    for out in (run(filesystem_dir=str(storage), dry_run=True), run(check_mode=True, filesystem_dir=str(storage))):
        assert out.result["eligible"]["count"] == 2 and out.result["eligible"]["bytes"] == 42
        assert out.result["removed"]["count"] == 0
        assert os.path.exists(_registry_gc.filesystem_path(str(storage), DROP1))
    assert run(check_mode=True, filesystem_dir=str(storage)).result["changed"] is True
    assert run(filesystem_dir=str(storage), dry_run=True).result["changed"] is False


def test_nothing_eligible_is_no_change(storage, monkeypatch):
    monkeypatch.setenv("FAKE_ELIGIBLE", "")
    out = run(filesystem_dir=str(storage))
    assert not out.result["changed"] and out.result["eligible"]["count"] == 0


def test_blobs_still_there_after_the_collection_fail_the_run(storage, monkeypatch):
    monkeypatch.setenv("FAKE_KEEP_FILES", "1")
    out = run(filesystem_dir=str(storage))
    assert out.failed and "still in the storage" in out.result["msg"]


def test_collector_failure_is_reported(storage, monkeypatch):
    monkeypatch.setenv("FAKE_FAIL", "1")
    out = run(filesystem_dir=str(storage))
    assert out.failed and "Access Denied" in out.result["msg"]


def test_unmeasurable_driver_says_so_instead_of_a_number(storage):
    out = run(storage_driver="azure")
    assert out.result["removed"]["count"] == 2
    assert out.result["removed"]["bytes"] is None and "azure" in out.result["removed"]["bytes_note"]
    out = run(storage_driver="s3", s3_bucket="b", dry_run=True)
    assert out.result["eligible"]["bytes"] is None and "instance credentials" in out.result["eligible"]["bytes_note"]
