# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of ``_oci.image``: the deterministic test image.

Same seed, same bytes and digests; layers are real tar(+gzip) archives whose uncompressed digests
are the config's ``diff_ids``; manifests parse back with matching descriptors.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils._oci import image as oci_image
from ansible_collections.dockyard.registry.plugins.module_utils._oci import spec as oci_spec


def test_pseudo_random_bytes_deterministic_and_sized():
    one = b"".join(oci_image.pseudo_random_bytes("seed", "layer-0", 3 * (1 << 20) + 5))
    two = b"".join(oci_image.pseudo_random_bytes("seed", "layer-0", 3 * (1 << 20) + 5))
    assert one == two
    assert len(one) == 3 * (1 << 20) + 5
    # a prefix of a longer stream is the shorter stream
    assert b"".join(oci_image.pseudo_random_bytes("seed", "layer-0", 1000)) == one[:1000]
    assert b"".join(oci_image.pseudo_random_bytes("seed", "layer-1", 1000)) != one[:1000]
    assert b"".join(oci_image.pseudo_random_bytes("other", "layer-0", 1000)) != one[:1000]
    assert b"".join(oci_image.pseudo_random_bytes("seed", "layer-0", 0)) == b""


def test_pseudo_random_bytes_pinned():
    # The bytes are part of the contract (hosts compare digests): pin them.
    data = b"".join(oci_image.pseudo_random_bytes("dockyard", "layer-0", 32))
    key = hashlib.sha256(b"dockyard-oci\0dockyard\0layer-0").digest()
    assert data == hashlib.shake_256(key + b"\0" * 8).digest(32)


@pytest.mark.parametrize("size", [1, 7, 10, 65535, 65536])
def test_rechunk(size):
    pieces = [b"a" * 3, b"", b"b" * 70000, b"c"]
    out = list(oci_image.rechunk(pieces, size))
    assert b"".join(out) == b"".join(pieces)
    assert all(len(piece) == size for piece in out[:-1])
    assert 0 < len(out[-1]) <= size


def test_rechunk_rejects_zero():
    with pytest.raises(ValueError):
        list(oci_image.rechunk([b"x"], 0))


def test_same_seed_same_digests():
    one = oci_image.build_image("seed-1")
    two = oci_image.build_image("seed-1")
    assert one.manifest == two.manifest
    assert one.manifest_digest == two.manifest_digest
    assert [b.digest for b in one.blobs] == [b.digest for b in two.blobs]
    assert [b.read() for b in one.blobs] == [b.read() for b in two.blobs]
    other = oci_image.build_image("seed-2")
    assert other.manifest_digest != one.manifest_digest
    assert not {b.digest for b in other.layers} & {b.digest for b in one.layers}


def test_options_change_digests():
    base = oci_image.build_image("s")
    assert oci_image.build_image("s", layers=[1024, 65537]).manifest_digest != base.manifest_digest
    assert oci_image.build_image("s", layer_format="tar").manifest_digest != base.manifest_digest
    assert oci_image.build_image("s", manifest_format="oci").manifest_digest != base.manifest_digest


def test_image_pinned_digest():
    # Pinned: a change here breaks pulls of images pushed by an older collection version.
    image = oci_image.build_image("dockyard", layers=[0, 100])
    assert image.layers[0].size == 10 + 5 + 1536 + 5 + 8  # gzip header, 1 block, tar, final block, trailer
    assert hashlib.sha256(image.manifest).hexdigest() == image.manifest_digest[len("sha256:"):]
    assert image.manifest_digest == oci_image.build_image("dockyard", layers=(0, 100)).manifest_digest
    # the same value was produced by Python 3.8 to 3.13
    assert oci_image.build_image("dockyard", [0, 100, 300000], "tar+gzip", "oci").manifest_digest == \
        "sha256:c8a1820aed5dfa6a34ee6000530af98bd0e6d5c98ffdfea347552f222e23f373"


@pytest.mark.parametrize("size", [0, 1, 511, 512, 513, 65536, 200000])
def test_tar_gzip_layer_is_a_real_archive(size):
    blob = oci_image.build_layer("seed", 3, size, "tar+gzip", "docker")
    data = blob.read()
    assert len(data) == blob.size
    assert oci_image.sha256_digest(data) == blob.digest
    assert blob.media_type == oci_spec.DOCKER_LAYER_GZIP
    tar_bytes = gzip.decompress(data)
    assert oci_image.sha256_digest(tar_bytes) == blob.diff_id
    assert len(tar_bytes) % 512 == 0
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as archive:
        members = archive.getmembers()
        assert [m.name for m in members] == ["dockyard-check-layer-3.bin"]
        member = members[0]
        assert member.isfile() and member.size == size and member.mode == 0o644
        assert member.uid == 0 and member.gid == 0 and member.mtime == 0
        content = archive.extractfile(member).read()
    assert content == b"".join(oci_image.pseudo_random_bytes("seed", "layer-3", size))


