# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: the deterministic test image ``registry_check`` pushes and pulls.

Private to the dockyard.registry collection; other collections must not import it. Standard
library only, no Ansible import.

``build_image``: a small image made of deterministic pseudo-random bytes (SHAKE-256 of the seed),
so the same seed always gives the same digests on every host and every Python version. Layers are
``tar+gzip`` (a ustar archive with one file, wrapped in gzip using *stored* deflate blocks:
byte-for-byte reproducible whatever zlib the host has, and cheap), plain ``tar`` or ``raw`` bytes.
The config is a valid image config (``rootfs.diff_ids`` match the layers) and the manifest is a
Docker image manifest v2 schema 2 or an OCI image manifest, serialised as canonical JSON. Blobs are
generated as streams, never held in memory. ``parse_manifest`` checks the shape of a manifest read
back from a registry.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import zlib
from dataclasses import dataclass, field

from ansible_collections.dockyard.registry.plugins.module_utils._oci.spec import (
    DEFAULT_LAYERS,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    LAYER_FORMATS,
    MANIFEST_FORMATS,
    MAX_LAYER_SIZE,
    MEDIA_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    _BLOCK,
    _choice,
    validate_layers,
    validate_seed,
)


_GZIP_STORED_MAX = 65535
_EPOCH = "1970-01-01T00:00:00Z"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def sha256_digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(value):
    """Compact JSON with sorted keys: the bytes whose sha256 is the digest."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def pseudo_random_bytes(seed, label, size):
    """Yield ``size`` pseudo-random bytes that depend only on ``seed`` and ``label``.

    Block ``i`` is SHAKE-256(sha256("dockyard-oci" NUL seed NUL label) || i as 8 bytes), 1 MiB each.
    Nothing depends on the Python version or the host (unlike ``random``).
    """
    key = hashlib.sha256(("dockyard-oci\0%s\0%s" % (seed, label)).encode("utf-8")).digest()
    index = 0
    remaining = size
    while remaining > 0:
        count = min(_BLOCK, remaining)
        yield hashlib.shake_256(key + struct.pack(">Q", index)).digest(count)
        index += 1
        remaining -= count


def rechunk(pieces, size):
    """Re-cut an iterable of byte strings into pieces of exactly ``size`` bytes (the last may be short)."""
    if size < 1:
        raise ValueError("chunk size must be at least 1, got %r" % (size,))
    buf = bytearray()
    for piece in pieces:
        buf += piece
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    if buf:
        yield bytes(buf)


def ustar_header(name, size, mode=0o644, mtime=0):
    """A 512-byte POSIX ustar header for a regular file owned by 0:0."""
    raw_name = name.encode("utf-8")
    if len(raw_name) > 100:
        raise ValueError("tar member name longer than 100 bytes: %r" % name)
    if not 0 <= size <= MAX_LAYER_SIZE:
        raise ValueError("tar member size out of range: %r" % size)

    def octal(value, length):
        return ("%0*o" % (length - 1, value)).encode("ascii") + b"\0"

    header = b"".join([
        raw_name.ljust(100, b"\0"),
        octal(mode, 8), octal(0, 8), octal(0, 8),   # mode, uid, gid
        octal(size, 12), octal(mtime, 12),
        b" " * 8,                                   # checksum, counted as spaces
        b"0",                                       # regular file
        b"\0" * 100,                                # link name
        b"ustar\x0000",                             # magic + version
        b"\0" * 32, b"\0" * 32,                     # user and group names
        octal(0, 8), octal(0, 8),                   # device numbers
        b"\0" * 155,                                # prefix
    ]).ljust(512, b"\0")
    checksum = ("%06o\0 " % sum(header)).encode("ascii")
    return header[:148] + checksum + header[156:]


def tar_stream(name, size, data):
    """A tar archive holding one file ``name`` whose content is the ``size`` bytes of ``data``."""
    yield ustar_header(name, size)
    yield from data
    # pad the member to 512 bytes, then the end-of-archive marker (two zero blocks)
    yield b"\0" * ((-size) % 512 + 1024)


def gzip_stored(pieces):
    """gzip (RFC 1952) of ``pieces`` using stored deflate blocks: reproducible with any zlib.

    Random bytes do not compress, so nothing is lost, and no zlib version can change the output.
    """
    yield b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # magic, deflate, no flags, mtime 0, OS unknown
    crc = 0
    total = 0
    for block in rechunk(pieces, _GZIP_STORED_MAX):
        crc = zlib.crc32(block, crc)
        total += len(block)
        yield b"\x00" + struct.pack("<HH", len(block), len(block) ^ 0xFFFF) + block
    yield b"\x01\x00\x00\xff\xff"  # final, empty stored block
    yield struct.pack("<II", crc & 0xFFFFFFFF, total & 0xFFFFFFFF)


@dataclass(frozen=True)
class Blob:
    """A blob described by media type, digest and size, whose bytes are regenerated on demand."""

    media_type: str
    digest: str
    size: int
    source: object = field(repr=False, compare=False)  # callable returning an iterable of bytes
    diff_id: str = ""  # digest of the uncompressed content (layers only)

    @classmethod
    def from_bytes(cls, media_type, data):
        data = bytes(data)
        return cls(media_type, sha256_digest(data), len(data), lambda: iter((data,)) if data else iter(()))

    def chunks(self, size=_BLOCK):
        return rechunk(self.source(), size)

    def read(self):
        return b"".join(self.source())

    def descriptor(self):
        return {"mediaType": self.media_type, "size": self.size, "digest": self.digest}


@dataclass(frozen=True)
class Image:
    manifest_format: str
    layer_format: str
    config: Blob
    layers: tuple
    manifest: bytes = field(repr=False)
    manifest_digest: str = ""
    media_type: str = ""

    @property
    def blobs(self):
        """Layers first, then the config (the order docker pushes them in)."""
        return self.layers + (self.config,)

    def summary(self):
        return {
            "manifest_digest": self.manifest_digest,
            "media_type": self.media_type,
            "manifest_size": len(self.manifest),
            "config": self.config.descriptor(),
            "layers": [dict(layer.descriptor(), diff_id=layer.diff_id) for layer in self.layers],
            "size": self.config.size + sum(layer.size for layer in self.layers),
        }


def layer_file_name(index):
    return "dockyard-check-layer-%d.bin" % index


def _measure(pieces):
    digest = hashlib.sha256()
    size = 0
    for piece in pieces:
        digest.update(piece)
        size += len(piece)
    return "sha256:" + digest.hexdigest(), size


def _tee(pieces, digest):
    for piece in pieces:
        digest.update(piece)
        yield piece


def build_layer(seed, index, size, layer_format="tar+gzip", manifest_format="docker"):
    """Layer ``index`` of the image for ``seed``: ``size`` content bytes in ``layer_format``."""
    media_type = MEDIA_TYPES[_choice("manifest_format", manifest_format, MANIFEST_FORMATS)][2][
        _choice("layer_format", layer_format, LAYER_FORMATS)]
    label = "layer-%d" % index

    def data():
        return pseudo_random_bytes(seed, label, size)

    def tar():
        return tar_stream(layer_file_name(index), size, data())

    def tar_gzip():
        return gzip_stored(tar())

    if layer_format == "raw":
        digest, length = _measure(data())
        return Blob(media_type, digest, length, data, digest)
    if layer_format == "tar":
        digest, length = _measure(tar())
        return Blob(media_type, digest, length, tar, digest)
    uncompressed = hashlib.sha256()
    digest, length = _measure(gzip_stored(_tee(tar(), uncompressed)))
    return Blob(media_type, digest, length, tar_gzip, "sha256:" + uncompressed.hexdigest())


def build_image(seed, layers=DEFAULT_LAYERS, layer_format="tar+gzip", manifest_format="docker"):
    """The image for ``seed``: same arguments, same bytes, same digests, on any host."""
    seed = validate_seed(seed)
    sizes = validate_layers(layers)
    manifest_type, config_type = MEDIA_TYPES[_choice("manifest_format", manifest_format, MANIFEST_FORMATS)][:2]
    _choice("layer_format", layer_format, LAYER_FORMATS)
    blobs = tuple(build_layer(seed, i, size, layer_format, manifest_format) for i, size in enumerate(sizes))
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": _EPOCH,
        "config": {"Labels": {"io.dockyard.registry.check.seed": seed}},
        "rootfs": {"type": "layers", "diff_ids": [blob.diff_id for blob in blobs]},
        "history": [
            {"created": _EPOCH, "created_by": "dockyard.registry.registry_check: %s layer %d, %d bytes"
             % (layer_format, i, size)}
            for i, size in enumerate(sizes)
        ],
    }
    config_blob = Blob.from_bytes(config_type, canonical_json(config))
    manifest = canonical_json({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": config_blob.descriptor(),
        "layers": [blob.descriptor() for blob in blobs],
    })
    return Image(manifest_format, layer_format, config_blob, blobs, manifest, sha256_digest(manifest), manifest_type)


def parse_manifest(data):
    """Parse an image manifest (Docker v2 schema 2 or OCI) and check its shape.

    Returns ``{"media_type", "config", "layers"}`` with descriptors as dicts; raises ValueError.
    """
    try:
        doc = json.loads(data)
    except (TypeError, ValueError) as exc:
        raise ValueError("manifest is not JSON: %s" % exc) from None
    if not isinstance(doc, dict):
        raise ValueError("manifest is not a JSON object")
    if doc.get("schemaVersion") != 2:
        raise ValueError("manifest schemaVersion is %r, expected 2" % (doc.get("schemaVersion"),))
    media_type = doc.get("mediaType", OCI_MANIFEST)
    if media_type in (DOCKER_MANIFEST_LIST, OCI_INDEX):
        raise ValueError("manifest is an index / manifest list (%s), not an image manifest" % media_type)
    if media_type not in (DOCKER_MANIFEST, OCI_MANIFEST):
        raise ValueError("manifest mediaType %r is not an image manifest" % (media_type,))

    def descriptor(value, where):
        if not isinstance(value, dict):
            raise ValueError("manifest %s is not a descriptor object" % where)
        if not isinstance(value.get("mediaType"), str) or not value["mediaType"]:
            raise ValueError("manifest %s has no mediaType" % where)
        if not isinstance(value.get("size"), int) or isinstance(value.get("size"), bool) or value["size"] < 0:
            raise ValueError("manifest %s has no valid size" % where)
        if not isinstance(value.get("digest"), str) or not _DIGEST.match(value["digest"]):
            raise ValueError("manifest %s digest %r is not a sha256 digest" % (where, value.get("digest")))
        return {"mediaType": value["mediaType"], "size": value["size"], "digest": value["digest"]}

    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise ValueError("manifest has no layers list")
    return {
        "media_type": media_type,
        "config": descriptor(doc.get("config"), "config"),
        "layers": [descriptor(layer, "layers[%d]" % i) for i, layer in enumerate(layers)],
    }
