# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: an end-to-end probe of a Docker registry (HTTP API V2 / OCI distribution spec).

This file is private to the dockyard.registry collection; other collections must not import it.
It imports nothing from Ansible and nothing outside the Python standard library (``http.client``,
``ssl``, ``hashlib``), so the ``registry_check`` module runs on any target with a stock python3
(3.9 or later) and on the controller. Bad input raises ``ValueError`` naming the option; a check
that fails raises ``CheckFailed`` carrying the partial result.

* Image generation (``build_image``): a small image made of deterministic pseudo-random bytes
  (SHAKE-256 of the seed), so the same seed always gives the same digests on every host and every
  Python version. Layers are ``tar+gzip`` (a ustar archive with one file, wrapped in gzip using
  *stored* deflate blocks: byte-for-byte reproducible whatever zlib the host has, and cheap),
  plain ``tar`` or ``raw`` bytes. The config is a valid image config (``rootfs.diff_ids``
  match the layers) and the manifest is a Docker image manifest v2 schema 2 or an OCI image
  manifest, serialised as canonical JSON. Blobs are generated as streams, never held in memory.
* ``RegistryClient``: keep-alive HTTP(S) connections; Basic auth sent only to the registry's own
  origin (never to a storage backend a blob GET is redirected to); ``resolve`` connects to another
  address while SNI, certificate check and ``Host`` stay those of the URL (like ``curl --resolve``);
  TLS trust = system store plus ``ca_path``; relative and absolute ``Location`` URLs.
* ``run_checks``: auth (401 + API version header + Basic challenge without credentials, 401 with a
  wrong password, 200 with credentials), push (HEAD skip, cross-repository mount, chunked or
  monolithic uploads, manifest PUT by tag), pull (manifest by tag, every blob re-hashed) and
  delete (405 when deletion is disabled is reported, not failed).

Neither the password nor the ``Authorization`` header ever appears in a result or a message.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import socket
import ssl
import struct
import time
import zlib
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin, urlsplit

# ---------------------------------------------------------------------------------------------
# Media types and constants
# ---------------------------------------------------------------------------------------------

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCTET_STREAM = "application/octet-stream"

MEDIA_TYPES = {
    # manifest_format: (manifest, config, {layer_format: layer media type})
    "docker": (DOCKER_MANIFEST, DOCKER_CONFIG,
               {"tar+gzip": DOCKER_LAYER_GZIP, "tar": DOCKER_LAYER_TAR, "raw": OCTET_STREAM}),
    "oci": (OCI_MANIFEST, OCI_CONFIG,
            {"tar+gzip": OCI_LAYER_GZIP, "tar": OCI_LAYER_TAR, "raw": OCTET_STREAM}),
}
MANIFEST_FORMATS = tuple(MEDIA_TYPES)
LAYER_FORMATS = ("tar+gzip", "tar", "raw")
UPLOAD_MODES = ("chunked", "monolithic")
CHECKS = ("auth", "push", "pull", "delete")
DEFAULT_CHECKS = ("auth", "push", "pull")
DEFAULT_REPOSITORY = "dockyard/verify"
DEFAULT_LAYERS = (1024, 65536)
# Small on purpose: the default image's larger layer then needs several PATCH requests, which
# proves an upload survives its requests landing on different load-balanced backends.
DEFAULT_CHUNK_SIZE = 32768
DEFAULT_TIMEOUT = 30.0
API_VERSION_HEADER = "Docker-Distribution-Api-Version"
API_VERSION = "registry/2.0"
UPSTREAM_HEADER = "X-Dockyard-Upstream"
USER_AGENT = "dockyard.registry-registry_check/1 (python)"

MAX_LAYER_SIZE = 8 ** 11 - 1  # the ustar size field holds 11 octal digits
MAX_REDIRECTS = 5
BODY_EXCERPT = 300
_BLOCK = 1 << 20
_GZIP_STORED_MAX = 65535
_EPOCH = "1970-01-01T00:00:00Z"

_REPOSITORY = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class CheckFailed(Exception):
    """A check did not pass. ``result`` holds what was measured up to the failure."""

    def __init__(self, message, result=None):
        super().__init__(message)
        self.message = message
        self.result = result if result is not None else {}


# ---------------------------------------------------------------------------------------------
# Deterministic image generation
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------------

def _choice(var, value, choices):
    if value not in choices:
        raise ValueError("%s must be one of %s, got %r" % (var, ", ".join(choices), value))
    return value