def test_gzip_stored_matches_zlib_reader():
    payload = b"".join(oci_image.pseudo_random_bytes("z", "x", 300000))
    data = b"".join(oci_image.gzip_stored([payload[:5], payload[5:200000], payload[200000:]]))
    assert gzip.decompress(data) == payload
    # chunk boundaries of the input do not change the output
    assert data == b"".join(oci_image.gzip_stored([payload]))


def test_tar_and_raw_layers():
    tar_blob = oci_image.build_layer("seed", 0, 1000, "tar", "oci")
    assert tar_blob.media_type == oci_spec.OCI_LAYER_TAR
    assert tar_blob.diff_id == tar_blob.digest
    with tarfile.open(fileobj=io.BytesIO(tar_blob.read()), mode="r:") as archive:
        assert archive.getmembers()[0].size == 1000
    raw = oci_image.build_layer("seed", 0, 1000, "raw", "oci")
    assert raw.media_type == oci_spec.OCTET_STREAM
    assert raw.size == 1000
    assert raw.read() == b"".join(oci_image.pseudo_random_bytes("seed", "layer-0", 1000))


def test_ustar_header_checksum_and_limits():
    header = oci_image.ustar_header("a.bin", 12345)
    assert len(header) == 512
    stored = int(header[148:154], 8)
    assert stored == sum(header[:148]) + 8 * ord(" ") + sum(header[156:])
    with pytest.raises(ValueError):
        oci_image.ustar_header("x" * 101, 1)
    with pytest.raises(ValueError):
        oci_image.ustar_header("a", oci_spec.MAX_LAYER_SIZE + 1)


@pytest.mark.parametrize("manifest_format, layer_format", [
    ("docker", "tar+gzip"), ("docker", "tar"), ("docker", "raw"),
    ("oci", "tar+gzip"), ("oci", "tar"), ("oci", "raw"),
])
def test_manifest_valid(manifest_format, layer_format):
    image = oci_image.build_image("m", layers=[10, 70000, 0], layer_format=layer_format, manifest_format=manifest_format)
    manifest_type, config_type, layer_types = oci_spec.MEDIA_TYPES[manifest_format]
    doc = json.loads(image.manifest)
    assert image.manifest == oci_image.canonical_json(doc)
    assert doc["schemaVersion"] == 2
    assert doc["mediaType"] == manifest_type == image.media_type
    assert doc["config"] == {"mediaType": config_type, "size": image.config.size, "digest": image.config.digest}
    assert doc["layers"] == [
        {"mediaType": layer_types[layer_format], "size": layer.size, "digest": layer.digest} for layer in image.layers]
    for desc, blob in zip(doc["layers"] + [doc["config"]], image.blobs):
        data = blob.read()
        assert len(data) == desc["size"]
        assert oci_image.sha256_digest(data) == desc["digest"]
    parsed = oci_image.parse_manifest(image.manifest)
    assert parsed["media_type"] == manifest_type
    assert parsed["config"]["digest"] == image.config.digest
    assert [layer["digest"] for layer in parsed["layers"]] == [layer.digest for layer in image.layers]

    config = json.loads(image.config.read())
    assert config["architecture"] == "amd64" and config["os"] == "linux"
    assert config["rootfs"] == {"type": "layers", "diff_ids": [layer.diff_id for layer in image.layers]}
    assert len(config["history"]) == len(image.layers)
    summary = image.summary()
    assert summary["size"] == sum(b.size for b in image.blobs)
    assert [layer["diff_id"] for layer in summary["layers"]] == [layer.diff_id for layer in image.layers]


@pytest.mark.parametrize("data, message", [
    (b"not json", "not JSON"),
    (b"[]", "not a JSON object"),
    (b'{"schemaVersion": 1}', "schemaVersion"),
    (b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"}', "index"),
    (b'{"schemaVersion": 2, "mediaType": "text/plain"}', "not an image manifest"),
    (b'{"schemaVersion": 2, "config": {"mediaType": "x", "size": 1, "digest": "sha256:00"}, "layers": []}',
     "not a sha256 digest"),
    (b'{"schemaVersion": 2, "config": {"mediaType": "x", "size": -1, "digest": "sha256:%s"}, "layers": []}'
     % (b"0" * 64), "valid size"),
    (b'{"schemaVersion": 2, "config": {"size": 1, "digest": "sha256:%s"}, "layers": []}' % (b"0" * 64), "mediaType"),
    (b'{"schemaVersion": 2, "config": {"mediaType": "x", "size": 1, "digest": "sha256:%s"}}' % (b"0" * 64), "layers"),
])
def test_parse_manifest_rejects(data, message):
    with pytest.raises(ValueError, match=message):
        oci_image.parse_manifest(data)
