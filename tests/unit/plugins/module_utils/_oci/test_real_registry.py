# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``_oci`` against a REAL registry and the host's docker client.

A real Distribution 2.8 registry (the lab image ``dockyard-lab/registry:2.8.2``, plain HTTP on a
free loopback port) for push/pull/mount/delete, and the host's ``docker pull`` of what was pushed.
Skipped when Docker or the image is missing.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import tarfile

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils._oci import client as oci_client
from ansible_collections.dockyard.registry.plugins.module_utils._oci import image as oci_image
from ansible_collections.dockyard.registry.plugins.module_utils._oci import probe as oci_probe
from ansible_collections.dockyard.registry.plugins.module_utils._oci import spec as oci_spec
from ansible_collections.dockyard.registry.plugins.module_utils._oci.checks import CheckFailed
from ansible_collections.dockyard.registry.tests.lab_hosts import wait_for_registry


REAL_IMAGE = "dockyard-lab/registry:2.8.2"


def _docker_ok():
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "image", "inspect", REAL_IMAGE], capture_output=True, timeout=60,
                              check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def real_registry():
    if not _docker_ok():
        pytest.skip("docker or the image %s is not available" % REAL_IMAGE)
    name = "dockyard-oci-test-%d" % os.getpid()
    port = _free_port()
    subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, check=False)
    run = subprocess.run(
        ["docker", "run", "-d", "--name", name, "-p", "127.0.0.1:%d:5000" % port,
         "-e", "REGISTRY_STORAGE_DELETE_ENABLED=true", REAL_IMAGE],
        capture_output=True, text=True, check=False)
    try:
        if run.returncode != 0:
            pytest.fail("cannot start %s: %s" % (REAL_IMAGE, run.stderr.strip()))
        url = "http://127.0.0.1:%d" % port

        def failure():
            logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True, check=False)
            return "registry did not answer on %s: %s" % (url, logs.stderr[-2000:])

        wait_for_registry(url, failure, timeout=30, step=0.2)
        yield url
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, check=False)


def real(url, **kwargs):
    args = dict(expect_unauthenticated_401=False, timeout=30)
    args.update(kwargs)
    return oci_probe.run_checks(url, **args)


@pytest.mark.lab  # runs in `make labtest`, after the lab images exist
@pytest.mark.slow
def test_real_registry_push_pull_delete(real_registry):
    result = real(real_registry, seed="real-1", checks=["auth", "push", "pull", "delete"])
    image = oci_image.build_image("real-1")
    assert result["checks_passed"] == ["auth", "push", "pull", "delete"]
    assert result["auth"]["unauthenticated_status"] == 200
    assert result["auth"]["api_version"] == "registry/2.0"
    push, pull = result["push"], result["pull"]
    assert push["manifest_digest_returned"] == image.manifest_digest
    assert pull["manifest_digest"] == image.manifest_digest
    assert pull["manifest_media_type"] == oci_spec.DOCKER_MANIFEST
    assert [b["action"] for b in push["blobs"]] == ["uploaded"] * 3
    assert [b["requests"] for b in push["blobs"]] == [1, 3, 1]
    assert [b["digest"] for b in pull["blobs"]] == [b.digest for b in image.blobs]
    assert push["bytes_pushed"] == pull["bytes_pulled"] == sum(b.size for b in image.blobs)
    assert push["upload_location"] == "absolute"  # Distribution builds them from Host (with the port)
    assert result["delete"] == dict(result["delete"], status=202, deleted=True, tag_status_after=404)


@pytest.mark.lab  # runs in `make labtest`, after the lab images exist
@pytest.mark.slow
@pytest.mark.parametrize("manifest_format, layer_format, upload", [
    ("oci", "tar+gzip", "monolithic"),
    ("oci", "tar", "chunked"),
    ("docker", "raw", "chunked"),
])
def test_real_registry_formats(real_registry, manifest_format, layer_format, upload):
    seed = "real-%s-%s-%s" % (manifest_format, layer_format.replace("+", ""), upload)
    result = real(real_registry, seed=seed, layers=[0, 1, 200000], chunk_size=65536, upload=upload,
                  manifest_format=manifest_format, layer_format=layer_format, checks=["push", "pull"])
    image = oci_image.build_image(seed, [0, 1, 200000], layer_format, manifest_format)
    assert result["pull"]["manifest_digest"] == image.manifest_digest
    assert result["pull"]["manifest_media_type"] == image.media_type


