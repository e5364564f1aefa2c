# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for the registry probe in ``_oci``.

Three layers of evidence:

* pure generation: same seed, same bytes and digests; layers are real tar(+gzip) archives whose
  uncompressed digests are the config's ``diff_ids``; manifests parse back with matching descriptors;
* a fake registry (``FakeRegistry``, Python ``http.server`` over TLS with a throwaway CA made with
  ``cryptography``) for Basic auth, ``resolve``, ``ca_path``, Location handling, redirects to a
  storage host, error messages and secrets;
* a REAL Distribution 2.8 registry (the lab image ``dockyard-lab/registry:2.8.2``, plain HTTP on a
  free loopback port) for push/pull/mount/delete, and the host's ``docker pull`` of what was pushed.
  Skipped when Docker or the image is missing.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import hashlib
import io
import ipaddress
import itertools
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tarfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _oci
from ansible_collections.dockyard.registry.plugins.module_utils._oci import CheckFailed

USER = "alice"
PASSWORD = "s3cret-Pa55word"
REGISTRY_NAME = "registry.dockyard.test"  # .test never resolves (RFC 6761): resolve is needed
REAL_IMAGE = "dockyard-lab/registry:2.8.2"


# =============================================================================================
# Generation
# =============================================================================================

def test_pseudo_random_bytes_deterministic_and_sized():
    one = b"".join(_oci.pseudo_random_bytes("seed", "layer-0", 3 * (1 << 20) + 5))
    two = b"".join(_oci.pseudo_random_bytes("seed", "layer-0", 3 * (1 << 20) + 5))
    assert one == two
    assert len(one) == 3 * (1 << 20) + 5
    # a prefix of a longer stream is the shorter stream
    assert b"".join(_oci.pseudo_random_bytes("seed", "layer-0", 1000)) == one[:1000]
    assert b"".join(_oci.pseudo_random_bytes("seed", "layer-1", 1000)) != one[:1000]
    assert b"".join(_oci.pseudo_random_bytes("other", "layer-0", 1000)) != one[:1000]
    assert b"".join(_oci.pseudo_random_bytes("seed", "layer-0", 0)) == b""


def test_pseudo_random_bytes_pinned():
    # The bytes are part of the contract (hosts compare digests): pin them.
    data = b"".join(_oci.pseudo_random_bytes("dockyard", "layer-0", 32))
    key = hashlib.sha256(b"dockyard-oci\0dockyard\0layer-0").digest()
    assert data == hashlib.shake_256(key + b"\0" * 8).digest(32)


@pytest.mark.parametrize("size", [1, 7, 10, 65535, 65536])
def test_rechunk(size):
    pieces = [b"a" * 3, b"", b"b" * 70000, b"c"]
    out = list(_oci.rechunk(pieces, size))
    assert b"".join(out) == b"".join(pieces)
    assert all(len(piece) == size for piece in out[:-1])
    assert 0 < len(out[-1]) <= size


def test_rechunk_rejects_zero():
    with pytest.raises(ValueError):
        list(_oci.rechunk([b"x"], 0))


def test_same_seed_same_digests():
    one = _oci.build_image("seed-1")
    two = _oci.build_image("seed-1")
    assert one.manifest == two.manifest
    assert one.manifest_digest == two.manifest_digest
    assert [b.digest for b in one.blobs] == [b.digest for b in two.blobs]
    assert [b.read() for b in one.blobs] == [b.read() for b in two.blobs]
    other = _oci.build_image("seed-2")
    assert other.manifest_digest != one.manifest_digest
    assert not {b.digest for b in other.layers} & {b.digest for b in one.layers}


def test_options_change_digests():
    base = _oci.build_image("s")
    assert _oci.build_image("s", layers=[1024, 65537]).manifest_digest != base.manifest_digest
    assert _oci.build_image("s", layer_format="tar").manifest_digest != base.manifest_digest
    assert _oci.build_image("s", manifest_format="oci").manifest_digest != base.manifest_digest


def test_image_pinned_digest():
    # Pinned: a change here breaks pulls of images pushed by an older collection version.
    image = _oci.build_image("dockyard", layers=[0, 100])
    assert image.layers[0].size == 10 + 5 + 1536 + 5 + 8  # gzip header, 1 block, tar, final block, trailer
    assert hashlib.sha256(image.manifest).hexdigest() == image.manifest_digest[len("sha256:"):]
    assert image.manifest_digest == _oci.build_image("dockyard", layers=(0, 100)).manifest_digest
    # the same value was produced by Python 3.8 to 3.13
    assert _oci.build_image("dockyard", [0, 100, 300000], "tar+gzip", "oci").manifest_digest == \
        "sha256:c8a1820aed5dfa6a34ee6000530af98bd0e6d5c98ffdfea347552f222e23f373"


@pytest.mark.parametrize("size", [0, 1, 511, 512, 513, 65536, 200000])
def test_tar_gzip_layer_is_a_real_archive(size):
    blob = _oci.build_layer("seed", 3, size, "tar+gzip", "docker")
    data = blob.read()
    assert len(data) == blob.size
    assert _oci.sha256_digest(data) == blob.digest
    assert blob.media_type == _oci.DOCKER_LAYER_GZIP
    tar_bytes = gzip.decompress(data)
    assert _oci.sha256_digest(tar_bytes) == blob.diff_id
    assert len(tar_bytes) % 512 == 0
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as archive:
        members = archive.getmembers()
        assert [m.name for m in members] == ["dockyard-check-layer-3.bin"]
        member = members[0]
        assert member.isfile() and member.size == size and member.mode == 0o644
        assert member.uid == 0 and member.gid == 0 and member.mtime == 0
        content = archive.extractfile(member).read()
    assert content == b"".join(_oci.pseudo_random_bytes("seed", "layer-3", size))


