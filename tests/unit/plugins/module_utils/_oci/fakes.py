# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fake registry and a fake storage backend for the ``_oci`` tests.

``FakeRegistry`` is enough of the distribution API for ``run_checks``, behind Basic auth, served
by Python's ``http.server`` over TLS with a throwaway CA made with ``cryptography``, with knobs for
failures; ``FakeStorage`` is an S3-like blob host a registry redirects blob GETs to. The fixtures
that start them live in ``conftest.py``.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import itertools
import json
import re
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils._oci import image as oci_image
from ansible_collections.dockyard.registry.plugins.module_utils._oci import probe as oci_probe


USER = "alice"
PASSWORD = "s3cret-Pa55word"
REGISTRY_NAME = "registry.dockyard.test"  # .test never resolves (RFC 6761): resolve is needed


def make_pki(directory):
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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _dispatch(self):
        self.server.app.handle(self)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def serve(app, cert_file=None):
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
        # token mode: /token issues "fake.<base64 json scopes>" for Basic credentials (or anonymously)
        # and every API request needs a bearer token covering its repository scope.
        self.token_mode = False
        self.token_requests = []

    def _basic_ok(self, value):
        if not value.startswith("Basic "):
            return False
        user, _sep, password = base64.b64decode(value[6:]).decode("utf-8").partition(":")
        return user in self.users and (self.accept_any_password or self.users[user] == password)

    def _needed_scope(self, handler, path):
        match = re.match(r"^/v2/(.+)/(?:blobs|manifests)/", path)
        if not match:
            return None
        actions = "pull" if handler.command in ("GET", "HEAD") else ("delete" if handler.command == "DELETE" else "pull,push")
        return "repository:%s:%s" % (match.group(1), actions)

    def _token(self, handler, query_list):
        self.token_requests.append({"auth": handler.headers.get("Authorization", "").split(" ")[0],
                                    "scopes": query_list.get("scope", [])})
        auth = handler.headers.get("Authorization", "")
        if auth and not self._basic_ok(auth):
            self._error(handler, 401, "UNAUTHORIZED", "incorrect username or password")
            return
        granted = []
        for scope in query_list.get("scope", []):
            granted.extend(scope.split(" "))
        token = "fake." + base64.urlsafe_b64encode(json.dumps(granted).encode()).decode()
        self.reply(handler, 200, json.dumps({"token": token, "expires_in": 300}).encode(),
                   {"Content-Type": "application/json"})

    def _bearer_ok(self, handler, path):
        value = handler.headers.get("Authorization", "")
        if not value.startswith("Bearer fake."):
            return False
        granted = json.loads(base64.urlsafe_b64decode(value[len("Bearer fake."):]))
        needed = self._needed_scope(handler, path)
        if needed is None:
            return True
        rtype, _sep, rest = needed.partition(":")
        name, _sep, actions = rest.rpartition(":")
        have = set()
        for scope in granted:
            t, _s, r = scope.partition(":")
            n, _s, a = r.rpartition(":")
            if (t, n) == (rtype, name):
                have.update(a.split(","))
        return set(actions.split(",")) <= have

    def _auth_ok(self, handler):
        value = handler.headers.get("Authorization", "")
        if not value.startswith("Basic "):
            return False
        user, _sep, password = base64.b64decode(value[6:]).decode("utf-8").partition(":")
        return user in self.users and (self.accept_any_password or self.users[user] == password)

    def _base_headers(self):
        headers = {"Docker-Distribution-Api-Version": "registry/2.0", "X-Backend": next(self.upstreams),
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
        if self.token_mode:
            if parts.path == "/token":
                self._token(handler, parse_qs(parts.query))
                return
            if not self._bearer_ok(handler, parts.path):
                needed = self._needed_scope(handler, parts.path)
                challenge = 'Bearer realm="%s/token",service="fake"' % self.url
                if needed:
                    challenge += ',scope="%s"' % needed
                self._error(handler, 401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge})
                return
        elif not self._auth_ok(handler):
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
            if oci_image.sha256_digest(data) != digest:
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
            digest = oci_image.sha256_digest(body)
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
                "Content-Type": found[0], "Docker-Content-Digest": oci_image.sha256_digest(found[1])}))
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


def check(fake, pki, **kwargs):
    args = dict(url=fake.url, resolve="127.0.0.1", ca_path=pki[0], username=USER, password=PASSWORD,
                seed="fake-seed", timeout=10)
    args.update(kwargs)
    return oci_probe.run_checks(**args)


def assert_no_secret(value):
    text = json.dumps(value) if not isinstance(value, str) else value
    token = base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
    assert PASSWORD not in text
    assert token not in text
    assert "Authorization" not in text