@pytest.mark.lab  # runs in `make labtest`, after the lab images exist
@pytest.mark.slow
def test_real_registry_exists_and_mount(real_registry):
    first = real(real_registry, seed="real-mount", repository="dockyard/mount-src", checks=["push"])
    assert {b["action"] for b in first["push"]["blobs"]} == {"uploaded"}
    again = real(real_registry, seed="real-mount", repository="dockyard/mount-src", checks=["push", "pull"])
    assert {b["action"] for b in again["push"]["blobs"]} == {"exists"}
    mounted = real(real_registry, seed="real-mount", repository="dockyard/mount-dst",
                   mount_from="dockyard/mount-src", checks=["push", "pull"])
    assert {b["action"] for b in mounted["push"]["blobs"]} == {"mounted"}
    assert mounted["pull"]["manifest_digest"] == first["image"]["manifest_digest"]
    # pull alone re-verifies what an earlier run pushed; another seed under that tag is detected
    assert real(real_registry, seed="real-mount", repository="dockyard/mount-dst",
                checks=["pull"])["checks_passed"] == ["pull"]
    with pytest.raises(CheckFailed, match="the tag points at manifest"):
        real(real_registry, seed="another", tag="check-real-mount", repository="dockyard/mount-dst", checks=["pull"])


@pytest.mark.lab  # runs in `make labtest`, after the lab images exist
@pytest.mark.slow
def test_real_registry_bad_digest_is_reported(real_registry):
    client = oci_client.RegistryClient(real_registry)
    with client:
        start = client.request("POST", "/v2/dockyard/bad/blobs/uploads/", headers={"Content-Length": "0"})
        assert start.status == 202
        location = start.header("Location")
        done = client.request("PUT", oci_client.add_query(location, digest="sha256:" + "0" * 64), body=b"abc",
                              headers={"Content-Type": "application/octet-stream"})
    assert done.status == 400
    assert b"DIGEST_INVALID" in done.body


def _docker(*args, check=True):
    return subprocess.run(["docker"] + list(args), capture_output=True, text=True, timeout=300, check=check)


@pytest.mark.lab  # runs in `make labtest`, after the lab images exist
@pytest.mark.slow
@pytest.mark.parametrize("manifest_format", ["docker", "oci"])
def test_real_docker_pull(real_registry, manifest_format):
    """The host's docker engine pulls the generated image and unpacks every layer as generated."""
    seed = "docker-pull-%s-%d" % (manifest_format, os.getpid())
    sizes = [1024, 100000]
    result = real(real_registry, seed=seed, layers=sizes, manifest_format=manifest_format, checks=["push"])
    reference = result["reference"]
    assert reference.startswith("127.0.0.1:")  # docker allows plain HTTP to 127.0.0.0/8 by default
    container = "dockyard-oci-test-c%d-%s" % (os.getpid(), manifest_format)
    try:
        pulled = _docker("pull", reference, check=False)
        assert pulled.returncode == 0, pulled.stderr
        inspect = json.loads(_docker("image", "inspect", reference).stdout)[0]
        assert inspect["RootFS"]["Layers"] == [layer["diff_id"] for layer in result["image"]["layers"]]
        assert inspect["Architecture"] == "amd64" and inspect["Os"] == "linux"
        assert inspect["RepoDigests"] == ["%s@%s" % (reference.rsplit(":", 1)[0], result["image"]["manifest_digest"])]
        # the files docker unpacked are the generated bytes
        _docker("create", "--name", container, reference, "/none")
        for index, size in enumerate(sizes):
            copied = subprocess.run(["docker", "cp", "%s:/%s" % (container, oci_image.layer_file_name(index)), "-"],
                                    capture_output=True, timeout=120, check=True).stdout
            with tarfile.open(fileobj=io.BytesIO(copied)) as archive:
                content = archive.extractfile(archive.getmembers()[0]).read()
            assert content == b"".join(oci_image.pseudo_random_bytes(seed, "layer-%d" % index, size))
    finally:
        _docker("rm", "-f", "-v", container, check=False)
        _docker("rmi", "-f", reference, check=False)