def test_gzip_stored_matches_zlib_reader():
    payload = b"".join(_oci.pseudo_random_bytes("z", "x", 300000))
    data = b"".join(_oci.gzip_stored([payload[:5], payload[5:200000], payload[200000:]]))
    assert gzip.decompress(data) == payload
    # chunk boundaries of the input do not change the output
    assert data == b"".join(_oci.gzip_stored([payload]))


def test_tar_and_raw_layers():
    tar_blob = _oci.build_layer("seed", 0, 1000, "tar", "oci")
    assert tar_blob.media_type == _oci.OCI_LAYER_TAR
    assert tar_blob.diff_id == tar_blob.digest
    with tarfile.open(fileobj=io.BytesIO(tar_blob.read()), mode="r:") as archive:
        assert archive.getmembers()[0].size == 1000
    raw = _oci.build_layer("seed", 0, 1000, "raw", "oci")
    assert raw.media_type == _oci.OCTET_STREAM
    assert raw.size == 1000
    assert raw.read() == b"".join(_oci.pseudo_random_bytes("seed", "layer-0", 1000))


def test_ustar_header_checksum_and_limits():
    header = _oci.ustar_header("a.bin", 12345)
    assert len(header) == 512
    stored = int(header[148:154], 8)
    assert stored == sum(header[:148]) + 8 * ord(" ") + sum(header[156:])
    with pytest.raises(ValueError):
        _oci.ustar_header("x" * 101, 1)
    with pytest.raises(ValueError):
        _oci.ustar_header("a", _oci.MAX_LAYER_SIZE + 1)


@pytest.mark.parametrize("manifest_format, layer_format", [
    ("docker", "tar+gzip"), ("docker", "tar"), ("docker", "raw"),
    ("oci", "tar+gzip"), ("oci", "tar"), ("oci", "raw"),
])
def test_manifest_valid(manifest_format, layer_format):
    image = _oci.build_image("m", layers=[10, 70000, 0], layer_format=layer_format, manifest_format=manifest_format)
    manifest_type, config_type, layer_types = _oci.MEDIA_TYPES[manifest_format]
    doc = json.loads(image.manifest)
    assert image.manifest == _oci.canonical_json(doc)
    assert doc["schemaVersion"] == 2
    assert doc["mediaType"] == manifest_type == image.media_type
    assert doc["config"] == {"mediaType": config_type, "size": image.config.size, "digest": image.config.digest}
    assert doc["layers"] == [
        {"mediaType": layer_types[layer_format], "size": layer.size, "digest": layer.digest} for layer in image.layers]
    for desc, blob in zip(doc["layers"] + [doc["config"]], image.blobs):
        data = blob.read()
        assert len(data) == desc["size"]
        assert _oci.sha256_digest(data) == desc["digest"]
    parsed = _oci.parse_manifest(image.manifest)
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
        _oci.parse_manifest(data)


# =============================================================================================
# Validation and small helpers
# =============================================================================================

@pytest.mark.parametrize("url, expected", [
    ("https://registry.example.com", ("https", "registry.example.com", 443, "registry.example.com")),
    ("https://Registry.Example.com:5043/", ("https", "registry.example.com", 5043, "registry.example.com:5043")),
    ("http://127.0.0.1:5000", ("http", "127.0.0.1", 5000, "127.0.0.1:5000")),
    ("https://[::1]:8443", ("https", "::1", 8443, "[::1]:8443")),
])
def test_validate_url(url, expected):
    assert _oci.validate_url(url) == expected


@pytest.mark.parametrize("url", [None, "", "registry.example.com", "ftp://x", "https://", "https://x:99999",
                                 "https://u:p@x", "https://x/v2/", "https://x?a=1"])
def test_validate_url_rejects(url):
    with pytest.raises(ValueError, match="url"):
        _oci.validate_url(url)


@pytest.mark.parametrize("name", ["dockyard/verify", "a", "a-b/c__d/e.f", "x0/y--z"])
def test_repository_ok(name):
    assert _oci.validate_repository(name) == name


@pytest.mark.parametrize("name", ["", "Dockyard/verify", "a//b", "/a", "a/", "a_-b", "-a", None])
def test_repository_rejects(name):
    with pytest.raises(ValueError, match="repository"):
        _oci.validate_repository(name)