def _int(var, value, minimum=None, maximum=None):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("%s must be an integer, got %r" % (var, value))
    if minimum is not None and value < minimum:
        raise ValueError("%s must be at least %d, got %d" % (var, minimum, value))
    if maximum is not None and value > maximum:
        raise ValueError("%s must be at most %d, got %d" % (var, maximum, value))
    return value


def validate_url(url):
    """Split ``url`` (http[s]://host[:port]) into (scheme, host, port, netloc)."""
    text = "" if url is None else str(url).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ValueError("url must start with https:// (or http://), got %r" % (url,))
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise ValueError("url %r has an invalid port: %s" % (url, exc)) from None
    if not host:
        raise ValueError("url %r has no host name" % (url,))
    if parts.username is not None or parts.password is not None:
        raise ValueError("url must not carry credentials; use username and password")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("url must be the registry root like https://registry.example.com:5000, got %r "
                         "(the API lives at /v2/ of that origin)" % (url,))
    port = port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, host.lower(), port, parts.netloc.lower()


def validate_repository(repository, var="repository"):
    text = "" if repository is None else str(repository)
    if len(text) > 255 or not _REPOSITORY.match(text):
        raise ValueError("%s must be a repository name like dockyard/verify (lowercase letters, digits, "
                         "'.', '_', '-' separators, '/' between path components), got %r" % (var, repository))
    return text


def validate_tag(tag):
    text = "" if tag is None else str(tag)
    if not _TAG.match(text):
        raise ValueError("tag must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}, got %r" % (tag,))
    return text


def validate_seed(seed):
    text = "" if seed is None else str(seed)
    if not text:
        raise ValueError("seed must be a non-empty string")
    return text


def validate_layers(layers):
    if isinstance(layers, (str, bytes)) or not isinstance(layers, (list, tuple)) or not layers:
        raise ValueError("layers must be a non-empty list of sizes in bytes, got %r" % (layers,))
    return tuple(_int("layers[%d]" % i, size, 0, MAX_LAYER_SIZE) for i, size in enumerate(layers))


def validate_checks(checks):
    if checks is None:
        return DEFAULT_CHECKS
    if isinstance(checks, str) or not isinstance(checks, (list, tuple)):
        raise ValueError("checks must be a list drawn from %s, got %r" % (", ".join(CHECKS), checks))
    for name in checks:
        _choice("checks", name, CHECKS)
    return tuple(name for name in CHECKS if name in checks)


def validate_header_names(names):
    out = []
    for name in names or ():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise ValueError("capture_headers must be HTTP header names, got %r" % (name,))
        out.append(name)
    return tuple(out)


def default_seed(now=None, entropy=None):
    """A fresh seed: UTC time plus 32 random bits, e.g. ``20250102T030405Z-1a2b3c4d``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return "%s-%s" % (stamp, (entropy if entropy is not None else os.urandom(4)).hex())


def default_tag(seed):
    """``check-<seed>`` when that is a valid tag, else ``check-`` plus 16 hex digits of sha256(seed)."""
    candidate = "check-%s" % seed
    if _TAG.match(candidate):
        return candidate
    return "check-" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:16]


def wrong_password(password):
    """A password that differs from ``password`` in its first bytes (bcrypt reads only 72)."""
    candidate = "dockyard-wrong-" + hashlib.sha256((password or "").encode("utf-8")).hexdigest()[:12]
    return candidate if candidate != password else candidate + "x"


# ---------------------------------------------------------------------------------------------
# HTTP client
# ---------------------------------------------------------------------------------------------

class TransportError(Exception):
    """The request could not be made or its response not read (DNS, TCP, TLS, timeout, protocol).

    ``url`` is the URL that failed (after redirects).
    """

    def __init__(self, message, url=None):
        super().__init__(message)
        self.url = url


def make_ssl_context(ca_path=None, validate_certs=True):
    """TLS client context: system trust plus ``ca_path`` (a PEM file or a hashed directory)."""
    if not validate_certs:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    context = ssl.create_default_context()
    # Mimic the Go clients the registry serves (docker, containerd, podman), not Python 3.13's
    # extra-strict RFC 5280 profile, so this probe fails only where those clients would.
    strict = getattr(ssl, "VERIFY_X509_STRICT", 0)
    if strict:
        context.verify_flags &= ~strict
    if ca_path:
        if not os.path.exists(ca_path):
            raise ValueError("ca_path %r does not exist" % (ca_path,))
        try:
            if os.path.isdir(ca_path):
                context.load_verify_locations(capath=ca_path)
            else:
                context.load_verify_locations(cafile=ca_path)
        except (ssl.SSLError, OSError) as exc:
            raise ValueError("ca_path %r is not a readable PEM CA certificate file: %s" % (ca_path, exc)) from None
    return context


class _HTTPConnection(http.client.HTTPConnection):
    """Plain HTTP, connecting to ``connect_host`` while ``Host`` names the URL's host."""

    def __init__(self, host, port, connect_host, timeout):
        super().__init__(host, port, timeout=timeout)
        self.connect_host = connect_host

    def connect(self):
        self.sock = socket.create_connection((self.connect_host, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _HTTPSConnection(http.client.HTTPSConnection):
    """TLS to ``connect_host``; SNI, certificate name check and ``Host`` use the URL's host."""

    def __init__(self, host, port, connect_host, timeout, context):
        super().__init__(host, port, timeout=timeout, context=context)
        self.connect_host = connect_host
        self.tls_context = context

    def connect(self):
        sock = socket.create_connection((self.connect_host, self.port), self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = self.tls_context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


@dataclass
class Response:
    method: str
    url: str                      # the URL that answered (after redirects)
    status: int
    reason: str
    headers: object = field(repr=False)  # http.client.HTTPMessage: case-insensitive .get()
    body: bytes = field(default=b"", repr=False)
    redirects: list = field(default_factory=list)  # URLs followed after the first, in order
    registry: bool = True         # answered by the registry's own origin (not a storage backend)
    requested: str = ""           # the URL first asked for

    def header(self, name, default=None):
        return self.headers.get(name, default)


def origin_of(url):
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


def display_url(url, registry_origin=None):
    """URL for messages: the path alone on the registry's origin, scheme://host:port/path elsewhere.

    The query is always dropped: upload ``_state`` tokens are long and pre-signed storage URLs
    carry signatures.
    """
    parts = urlsplit(url)
    if registry_origin is not None and origin_of(url) == registry_origin:
        return parts.path or "/"
    return "%s://%s%s" % (parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path or "/")


def add_query(url, **params):
    """Append ``params`` to ``url``, whose query may already hold upload state."""
    extra = urlencode(params)
    base, sep, fragment = url.partition("#")
    joined = base + ("&" if "?" in base else "?") + extra
    return joined + sep + fragment


class RegistryClient:
    """A tiny registry HTTP client: keep-alive, Basic auth, ``resolve`` override, redirects."""

    def __init__(self, url, username=None, password=None, ca_path=None, validate_certs=True, resolve=None,
                 timeout=DEFAULT_TIMEOUT, observer=None):
        self.scheme, self.host, self.port, self.netloc = validate_url(url)
        self.base_url = "%s://%s" % (self.scheme, self.netloc)
        self.origin = (self.scheme, self.host, self.port)
        self.username = username
        self._password = password
        self.resolve = _resolve_target(resolve)
        self.timeout = float(timeout)
        self.observer = observer
        self._ca_path = ca_path
        self._validate_certs = validate_certs
        self._context = make_ssl_context(ca_path, validate_certs) if self.scheme == "https" else None
        self._connections = {}

    # -- plumbing --------------------------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()

    def url(self, path):
        return self.base_url + path

    def connect_target(self, url):
        """(host, port) a request to ``url`` connects to, after ``resolve``."""
        scheme, host, port = origin_of(url)
        if self.resolve and host == self.host:
            return self.resolve, port
        return host, port

    def _authorization(self, auth):
        if auth is True:
            if self.username is None:
                return None
            user, password = self.username, self._password
        elif auth:
            user, password = auth
        else:
            return None
        token = base64.b64encode(("%s:%s" % (user, password or "")).encode("utf-8")).decode("ascii")
        return "Basic " + token

    def _connection(self, key):
        conn = self._connections.get(key)
        if conn is not None:
            return conn, True
        scheme, host, port = key
        connect_host = self.resolve if (self.resolve and host == self.host) else host
        if scheme == "https":
            if self._context is None:
                self._context = make_ssl_context(self._ca_path, self._validate_certs)
            conn = _HTTPSConnection(host, port, connect_host, self.timeout, self._context)
        else:
            conn = _HTTPConnection(host, port, connect_host, self.timeout)
        self._connections[key] = conn
        return conn, False

    def _drop(self, key):
        conn = self._connections.pop(key, None)
        if conn is not None:
            conn.close()

    def _exchange(self, method, url, headers, body, sink):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise TransportError("cannot follow a %r URL" % parts.scheme, url)
        key = origin_of(url)
        target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        for attempt in (1, 2):
            conn, reused = self._connection(key)
            try:
                conn.request(method, target, body=body() if callable(body) else body, headers=headers)
                resp = conn.getresponse()
            except (ConnectionResetError, BrokenPipeError, http.client.BadStatusLine) as exc:
                # a kept-alive connection the server closed while idle: retry once on a new one
                self._drop(key)
                if reused and attempt == 1:
                    continue
                raise TransportError(self._describe_error(exc, url), url) from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop(key)
                raise TransportError(self._describe_error(exc, url), url) from None
            break
        try:
            if sink is not None and 200 <= resp.status < 300:
                while True:
                    piece = resp.read(_BLOCK)
                    if not piece:
                        break
                    sink(piece)
                data = b""
            else:
                data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            self._drop(key)
            raise TransportError(self._describe_error(exc, url, "reading the response"), url) from None
        if resp.will_close:
            self._drop(key)
        return Response(method, url, resp.status, resp.reason, resp.headers, data,
                        registry=(key == self.origin))

    def _describe_error(self, exc, url, what="request"):
        host, port = self.connect_target(url)
        via = ""
        if self.resolve and origin_of(url)[1] == self.host:
            via = " (connected to %s:%d via resolve)" % (host, port)
        reason = str(exc) or exc.__class__.__name__
        if isinstance(exc, ssl.SSLCertVerificationError):
            reason = "TLS certificate verification failed: %s (set ca_path to the CA that signed the " \
                     "registry certificate; the name checked is %r)" % (exc.verify_message or exc, origin_of(url)[1])
        elif isinstance(exc, socket.timeout):
            reason = "timed out after %g s" % self.timeout
        elif isinstance(exc, socket.gaierror):
            reason = "cannot resolve %r: %s (set resolve to connect to an address instead)" % (host, exc)
        return "%s failed%s: %s" % (what, via, reason)

    # -- API -------------------------------------------------------------------------------

    def request(self, method, url, headers=None, body=None, auth=True, follow_redirects=False, sink=None):
        """Send one request (following redirects for GET/HEAD when asked) and return a Response.

        ``url`` is a path on the registry or an absolute URL. ``auth`` is True (the configured
        credentials), False (none) or a (user, password) pair. Credentials go only to the
        registry's own origin: a redirect to a storage backend never carries them. ``body`` is
        bytes, None, or a callable returning an iterable of bytes (then set Content-Length).
        ``sink`` receives the body of a 2xx response piece by piece instead of keeping it.
        """
        first = current = url if "://" in url else self.url(url)
        redirects = []
        while True:
            sent = {"User-Agent": USER_AGENT}
            sent.update(headers or {})
            if origin_of(current) == self.origin:
                authorization = self._authorization(auth)
                if authorization:
                    sent["Authorization"] = authorization
            if self.observer is not None:
                self.observer.before(method, current)
            response = self._exchange(method, current, sent, body, sink)
            response.redirects = list(redirects)
            response.requested = first
            if self.observer is not None:
                self.observer.after(response)
            location = response.header("Location")
            if not (follow_redirects and method in ("GET", "HEAD") and location
                    and response.status in (301, 302, 303, 307, 308)):
                return response
            if len(redirects) >= MAX_REDIRECTS:
                raise TransportError("more than %d redirects, last to %s"
                                     % (MAX_REDIRECTS, display_url(location)), current)
            current = urljoin(current, location)
            redirects.append(current)


def _resolve_target(resolve):
    if resolve is None or str(resolve).strip() == "":
        return None
    text = str(resolve).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if "/" in text or " " in text or not text:
        raise ValueError("resolve must be an IP address or a host name to connect to, got %r" % (resolve,))
    return text


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------

class _Recorder:
    """Counts requests per phase and collects header values (upstream backend, capture_headers)."""

    def __init__(self, capture):
        self.capture = (UPSTREAM_HEADER,) + tuple(h for h in capture if h.lower() != UPSTREAM_HEADER.lower())
        self.phase = None
        self.phases = {}

    def _stats(self):
        return self.phases.setdefault(self.phase, {"requests": 0, "headers": {}})

    def before(self, method, url):
        self._stats()["requests"] += 1

    def after(self, response):
        seen = self._stats()["headers"]
        for name in self.capture:
            value = response.header(name)
            if value is not None:
                values = seen.setdefault(name, [])
                if value not in values:
                    values.append(value)

    def summary(self, phase):
        stats = self.phases.get(phase, {"requests": 0, "headers": {}})
        headers = dict(stats["headers"])
        return {
            "requests": stats["requests"],
            "upstreams": headers.pop(UPSTREAM_HEADER, []),
            "captured_headers": headers,
        }


def _excerpt(body):
    if not body:
        return "(empty body)"
    text = body[:BODY_EXCERPT].decode("utf-8", "replace")
    text = " ".join(text.split())
    return text + (" ..." if len(body) > BODY_EXCERPT else "")


def _split_challenge(value):
    scheme, _sep, params = (value or "").strip().partition(" ")
    return scheme.lower(), params.strip()


class _Checker:
    def __init__(self, client, image, opts, result, warnings):
        self.client = client
        self.image = image
        self.opts = opts
        self.result = result
        self.warnings = warnings
        self.repo = opts["repository"]
        self.wrote = False
        self._location_checked = False

    # -- helpers ---------------------------------------------------------------------------

    def _absolute(self, url):
        return url if "://" in url else self.client.url(url)

    def _origin_hint(self, url):
        """Why a URL the registry handed out points somewhere else than ``url`` (proxy headers)."""
        scheme, host, port = origin_of(url)
        if (scheme, host, port) == self.client.origin or host != self.client.host:
            return ""
        if scheme != self.client.scheme:
            return (" (the registry built a %s:// URL while url is %s://: behind nginx pass "
                    "'proxy_set_header X-Forwarded-Proto $scheme', or set the registry's http.relativeurls)"
                    % (scheme, self.client.scheme))
        return (" (the registry built a URL for %s while url is %s: behind nginx pass "
                "'proxy_set_header Host $http_host' so the port is kept, or set the registry's http.relativeurls)"
                % (urlsplit(url).netloc, self.client.netloc))

    def _call(self, step, method, url, **kwargs):
        try:
            return self.client.request(method, url, **kwargs)
        except TransportError as exc:
            requested = self._absolute(url)
            failed = exc.url or requested
            where = display_url(requested, self.client.origin)
            hint = self._origin_hint(failed)
            if failed != requested:
                where += " (redirected to %s)" % display_url(failed, self.client.origin)
                if origin_of(failed) != self.client.origin and not hint:
                    hint = ("; with storage redirects enabled every client must reach the storage endpoint "
                            "itself (or set the registry's storage.redirect.disable)")
            raise CheckFailed("%s: %s %s %s%s" % (step, method, where, exc, hint)) from None

    def _fail(self, step, response, expected, note=""):
        where = display_url(response.requested or response.url, self.client.origin)
        if response.redirects:
            where += " (redirected to %s)" % display_url(response.url, self.client.origin)
        raise CheckFailed("%s: %s %s returned HTTP %d %s, expected %s%s%s; body: %s" % (
            step, response.method, where, response.status, response.reason, expected, note,
            self._origin_hint(response.url), _excerpt(response.body)))

    def _expect(self, step, response, *statuses, note=""):
        if response.status not in statuses:
            self._fail(step, response, " or ".join(str(s) for s in statuses), note)
        return response

    def _blob_path(self, digest):
        return "/v2/%s/blobs/%s" % (self.repo, digest)

    def _manifest_path(self, reference):
        return "/v2/%s/manifests/%s" % (self.repo, reference)

    def _location(self, step, response):
        location = response.header("Location")
        if not location:
            raise CheckFailed("%s: %s %s returned HTTP %d without a Location header" % (
                step, response.method, display_url(response.url, self.client.origin), response.status))
        absolute = urljoin(response.url, location)
        if not self._location_checked:
            self._location_checked = True
            relative = "://" not in location
            self.result["push"]["upload_location"] = "relative" if relative else "absolute"
            if not relative and origin_of(absolute) != self.client.origin:
                self.warnings.append(
                    "the registry returned an upload Location on %s while url is %s; if that is the same "
                    "registry, nginx must pass 'proxy_set_header Host $http_host' (or set the registry's "
                    "http.relativeurls)" % (urlsplit(absolute).netloc, self.client.netloc))
        return absolute

    # -- auth ------------------------------------------------------------------------------

    def auth(self, details):
        opts = self.opts
        resp = self._call("auth", "GET", "/v2/", auth=False)
        details["unauthenticated_status"] = resp.status
        details["api_version"] = resp.header(API_VERSION_HEADER)
        details["challenge"] = resp.header("WWW-Authenticate")
        if opts["expect_unauthenticated_401"]:
            if resp.status != 401:
                self._fail("auth: without credentials", resp, "401",
                           " (anonymous users must be refused)" if resp.status == 200 else "")
            if details["api_version"] != API_VERSION:
                found = ("has no %s header" % API_VERSION_HEADER if details["api_version"] is None
                         else "carries %s: %r" % (API_VERSION_HEADER, details["api_version"]))
                raise CheckFailed(
                    "auth: the 401 answer to GET /v2/ without credentials %s, expected %r (docker clients "
                    "need it on 401 answers too; nginx: add_header %s %s always)"
                    % (found, API_VERSION, API_VERSION_HEADER, API_VERSION))
            scheme, _params = _split_challenge(details["challenge"])
            if scheme != "basic":
                raise CheckFailed(
                    "auth: the 401 answer to GET /v2/ without credentials challenges with WWW-Authenticate: %r, "
                    "expected a Basic challenge%s" % (details["challenge"], (
                        " (this registry uses token authentication, which registry_check does not speak)"
                        if scheme == "bearer" else "")))
            if self.client.username is not None:
                resp = self._call("auth", "GET", "/v2/", auth=(self.client.username, wrong_password(opts["password"])))
                details["wrong_password_status"] = resp.status
                if resp.status != 401:
                    self._fail("auth: with a wrong password for user %r" % self.client.username, resp, "401",
                               " (the proxy accepted a wrong password)" if resp.status == 200 else "")
        if self.client.username is None:
            if not opts["expect_unauthenticated_401"]:
                self._expect("auth: without credentials", resp, 200)
            return
        resp = self._call("auth", "GET", "/v2/")
        details["authenticated_status"] = resp.status
        details["authenticated_api_version"] = resp.header(API_VERSION_HEADER)
        self._expect("auth: with the credentials of user %r" % self.client.username, resp, 200)

    # -- push ------------------------------------------------------------------------------

    def push(self, details):
        details["blobs"] = []
        details["bytes_pushed"] = 0
        count = len(self.image.layers)
        for index, blob in enumerate(self.image.blobs):
            label = "layer %d/%d" % (index + 1, count) if index < count else "config"
            entry = {"kind": "layer" if index < count else "config", "digest": blob.digest,
                     "size": blob.size, "media_type": blob.media_type}
            details["blobs"].append(entry)
            self._push_blob("push: %s %s (%d bytes)" % (label, blob.digest, blob.size), blob, entry)
            details["bytes_pushed"] += entry.get("bytes_sent", 0)
        step = "push: manifest %s as tag %r" % (self.image.manifest_digest, self.opts["tag"])
        self.wrote = True
        resp = self._call(step, "PUT", self._manifest_path(self.opts["tag"]), body=self.image.manifest,
                          headers={"Content-Type": self.image.media_type})
        details["manifest_status"] = resp.status
        self._expect(step, resp, 201)
        returned = resp.header("Docker-Content-Digest")
        details["manifest_digest"] = self.image.manifest_digest
        details["manifest_digest_returned"] = returned
        if returned is not None and returned != self.image.manifest_digest:
            raise CheckFailed("%s: the registry stored it as %s (Docker-Content-Digest), expected %s"
                              % (step, returned, self.image.manifest_digest))

    def _push_blob(self, step, blob, entry):
        opts = self.opts
        resp = self._call(step, "HEAD", self._blob_path(blob.digest), follow_redirects=True)
        entry["head_status"] = resp.status
        if resp.status == 200:
            entry["action"] = "exists"
            return
        self._expect(step + " existence check", resp, 200, 404)
        self.wrote = True
        path = "/v2/%s/blobs/uploads/" % self.repo
        if opts["mount_from"]:
            path += "?" + urlencode({"mount": blob.digest, "from": opts["mount_from"]})
        resp = self._call(step, "POST", path, headers={"Content-Length": "0"})
        if resp.status == 201 and opts["mount_from"]:
            entry["action"] = "mounted"
            entry["status"] = resp.status
            return
        self._expect(step + " upload start", resp, 202)
        location = self._location(step + " upload start", resp)
        chunks = 0
        if opts["upload"] == "chunked":
            offset = 0
            total = -(-blob.size // opts["chunk_size"])
            for chunk in blob.chunks(opts["chunk_size"]):
                chunks += 1
                end = offset + len(chunk) - 1
                sub = "%s chunk %d/%d (bytes %d-%d)" % (step, chunks, total, offset, end)
                resp = self._call(sub, "PATCH", location, body=chunk, headers={
                    "Content-Type": OCTET_STREAM, "Content-Range": "%d-%d" % (offset, end),
                    "Content-Length": str(len(chunk))})
                self._expect(sub, resp, 202)
                acknowledged = (resp.header("Range") or "").strip()
                if acknowledged.startswith("bytes="):
                    acknowledged = acknowledged[len("bytes="):]
                if acknowledged and acknowledged != "0-%d" % end:
                    raise CheckFailed("%s: PATCH %s: the registry acknowledged Range %s after %d bytes were sent "
                                      "(expected 0-%d)" % (sub, display_url(location, self.client.origin),
                                                           acknowledged, end + 1, end))
                location = self._location(sub, resp)
                offset = end + 1
            resp = self._call(step + " upload commit", "PUT", add_query(location, digest=blob.digest),
                              headers={"Content-Type": OCTET_STREAM, "Content-Length": "0"})
        else:
            chunks = 1
            resp = self._call(step + " monolithic upload", "PUT", add_query(location, digest=blob.digest),
                              body=lambda: blob.chunks(_BLOCK),
                              headers={"Content-Type": OCTET_STREAM, "Content-Length": str(blob.size)})
        entry["status"] = resp.status
        self._expect(step + " upload commit", resp, 201)
        returned = resp.header("Docker-Content-Digest")
        if returned is not None and returned != blob.digest:
            raise CheckFailed("%s: the registry stored the blob as %s (Docker-Content-Digest), expected %s"
                              % (step, returned, blob.digest))
        entry["action"] = "uploaded"
        entry["requests"] = chunks
        entry["bytes_sent"] = blob.size

    # -- pull ------------------------------------------------------------------------------

    def pull(self, details):
        tag = self.opts["tag"]
        step = "pull: manifest of tag %r" % tag
        resp = self._call(step, "GET", self._manifest_path(tag), headers={
            "Accept": ", ".join((DOCKER_MANIFEST, OCI_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX))})
        details["manifest_status"] = resp.status
        note = ""
        if resp.status == 404 and "push" not in self.opts["checks"]:
            note = " (pull without push reads what an earlier push made: give it that run's seed and tag)"
        self._expect(step, resp, 200, note=note)
        body_digest = sha256_digest(resp.body)
        header_digest = resp.header("Docker-Content-Digest")
        details["manifest_digest"] = body_digest
        details["manifest_media_type"] = (resp.header("Content-Type") or "").split(";")[0].strip()
        if header_digest is not None and header_digest != body_digest:
            raise CheckFailed("%s: Docker-Content-Digest says %s but the manifest bytes hash to %s"
                              % (step, header_digest, body_digest))
        if body_digest != self.image.manifest_digest:
            raise CheckFailed(
                "%s: the tag points at manifest %s, expected %s (the image generated from seed %r; was the tag "
                "pushed with another seed, layers or format, or overwritten since?)"
                % (step, body_digest, self.image.manifest_digest, self.opts["seed"]))
        try:
            manifest = parse_manifest(resp.body)
        except ValueError as exc:
            raise CheckFailed("%s: %s" % (step, exc)) from None
        details["blobs"] = []
        details["bytes_pulled"] = 0
        descriptors = [("layer %d/%d" % (i + 1, len(manifest["layers"])), d) for i, d in enumerate(manifest["layers"])]
        descriptors.append(("config", manifest["config"]))
        for label, desc in descriptors:
            entry = {"digest": desc["digest"], "size": desc["size"]}
            details["blobs"].append(entry)
            self._pull_blob("pull: %s %s (%d bytes)" % (label, desc["digest"], desc["size"]), desc, entry)
            details["bytes_pulled"] += entry["bytes"]

    def _pull_blob(self, step, desc, entry):
        digest = hashlib.sha256()
        received = [0]

        def sink(piece):
            digest.update(piece)
            received[0] += len(piece)

        resp = self._call(step, "GET", self._blob_path(desc["digest"]), follow_redirects=True, sink=sink)
        entry["status"] = resp.status
        entry["redirected"] = bool(resp.redirects)
        if resp.redirects:
            entry["served_by"] = urlsplit(resp.url).netloc.rsplit("@", 1)[-1]
        if resp.status != 200:
            self._fail(step, resp, "200")
        entry["bytes"] = received[0]
        got = "sha256:" + digest.hexdigest()
        if received[0] != desc["size"] or got != desc["digest"]:
            raise CheckFailed("%s: received %d bytes hashing to %s from %s, expected %d bytes with digest %s"
                              % (step, received[0], got, display_url(resp.url, self.client.origin),
                                 desc["size"], desc["digest"]))

    # -- delete ----------------------------------------------------------------------------

    def delete(self, details):
        digest = self.image.manifest_digest
        step = "delete: manifest %s" % digest
        resp = self._call(step, "DELETE", self._manifest_path(digest))
        details["status"] = resp.status
        details["manifest_digest"] = digest
        if resp.status == 405:
            details["deleted"] = False
            details["supported"] = False
            self.warnings.append("delete: the registry refuses deletes (HTTP 405, storage.delete.enabled is "
                                 "false); manifest %s stays in %s" % (digest, self.repo))
            return
        self._expect(step, resp, 202, 405)
        self.wrote = True
        details["deleted"] = True
        details["supported"] = True
        resp = self._call(step, "HEAD", self._manifest_path(self.opts["tag"]), headers={
            "Accept": ", ".join((DOCKER_MANIFEST, OCI_MANIFEST))})
        details["tag_status_after"] = resp.status


def run_checks(url, username=None, password=None, ca_path=None, validate_certs=True, resolve=None,
               repository=DEFAULT_REPOSITORY, tag=None, seed=None, layers=DEFAULT_LAYERS,
               layer_format="tar+gzip", manifest_format="docker", upload="chunked",
               chunk_size=DEFAULT_CHUNK_SIZE, mount_from=None, expect_unauthenticated_401=True,
               timeout=DEFAULT_TIMEOUT, checks=None, capture_headers=(), check_mode=False,
               report_changed=True, clock=time.monotonic):
    """Probe the registry at ``url`` and return what was measured.

    Runs the requested ``checks`` in the order auth, push, pull, delete. In ``check_mode`` only
    ``auth`` runs (the others write or read what a skipped push would have written). Raises
    ValueError on bad options and CheckFailed (with ``.result``) when a check fails.
    """
    checks = validate_checks(checks)
    validate_url(url)
    repository = validate_repository(repository)
    mount_from = validate_repository(mount_from, "mount_from") if mount_from else None
    seed = validate_seed(seed) if seed not in (None, "") else default_seed()
    tag = validate_tag(tag) if tag not in (None, "") else default_tag(seed)
    _choice("upload", upload, UPLOAD_MODES)
    _int("chunk_size", chunk_size, 1)
    capture = validate_header_names(capture_headers)
    if username in ("", None):
        username = None
        if password not in (None, ""):
            raise ValueError("password is set but username is not")
    try:
        timeout = float(timeout)
    except (TypeError, ValueError):
        raise ValueError("timeout must be a number of seconds, got %r" % (timeout,)) from None
    if timeout <= 0:
        raise ValueError("timeout must be positive, got %r" % (timeout,))
    if expect_unauthenticated_401 and username is None and set(checks) - {"auth"}:
        raise ValueError("username and password are required for the %s check(s) when "
                         "expect_unauthenticated_401 is true" % ", ".join(c for c in checks if c != "auth"))
    image = build_image(seed, layers, layer_format, manifest_format)

    opts = {
        "repository": repository, "tag": tag, "seed": seed, "mount_from": mount_from, "upload": upload,
        "chunk_size": chunk_size, "expect_unauthenticated_401": bool(expect_unauthenticated_401),
        "password": password, "checks": checks,
    }
    scheme, host, port, netloc = validate_url(url)
    result = {
        "changed": False,
        "url": "%s://%s" % (scheme, netloc),
        "repository": repository,
        "tag": tag,
        "seed": seed,
        "reference": "%s/%s:%s" % (netloc, repository, tag),
        "image": image.summary(),
        "checks_passed": [],
        "checks_skipped": [],
        "upstreams": [],
        "captured_headers": {},
        "warnings": [],
    }
    recorder = _Recorder(capture)
    client = RegistryClient(url, username, password, ca_path, validate_certs, resolve, timeout, observer=recorder)
    checker = _Checker(client, image, opts, result, result["warnings"])
    try:
        for name in checks:
            if check_mode and name != "auth":
                result["checks_skipped"].append(name)
                continue
            recorder.phase = name
            details = result.setdefault(name, {})
            start = clock()
            try:
                getattr(checker, name)(details)
            finally:
                details["seconds"] = round(clock() - start, 3)
                summary = recorder.summary(name)
                details.update(summary)
                for value in summary["upstreams"]:
                    if value not in result["upstreams"]:
                        result["upstreams"].append(value)
                for header, values in summary["captured_headers"].items():
                    merged = result["captured_headers"].setdefault(header, [])
                    merged.extend(v for v in values if v not in merged)
                result["changed"] = bool(checker.wrote and report_changed)
            result["checks_passed"].append(name)
    except CheckFailed as exc:
        exc.result = result
        raise
    finally:
        client.close()
    return result