def test_tag_and_seed_defaults():
    seed = _oci.default_seed(now=0, entropy=b"\x01\x02\x03\x04")
    assert seed == "19700101T000000Z-01020304"
    assert _oci.default_tag(seed) == "check-19700101T000000Z-01020304"
    assert _oci.default_tag("a b/c") == "check-" + hashlib.sha256(b"a b/c").hexdigest()[:16]
    assert _oci.default_tag("x" * 200).startswith("check-") and len(_oci.default_tag("x" * 200)) == 22
    assert _oci.validate_tag(_oci.default_tag(seed))
    assert re.match(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$", _oci.default_seed())
    with pytest.raises(ValueError, match="tag"):
        _oci.validate_tag("-bad")
    with pytest.raises(ValueError, match="seed"):
        _oci.validate_seed("")


def test_wrong_password_differs_early():
    assert _oci.wrong_password(PASSWORD) != PASSWORD
    assert _oci.wrong_password(PASSWORD)[:8] != PASSWORD[:8]  # bcrypt only reads 72 bytes
    assert _oci.wrong_password(None)


@pytest.mark.parametrize("kwargs, message", [
    (dict(checks=["auth", "bogus"]), "checks must be one of"),
    (dict(checks="auth"), "checks must be a list"),
    (dict(layers=[]), "layers must be a non-empty list"),
    (dict(layers=[-1]), r"layers\[0\] must be at least 0"),
    (dict(layers=["1"]), "must be an integer"),
    (dict(chunk_size=0), "chunk_size must be at least 1"),
    (dict(upload="stream"), "upload must be one of"),
    (dict(layer_format="zstd"), "layer_format must be one of"),
    (dict(manifest_format="v1"), "manifest_format must be one of"),
    (dict(repository="UPPER"), "repository"),
    (dict(mount_from="a//b"), "mount_from"),
    (dict(tag="bad tag"), "tag"),
    (dict(timeout=0), "timeout must be positive"),
    (dict(timeout="soon"), "timeout must be a number"),
    (dict(capture_headers=["bad header"]), "capture_headers"),
    (dict(username=None, password=None), "username and password are required"),
    (dict(username=None, password="x", expect_unauthenticated_401=False), "password is set but username is not"),
    (dict(resolve="10.0.0.1/24"), "resolve must be"),
    (dict(ca_path="/nonexistent/ca.pem"), "ca_path"),
])
def test_run_checks_rejects_bad_options(kwargs, message):
    args = dict(url="https://registry.example.com", username=USER, password=PASSWORD)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        _oci.run_checks(**args)


def test_bad_ca_file(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(ValueError, match="not a readable PEM"):
        _oci.make_ssl_context(str(bad))


def test_add_query_and_display_url():
    assert _oci.add_query("http://h/v2/u/1?_state=a%3D", digest="sha256:ab") == \
        "http://h/v2/u/1?_state=a%3D&digest=sha256%3Aab"
    assert _oci.add_query("/v2/u/1", digest="sha256:ab") == "/v2/u/1?digest=sha256%3Aab"
    origin = ("https", "r.example", 5043)
    assert _oci.display_url("https://r.example:5043/v2/x?_state=secret", origin) == "/v2/x"
    assert _oci.display_url("https://user:pw@s3.example/b/k?X-Amz-Signature=s", origin) == "https://s3.example/b/k"


# =============================================================================================
# A fake registry over TLS (and a fake storage backend) for auth, resolve, redirects, messages
# =============================================================================================

def _make_pki(directory):
    """A throwaway CA and a server certificate for REGISTRY_NAME, localhost and 127.0.0.1."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dockyard test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, REGISTRY_NAME)]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName(REGISTRY_NAME), x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file = directory / "server.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(ca_file), str(cert_file)


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return _make_pki(tmp_path_factory.mktemp("pki"))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _dispatch(self):
        self.server.app.handle(self)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def _serve(app, cert_file=None):
    server = _Server(("127.0.0.1", 0), _Handler)
    server.app = app
    if cert_file:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file)

        def sni(_sock, name, _ctx):
            app.sni.append(name)

        context.sni_callback = sni
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


class _App:
    def __init__(self):
        self.sni = []
        self.log = []  # (method, path, query, headers dict)
        self.lock = threading.Lock()

    def reply(self, handler, status, body=b"", headers=None):
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)

    @staticmethod
    def read_body(handler):
        length = int(handler.headers.get("Content-Length") or 0)
        return handler.rfile.read(length) if length else b""

    def record(self, handler):
        parts = urlsplit(handler.path)
        with self.lock:
            self.log.append((handler.command, parts.path, parts.query, dict(handler.headers.items())))
        return parts


class FakeStorage(_App):
    """An S3-like blob host: refuses requests that carry Authorization (like a pre-signed URL does)."""

    def __init__(self, blobs):
        super().__init__()
        self.blobs = blobs

    def handle(self, handler):
        parts = self.record(handler)
        if "Authorization" in handler.headers:
            self.reply(handler, 400, b"<Error><Code>InvalidArgument</Code>"
                                     b"<Message>Only one auth mechanism allowed</Message></Error>")
            return
        if "X-Amz-Signature=" not in parts.query:
            self.reply(handler, 403, b"<Error><Code>AccessDenied</Code></Error>")
            return
        data = self.blobs.get(parts.path.rsplit("/", 1)[-1])
        if data is None:
            self.reply(handler, 404, b"<Error><Code>NoSuchKey</Code></Error>")
        else:
            self.reply(handler, 200, data, {"Content-Type": "application/octet-stream"})


class FakeRegistry(_App):
    """Enough of the distribution API for run_checks, behind Basic auth, with knobs for failures."""

    def __init__(self, tls=True):
        super().__init__()
        self.tls = tls
        self.users = {USER: PASSWORD}
        self.accept_any_password = False
        self.api_header_on_401 = True
        self.challenge = 'Basic realm="dockyard test"'
        self.locations = "absolute"      # absolute (from Host, like Distribution), relative, drop-port
        self.delete_enabled = True
        self.mount_enabled = True
        self.redirect_to = None          # storage base URL: blob GET/HEAD answer 307 there
        self.fail_patch = None           # n: the n-th PATCH of the run gets 404 BLOB_UPLOAD_UNKNOWN
        self.connection_close = False
        self.blobs = {}                  # digest -> bytes (shared storage)
        self.repo_blobs = {}             # repository -> set of digests linked there
        self.manifests = {}              # (repository, reference) -> (media type, bytes)
        self.uploads = {}
        self.patches = 0
        self.upstreams = itertools.cycle(["backend-a:5000", "backend-b:5000"])
        self.ids = itertools.count(1)

    def _auth_ok(self, handler):
        value = handler.headers.get("Authorization", "")
        if not value.startswith("Basic "):
            return False
        user, _sep, password = base64.b64decode(value[6:]).decode("utf-8").partition(":")
        return user in self.users and (self.accept_any_password or self.users[user] == password)

    def _base_headers(self):
        headers = {"Docker-Distribution-Api-Version": "registry/2.0", "X-Dockyard-Upstream": next(self.upstreams),
                   "X-Cache-Status": "MISS"}
        if self.connection_close:
            headers["Connection"] = "close"
        return headers

    def _location(self, handler, path):
        if self.locations == "relative":
            return path
        host = handler.headers["Host"]
        if self.locations == "drop-port":
            host = host.rsplit(":", 1)[0]
        return "%s://%s%s" % ("https" if self.tls else "http", host, path)

    def _error(self, handler, status, code, message, extra=None):
        headers = self._base_headers()
        headers.update(extra or {})
        headers["Content-Type"] = "application/json; charset=utf-8"
        body = json.dumps({"errors": [{"code": code, "message": message, "detail": None}]}).encode()
        self.reply(handler, status, body, headers)

    def handle(self, handler):  # noqa: C901 - one small router
        parts = self.record(handler)
        if self.connection_close:
            handler.close_connection = True
        body = self.read_body(handler) if handler.command in ("POST", "PUT", "PATCH") else b""
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if not self._auth_ok(handler):
            extra = {"WWW-Authenticate": self.challenge} if self.challenge else {}
            if not self.api_header_on_401:
                headers = extra
                headers["Content-Type"] = "text/html"
                self.reply(handler, 401, b"<html><body>401 Authorization Required</body></html>", headers)
                return
            self._error(handler, 401, "UNAUTHORIZED", "authentication required", extra)
            return
        path = parts.path
        if path == "/v2/":
            self.reply(handler, 200, b"{}", dict(self._base_headers(), **{"Content-Type": "application/json"}))
            return
        match = re.match(r"^/v2/(.+)/blobs/uploads/([^/]*)$", path)
        if match:
            self._upload(handler, match.group(1), match.group(2), query, body)
            return
        match = re.match(r"^/v2/(.+)/blobs/(sha256:[0-9a-f]{64})$", path)
        if match:
            repo, digest = match.groups()
            if digest not in self.repo_blobs.get(repo, ()):
                self._error(handler, 404, "BLOB_UNKNOWN", "blob unknown to registry")
            elif self.redirect_to:
                self.reply(handler, 307, b"", dict(self._base_headers(), Location="%s/bucket/%s?X-Amz-Signature=s3cr3t"
                                                   % (self.redirect_to, digest)))
            else:
                data = self.blobs[digest]
                self.reply(handler, 200, data, dict(self._base_headers(), **{
                    "Docker-Content-Digest": digest, "Content-Type": "application/octet-stream"}))
            return
        match = re.match(r"^/v2/(.+)/manifests/([^/]+)$", path)
        if match:
            self._manifest(handler, match.group(1), match.group(2), body)
            return
        self._error(handler, 404, "NAME_UNKNOWN", "no route")

    def _upload(self, handler, repo, uuid, query, body):
        cmd = handler.command
        if cmd == "POST" and not uuid:
            digest = query.get("mount")
            if digest and self.mount_enabled and digest in self.repo_blobs.get(query.get("from"), ()):
                self.repo_blobs.setdefault(repo, set()).add(digest)
                self.reply(handler, 201, b"", dict(self._base_headers(), **{
                    "Location": self._location(handler, "/v2/%s/blobs/%s" % (repo, digest)),
                    "Docker-Content-Digest": digest}))
                return
            uuid = "u%d" % next(self.ids)
            self.uploads[uuid] = bytearray()
            self.reply(handler, 202, b"", dict(self._base_headers(), **{
                "Location": self._location(handler, "/v2/%s/blobs/uploads/%s?_state=st%d" % (repo, uuid, 0)),
                "Range": "0-0", "Docker-Upload-UUID": uuid}))
            return
        if uuid not in self.uploads:
            self._error(handler, 404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
            return
        if cmd == "PATCH":
            self.patches += 1
            if self.fail_patch == self.patches:
                self._error(handler, 404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
                return
            self.uploads[uuid] += body
            size = len(self.uploads[uuid])
            self.reply(handler, 202, b"", dict(self._base_headers(), **{
                "Location": self._location(handler, "/v2/%s/blobs/uploads/%s?_state=st%d" % (repo, uuid, size)),
                "Range": "0-%d" % (size - 1), "Docker-Upload-UUID": uuid}))
            return
        if cmd == "PUT":
            data = bytes(self.uploads.pop(uuid) + body)
            digest = query.get("digest")
            if _oci.sha256_digest(data) != digest:
                self._error(handler, 400, "DIGEST_INVALID", "provided digest did not match uploaded content")
                return
            self.blobs[digest] = data
            self.repo_blobs.setdefault(repo, set()).add(digest)
            self.reply(handler, 201, b"", dict(self._base_headers(), **{
                "Location": self._location(handler, "/v2/%s/blobs/%s" % (repo, digest)),
                "Docker-Content-Digest": digest}))
            return
        self._error(handler, 405, "UNSUPPORTED", "method not allowed")

    def _manifest(self, handler, repo, ref, body):
        cmd = handler.command
        if cmd == "PUT":
            digest = _oci.sha256_digest(body)
            media_type = handler.headers.get("Content-Type")
            self.manifests[(repo, ref)] = self.manifests[(repo, digest)] = (media_type, body)
            self.reply(handler, 201, b"", dict(self._base_headers(), **{
                "Location": self._location(handler, "/v2/%s/manifests/%s" % (repo, digest)),
                "Docker-Content-Digest": digest}))
        elif cmd in ("GET", "HEAD"):
            found = self.manifests.get((repo, ref))
            if found is None:
                self._error(handler, 404, "MANIFEST_UNKNOWN", "manifest unknown")
                return
            self.reply(handler, 200, found[1], dict(self._base_headers(), **{
                "Content-Type": found[0], "Docker-Content-Digest": _oci.sha256_digest(found[1])}))
        elif cmd == "DELETE":
            if not self.delete_enabled:
                self._error(handler, 405, "UNSUPPORTED", "The operation is unsupported.")
                return
            found = self.manifests.get((repo, ref))
            if found is None:
                self._error(handler, 404, "MANIFEST_UNKNOWN", "manifest unknown")
                return
            for key in [k for k, v in self.manifests.items() if k[0] == repo and v[1] == found[1]]:
                del self.manifests[key]
            self.reply(handler, 202, b"", self._base_headers())

    # -- assertions helpers --
    def requests(self, method=None):
        return [entry for entry in self.log if method is None or entry[0] == method]


@pytest.fixture
def fake(pki):
    app = FakeRegistry(tls=True)
    server = _serve(app, pki[1])
    app.port = server.server_address[1]
    app.url = "https://%s:%d" % (REGISTRY_NAME, app.port)
    yield app
    server.shutdown()
    server.server_close()


@pytest.fixture
def storage(pki, fake):
    app = FakeStorage(fake.blobs)
    server = _serve(app, pki[1])
    app.url = "https://127.0.0.1:%d" % server.server_address[1]
    yield app
    server.shutdown()
    server.server_close()


def check(fake, pki, **kwargs):
    args = dict(url=fake.url, resolve="127.0.0.1", ca_path=pki[0], username=USER, password=PASSWORD,
                seed="fake-seed", timeout=10)
    args.update(kwargs)
    return _oci.run_checks(**args)


def assert_no_secret(value):
    text = json.dumps(value) if not isinstance(value, str) else value
    token = base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
    assert PASSWORD not in text
    assert token not in text
    assert "Authorization" not in text


# ---- auth, resolve, ca_path --------------------------------------------------------------

def test_auth_over_tls_with_resolve_and_ca(fake, pki):
    result = check(fake, pki, checks=["auth"])
    assert result["checks_passed"] == ["auth"]
    assert result["changed"] is False
    auth = result["auth"]
    assert auth["unauthenticated_status"] == 401
    assert auth["api_version"] == "registry/2.0"
    assert auth["challenge"] == 'Basic realm="dockyard test"'
    assert auth["wrong_password_status"] == 401
    assert auth["authenticated_status"] == 200
    assert auth["requests"] == 3
    # SNI and Host name the URL's host, not the address connected to
    assert set(fake.sni) == {REGISTRY_NAME}
    assert {entry[3]["Host"] for entry in fake.log} == {"%s:%d" % (REGISTRY_NAME, fake.port)}
    # no credentials on the first request; the wrong password is not the real one
    assert "Authorization" not in fake.log[0][3]
    assert fake.log[1][3]["Authorization"] != "Basic " + base64.b64encode(
        ("%s:%s" % (USER, PASSWORD)).encode()).decode()
    assert_no_secret(result)


def test_resolve_with_brackets_and_localhost_url(fake, pki):
    result = check(fake, pki, url="https://localhost:%d" % fake.port, resolve=None, checks=["auth"])
    assert result["checks_passed"] == ["auth"]
    result = check(fake, pki, resolve="[127.0.0.1]", checks=["auth"])
    assert result["checks_passed"] == ["auth"]


def test_without_resolve_the_name_does_not_resolve(fake, pki):
    with pytest.raises(CheckFailed) as caught:
        check(fake, pki, resolve=None, checks=["auth"])
    assert caught.value.message.startswith("auth: GET /v2/ request failed")
    assert "set resolve" in caught.value.message


def test_without_ca_path_verification_fails(fake, pki):
    with pytest.raises(CheckFailed) as caught:
        check(fake, pki, ca_path=None, checks=["auth"])
    message = caught.value.message
    assert "TLS certificate verification failed" in message
    assert "(connected to 127.0.0.1:%d via resolve)" % fake.port in message
    assert "registry.dockyard.test" in message
    assert caught.value.result["checks_passed"] == []


def test_validate_certs_false(fake, pki):
    result = check(fake, pki, ca_path=None, validate_certs=False, checks=["auth"])
    assert result["checks_passed"] == ["auth"]


def test_name_mismatch_fails(fake, pki):
    # the certificate has no SAN for this name: connecting there by IP must not help
    with pytest.raises(CheckFailed, match="TLS certificate verification failed"):
        check(fake, pki, url="https://other.dockyard.test:%d" % fake.port, checks=["auth"])


def test_401_without_api_version_header(fake, pki):
    fake.api_header_on_401 = False
    with pytest.raises(CheckFailed) as caught:
        check(fake, pki, checks=["auth"])
    assert "Docker-Distribution-Api-Version" in caught.value.message
    assert "always" in caught.value.message
    assert caught.value.result["auth"]["unauthenticated_status"] == 401


def test_bearer_challenge(fake, pki):
    fake.challenge = 'Bearer realm="https://auth.example/token",service="registry"'
    with pytest.raises(CheckFailed, match="token authentication"):
        check(fake, pki, checks=["auth"])


def test_missing_challenge(fake, pki):
    fake.challenge = None
    with pytest.raises(CheckFailed, match="expected a Basic challenge"):
        check(fake, pki, checks=["auth"])


def test_wrong_password_accepted_fails(fake, pki):
    fake.accept_any_password = True
    with pytest.raises(CheckFailed) as caught:
        check(fake, pki, checks=["auth"])
    assert "wrong password" in caught.value.message
    assert "HTTP 200" in caught.value.message


def test_bad_credentials_message(fake, pki):
    with pytest.raises(CheckFailed) as caught:
        check(fake, pki, password="not-the-password", checks=["auth", "push"])
    message = caught.value.message
    assert message.startswith("auth: with the credentials of user 'alice': GET /v2/ returned HTTP 401")
    assert "expected 200" in message
    assert '"code": "UNAUTHORIZED"' in message
    assert "not-the-password" not in message
    assert_no_secret(caught.value.result)


def test_open_registry_when_401_expected(fake, pki):
    fake.users = {}
    fake._auth_ok = lambda handler: True
    with pytest.raises(CheckFailed, match="expected 401 .anonymous users must be refused"):
        check(fake, pki, checks=["auth"])
    result = check(fake, pki, username=None, password=None, expect_unauthenticated_401=False)
    assert result["checks_passed"] == ["auth", "push", "pull"]
    assert result["auth"] == dict(result["auth"], unauthenticated_status=200)


# ---- push / pull over TLS -----------------------------------------------------------------

def test_push_pull_chunked(fake, pki):
    result = check(fake, pki, layers=[1024, 65536], chunk_size=32768, capture_headers=["X-Cache-Status"])
    assert result["checks_passed"] == ["auth", "push", "pull"]
    assert result["changed"] is True
    image = _oci.build_image("fake-seed", [1024, 65536])
    push, pull = result["push"], result["pull"]
    assert push["manifest_digest"] == push["manifest_digest_returned"] == image.manifest_digest
    assert pull["manifest_digest"] == image.manifest_digest
    assert [b["action"] for b in push["blobs"]] == ["uploaded"] * 3
    assert push["bytes_pushed"] == pull["bytes_pulled"] == sum(b.size for b in image.blobs)
    assert push["upload_location"] == "absolute"
    assert [b["requests"] for b in push["blobs"]] == [1, 3, 1]  # 67105 bytes in 32 KiB chunks
    # PATCH Content-Range values are contiguous and inclusive, per blob
    ranges = [entry[3]["Content-Range"] for entry in fake.requests("PATCH")]
    assert ranges[1:4] == ["0-32767", "32768-65535", "65536-%d" % (image.layers[1].size - 1)]
    assert all(entry[3]["Content-Type"] == "application/octet-stream" for entry in fake.requests("PATCH"))
    # the blobs landed intact in the registry
    for blob in image.blobs:
        assert fake.blobs[blob.digest] == blob.read()
    assert fake.manifests[("dockyard/verify", "check-fake-seed")][0] == _oci.DOCKER_MANIFEST
    # the backend header is collected per check and overall
    assert set(result["upstreams"]) == {"backend-a:5000", "backend-b:5000"}
    # HEAD, POST, PATCH, PUT per blob, 2 more PATCHes for the big layer, the manifest PUT
    assert push["upstreams"] and push["requests"] == 3 * 4 + 2 + 1
    assert result["captured_headers"] == {"X-Cache-Status": ["MISS"]}
    assert result["reference"] == "%s:%d/dockyard/verify:check-fake-seed" % (REGISTRY_NAME, fake.port)
    assert all(entry[3].get("Authorization") for entry in fake.log[3:])
    assert_no_secret(result)


def test_push_monolithic_oci_relative_locations(fake, pki):
    fake.locations = "relative"
    result = check(fake, pki, upload="monolithic", manifest_format="oci", layers=[300000])
    assert result["checks_passed"] == ["auth", "push", "pull"]
    assert result["push"]["upload_location"] == "relative"
    assert fake.requests("PATCH") == []
    puts = [entry for entry in fake.requests("PUT") if "/blobs/uploads/" in entry[1]]
    assert len(puts) == 2
    assert all("digest=sha256%3A" in entry[2] and "_state=" in entry[2] for entry in puts)
    assert fake.manifests[("dockyard/verify", "check-fake-seed")][0] == _oci.OCI_MANIFEST


def test_existing_blobs_are_skipped_and_mount(fake, pki):
    check(fake, pki, checks=["push"], repository="team/source")
    again = check(fake, pki, checks=["push"], repository="team/source")
    assert [b["action"] for b in again["push"]["blobs"]] == ["exists"] * 3
    assert again["push"]["bytes_pushed"] == 0
    mounted = check(fake, pki, checks=["push", "pull"], repository="team/copy", mount_from="team/source")
    assert [b["action"] for b in mounted["push"]["blobs"]] == ["mounted"] * 3
    posts = [entry for entry in fake.requests("POST") if entry[1] == "/v2/team/copy/blobs/uploads/"]
    assert all("mount=sha256%3A" in entry[2] and "from=team%2Fsource" in entry[2] for entry in posts)
    # a registry that cannot mount answers 202: the upload goes on in that session
    fake.mount_enabled = False
    fallback = check(fake, pki, checks=["push"], repository="team/third", mount_from="team/source")
    assert [b["action"] for b in fallback["push"]["blobs"]] == ["uploaded"] * 3


def test_redirect_to_storage_drops_credentials(fake, storage, pki):
    fake.redirect_to = storage.url
    result = check(fake, pki)
    assert result["checks_passed"] == ["auth", "push", "pull"]
    host = urlsplit(storage.url).netloc
    assert all(b["redirected"] and b["served_by"] == host for b in result["pull"]["blobs"])
    # a second push finds every blob: its HEADs are redirected too
    again = check(fake, pki, checks=["push"])
    assert [b["action"] for b in again["push"]["blobs"]] == ["exists"] * 3
    # storage saw GETs (pull) and HEADs (existence), never with the registry's credentials
    assert {entry[0] for entry in storage.log} == {"HEAD", "GET"}
    assert all("Authorization" not in entry[3] for entry in storage.log)
    assert "s3cr3t" not in json.dumps(result) + json.dumps(again)


def test_redirect_to_unreachable_storage(fake, pki):
    fake.redirect_to = "http://127.0.0.1:9"  # discard port: nothing listens
    with pytest.raises(CheckFailed) as caught:
        check(fake, pki, checks=["push", "pull"])
    message = caught.value.message
    assert message.startswith("pull: layer 1/2 ")
    assert caught.value.result["checks_passed"] == ["push"]
    assert "redirected to http://127.0.0.1:9/bucket/sha256:" in message
    assert "storage.redirect.disable" in message
    assert "X-Amz-Signature" not in message


def test_location_without_port_is_explained(fake, pki):
    fake.locations = "drop-port"
    with pytest.raises(CheckFailed) as caught:
        check(fake, pki, checks=["push"], timeout=3)
    message = caught.value.message
    assert "upload" in message
    assert "proxy_set_header Host $http_host" in message
    assert any("Host $http_host" in w for w in caught.value.result["warnings"])
    assert caught.value.result["push"]["upload_location"] == "absolute"


def test_patch_failure_message(fake, pki):
    fake.fail_patch = 3  # layer 2's second chunk
    with pytest.raises(CheckFailed) as caught:
        check(fake, pki, checks=["push"])
    message = caught.value.message
    image = _oci.build_image("fake-seed")
    assert message.startswith("push: layer 2/2 %s (%d bytes) chunk 2/3 (bytes 32768-65535): PATCH "
                              "/v2/dockyard/verify/blobs/uploads/u2 returned HTTP 404 Not Found, expected 202"
                              % (image.layers[1].digest, image.layers[1].size))
    assert "BLOB_UPLOAD_UNKNOWN" in message
    assert "_state" not in message
    result = caught.value.result
    assert result["changed"] is True  # one blob was already written
    assert result["checks_passed"] == []
    assert [b.get("action") for b in result["push"]["blobs"]] == ["uploaded", None]


def test_error_body_is_cut_to_300_bytes(fake, pki):
    fake.api_header_on_401 = True
    original = fake._error

    def long_error(handler, status, code, message, extra=None):
        original(handler, status, code, "x" * 1000, extra)

    fake._error = long_error
    with pytest.raises(CheckFailed) as caught:
        check(fake, pki, password="wrong", checks=["auth"])
    body = caught.value.message.split("; body: ", 1)[1]
    assert body.endswith(" ...")
    assert len(body) <= 304


def test_pull_of_another_image_fails(fake, pki):
    check(fake, pki, checks=["push"], seed="first", tag="shared")
    with pytest.raises(CheckFailed) as caught:
        check(fake, pki, checks=["pull"], seed="second", tag="shared")
    assert "the tag points at manifest %s" % _oci.build_image("first").manifest_digest in caught.value.message
    assert "seed 'second'" in caught.value.message
    # pull alone, with the pushing run's seed, verifies it (as clients do after the controller pushed)
    result = check(fake, pki, checks=["auth", "pull"], seed="first", tag="shared")
    assert result["checks_passed"] == ["auth", "pull"]
    assert result["changed"] is False


def test_corrupt_blob_is_detected(fake, pki):
    check(fake, pki, checks=["push"])
    image = _oci.build_image("fake-seed")
    fake.blobs[image.layers[0].digest] = b"garbage"
    with pytest.raises(CheckFailed) as caught:
        check(fake, pki, checks=["pull"])
    assert "pull: layer 1/2 %s" % image.layers[0].digest in caught.value.message
    assert "received 7 bytes" in caught.value.message


def test_delete_enabled_and_disabled(fake, pki):
    result = check(fake, pki, checks=["push", "delete"])
    assert result["delete"]["deleted"] is True
    assert result["delete"]["status"] == 202
    assert result["delete"]["tag_status_after"] == 404
    fake.delete_enabled = False
    result = check(fake, pki, checks=["push", "pull", "delete"])
    assert result["checks_passed"] == ["push", "pull", "delete"]
    assert result["delete"] == dict(result["delete"], status=405, deleted=False, supported=False)
    assert any("HTTP 405" in w for w in result["warnings"])


def test_delete_of_missing_manifest_fails(fake, pki):
    with pytest.raises(CheckFailed, match="delete: manifest sha256:.* returned HTTP 404"):
        check(fake, pki, checks=["delete"])


def test_check_mode_runs_only_auth(fake, pki):
    result = check(fake, pki, check_mode=True, checks=["auth", "push", "pull", "delete"])
    assert result["checks_passed"] == ["auth"]
    assert result["checks_skipped"] == ["push", "pull", "delete"]
    assert result["changed"] is False
    assert {entry[0] for entry in fake.log} == {"GET"}
    assert "push" not in result


def test_report_changed_false(fake, pki):
    result = check(fake, pki, report_changed=False, checks=["push", "delete"])
    assert result["changed"] is False
    assert result["checks_passed"] == ["push", "delete"]


def test_connection_close_is_handled(fake, pki):
    fake.connection_close = True
    result = check(fake, pki, layers=[100000], chunk_size=20000)
    assert result["checks_passed"] == ["auth", "push", "pull"]


def test_plain_http_fake():
    app = FakeRegistry(tls=False)
    server = _serve(app)
    try:
        url = "http://localhost:%d" % server.server_address[1]
        result = _oci.run_checks(url, USER, PASSWORD, resolve="127.0.0.1", seed="plain")
        assert result["checks_passed"] == ["auth", "push", "pull"]
        assert app.sni == []
    finally:
        server.shutdown()
        server.server_close()


def test_client_does_not_send_credentials_elsewhere(fake, pki):
    seen = []

    class Observer:
        def before(self, method, url):
            seen.append(url)

        def after(self, response):
            pass

    client = _oci.RegistryClient(fake.url, USER, PASSWORD, ca_path=pki[0], resolve="127.0.0.1", observer=Observer())
    with client:
        assert client.request("GET", "/v2/").status == 200
        assert client.connect_target(fake.url + "/v2/") == ("127.0.0.1", fake.port)
        assert client.connect_target("https://s3.example/b") == ("s3.example", 443)
        assert client._authorization(False) is None
        assert client._authorization(True).startswith("Basic ")
    assert seen == [fake.url + "/v2/"]
    assert client._connections == {}


# =============================================================================================
# A REAL registry (Distribution 2.8, plain HTTP on loopback) and the host's docker client
# =============================================================================================

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
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/v2/", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True, check=False)
                pytest.fail("registry did not answer on %s: %s" % (url, logs.stderr[-2000:]))
            time.sleep(0.2)
        yield url
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, check=False)


def real(url, **kwargs):
    args = dict(expect_unauthenticated_401=False, timeout=30)
    args.update(kwargs)
    return _oci.run_checks(url, **args)


@pytest.mark.lab  # runs in `make labtest`, after the lab images exist
@pytest.mark.slow
def test_real_registry_push_pull_delete(real_registry):
    result = real(real_registry, seed="real-1", checks=["auth", "push", "pull", "delete"])
    image = _oci.build_image("real-1")
    assert result["checks_passed"] == ["auth", "push", "pull", "delete"]
    assert result["auth"]["unauthenticated_status"] == 200
    assert result["auth"]["api_version"] == "registry/2.0"
    push, pull = result["push"], result["pull"]
    assert push["manifest_digest_returned"] == image.manifest_digest
    assert pull["manifest_digest"] == image.manifest_digest
    assert pull["manifest_media_type"] == _oci.DOCKER_MANIFEST
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
    image = _oci.build_image(seed, [0, 1, 200000], layer_format, manifest_format)
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
    client = _oci.RegistryClient(real_registry)
    with client:
        start = client.request("POST", "/v2/dockyard/bad/blobs/uploads/", headers={"Content-Length": "0"})
        assert start.status == 202
        location = start.header("Location")
        done = client.request("PUT", _oci.add_query(location, digest="sha256:" + "0" * 64), body=b"abc",
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
            copied = subprocess.run(["docker", "cp", "%s:/%s" % (container, _oci.layer_file_name(index)), "-"],
                                    capture_output=True, timeout=120, check=True).stdout
            with tarfile.open(fileobj=io.BytesIO(copied)) as archive:
                content = archive.extractfile(archive.getmembers()[0]).read()
            assert content == b"".join(_oci.pseudo_random_bytes(seed, "layer-%d" % index, size))
    finally:
        _docker("rm", "-f", "-v", container, check=False)
        _docker("rmi", "-f", reference, check=False)
