# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""dockyard token service: the Docker registry token protocol for dockyard.registry (WSGI app).

Deployed by the ``dockyard.registry.token_service`` role on the proxy hosts, served by Debian's
gunicorn on loopback behind nginx. The decisions (scope grammar, access rules, claims) live in
``_token_access.py`` and password hashes are checked by ``_htpasswd.py``: both are the
collection's own ``plugins/module_utils`` files, copied next to this one by the role.

Endpoints (nginx exposes the first two; the others are reached only through nginx's internal
locations or on loopback):

* ``GET /token`` (Basic credentials, ``service``, ``scope``...) and ``POST /token`` (OAuth2 form,
  ``grant_type=password``): a JWT (ES256, ``x5c`` header) with the granted ``access``;
* ``GET /v2/_catalog``: the registry's catalog, filtered to what the caller may pull;
* ``GET /authz``: nginx ``auth_request``: is this request (``X-Original-Method``/``X-Original-URI``)
  allowed? For Basic credentials it answers with a short-lived token for the registry in
  ``X-Dockyard-Authorization``;
* ``GET /healthz``: ``{"ok": true, "kid": <the signing key's id>}``.

Never logged: passwords, Authorization headers, tokens. Logged: who got which scope.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import _htpasswd
import _token_access

LOG = logging.getLogger("dockyard.token")

DEFAULTS = {
    "issuer": "dockyard-token-service",
    "service": "",
    "realm": "",
    "lifetime": 300,
    "leeway": 60,
    "key_dir": "/etc/dockyard/token/keys",
    "trusted_bundle": "/etc/dockyard/token/trusted.pem",
    "htpasswd": "/etc/dockyard/token/htpasswd",
    "access": "/etc/dockyard/token/access.json",
    "cache_ttl": 300,
    "cache_size": 10000,
    "password_checks": 2,
    "registry_url": "",
    "catalog_limit": 100000,
    "catalog_timeout": 20,
    "basic_token_lifetime": 60,
}
# Distribution's routes below /v2/ that name a repository (the name is the longest match).
_ROUTE = re.compile(r"^/v2/(?P<name>.+)/(?:manifests/[^/]+|blobs/uploads/?[^/]*|blobs/[^/]+|tags/list|referrers/[^/]+)$")
MAX_BODY = 8192
MAX_QUERY = 8192
MAX_AUTHORIZATION = 8192
MAX_USER = 255
MAX_PASSWORD = 1024
RELOAD_CHECK_SECONDS = 1.0
API_VERSION = ("Docker-Distribution-Api-Version", "registry/2.0")


class HTTPError(Exception):
    def __init__(self, status, code, message, headers=()):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = list(headers)


def load_config(path=None):
    path = path or os.environ.get("DOCKYARD_TOKEN_CONFIG", "/etc/dockyard/token/config.json")
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    config = dict(DEFAULTS)
    config.update(data)
    for key in ("service", "issuer", "realm"):
        if not config[key]:
            raise ValueError("config %s: %s is required" % (path, key))
    return config


def _der_b64(cert):
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")


class Keys(object):
    """The signing key (the active one in ``key_dir/state.json``) and the trusted certificates
    (every proxy's token-signing certificates) used to verify tokens presented to this service."""

    def __init__(self, key_dir, trusted_bundle):
        with open(os.path.join(key_dir, "state.json"), encoding="utf-8") as fh:
            state = json.load(fh)
        kid = state["active"]
        if not isinstance(kid, str) or not kid.isalnum():
            raise ValueError("state.json: invalid active key id")
        with open(os.path.join(key_dir, kid + ".key"), "rb") as fh:
            self.private_key = serialization.load_pem_private_key(fh.read(), password=None)
        if not isinstance(self.private_key, ec.EllipticCurvePrivateKey) or self.private_key.curve.name != "secp256r1":
            raise ValueError("the signing key must be an EC P-256 key (ES256)")
        with open(os.path.join(key_dir, kid + ".crt"), "rb") as fh:
            self.certificate = x509.load_pem_x509_certificate(fh.read())
        self.kid = kid
        self.x5c = [_der_b64(self.certificate)]
        self.trusted = {}
        for cert in self._bundle(trusted_bundle) + [self.certificate]:
            self.trusted[_der_b64(cert)] = cert.public_key()

    @staticmethod
    def _bundle(path):
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            return []
        certs = []
        marker = b"-----END CERTIFICATE-----"
        for block in data.split(marker):
            if b"-----BEGIN CERTIFICATE-----" in block:
                certs.append(x509.load_pem_x509_certificate(block.strip() + b"\n" + marker + b"\n"))
        return certs

    def sign(self, claims):
        return jwt.encode(claims, self.private_key, algorithm="ES256",
                          headers={"x5c": self.x5c, "kid": self.kid, "typ": "JWT"})

    def verify(self, token, audience, issuer, leeway):
        """The claims of a token signed by a trusted key, else ValueError (no detail leaked)."""
        if len(token) > MAX_AUTHORIZATION:
            raise ValueError("token too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise ValueError("malformed token")
        if header.get("alg") != "ES256":
            raise ValueError("unexpected algorithm")
        chain = header.get("x5c")
        if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
            raise ValueError("no x5c header")
        key = self.trusted.get(chain[0])
        if key is None:
            raise ValueError("untrusted signing certificate")
        try:
            return jwt.decode(token, key, algorithms=["ES256"], audience=audience, issuer=issuer, leeway=leeway,
                              options={"require": ["exp", "nbf", "iat", "iss", "aud", "sub"]})
        except jwt.PyJWTError:
            raise ValueError("invalid token")


class Users(object):
    """The htpasswd file, re-read when it changes, and password checks with a verdict cache.

    The cache holds only successful checks, keyed by HMAC-SHA256 under a per-process random key of
    (user, password, stored hash): a changed password or hash misses, the password is never kept.
    Unknown users are checked against a dummy hash of the file's own scheme and cost, so they take
    as long as a wrong password.
    """

    def __init__(self, path, cache_ttl, cache_size, concurrency):
        self.path = path
        self.cache_ttl = cache_ttl
        self.cache_size = cache_size
        self._lock = threading.Lock()
        self._checks = threading.BoundedSemaphore(max(1, int(concurrency)))
        self._cache = {}
        self._cache_key = secrets.token_bytes(32)
        self._stamp = None
        self._next_check = 0.0
        self._entries = {}
        self._dummy = None
        self.verifications = 0
        self._reload(force=True)

    def _reload(self, force=False):
        now = time.monotonic()
        if not force and now < self._next_check:
            return
        self._next_check = now + RELOAD_CHECK_SECONDS
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            stamp = None
        else:
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if stamp == self._stamp and not force:
            return
        entries = {}
        if stamp is not None:
            with open(self.path, encoding="utf-8") as fh:
                for line in _htpasswd.parse(fh.read()):
                    if line.is_entry:
                        entries[line.user] = line.hashed
        self._entries = entries
        self._stamp = stamp
        self._dummy = self._make_dummy(entries)
        self._cache.clear()

    @staticmethod
    def _make_dummy(entries):
        kinds = {}
        for hashed in entries.values():
            info = _htpasswd.identify(hashed)
            if info.scheme in _htpasswd.WRITE_SCHEMES:
                kinds[(info.scheme, info.cost)] = kinds.get((info.scheme, info.cost), 0) + 1
        scheme, cost = max(kinds, key=kinds.get) if kinds else (_htpasswd.BCRYPT, _htpasswd.BCRYPT_DEFAULT_COST)
        secret = secrets.token_urlsafe(24)
        if scheme == _htpasswd.BCRYPT:
            return _htpasswd.hash_password(secret, scheme, bcrypt_cost=cost)
        if scheme in (_htpasswd.SHA256_CRYPT, _htpasswd.SHA512_CRYPT):
            return _htpasswd.hash_password(secret, scheme, rounds=cost)
        return _htpasswd.hash_password(secret, scheme)

    def _key(self, user, password, hashed):
        msg = b"\0".join(p.encode("utf-8", "surrogateescape") for p in (user, password, hashed))
        return hmac.new(self._cache_key, msg, hashlib.sha256).digest()

    def check(self, user, password):
        """(ok, how): how is 'cached' or 'verified'."""
        with self._lock:
            self._reload()
            hashed = self._entries.get(user)
            dummy = self._dummy
            key = self._key(user, password, hashed) if hashed is not None else None
            expiry = self._cache.get(key) if key is not None else None
            if expiry is not None and expiry > time.monotonic():
                return True, "cached"
        with self._checks:
            try:
                ok = _htpasswd.verify_password(password, hashed if hashed is not None else dummy)
            except _htpasswd.HtpasswdError:
                ok = False
            with self._lock:
                self.verifications += 1
        ok = ok and hashed is not None
        if ok:
            with self._lock:
                if len(self._cache) >= self.cache_size:
                    self._cache.clear()
                self._cache[key] = time.monotonic() + self.cache_ttl
        return ok, "verified"


class PolicyFile(object):
    """The access rules (access.json from the inventory), re-read when the file changes."""

    def __init__(self, path):
        self.path = path
        self._lock = threading.Lock()
        self._stamp = None
        self._next_check = 0.0
        self.policy = _token_access.Policy({"version": 1, "users": {}, "anonymous_pull": []})
        self.get(force=True)

    def get(self, force=False):
        with self._lock:
            now = time.monotonic()
            if force or now >= self._next_check:
                self._next_check = now + RELOAD_CHECK_SECONDS
                try:
                    st = os.stat(self.path)
                    stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
                except FileNotFoundError:
                    stamp = None
                if stamp != self._stamp or force:
                    if stamp is None:
                        data = {"version": 1, "users": {}, "anonymous_pull": []}
                    else:
                        with open(self.path, encoding="utf-8") as fh:
                            data = json.load(fh)
                    self.policy = _token_access.Policy(data)
                    self._stamp = stamp
            return self.policy


def _parse_basic(header):
    """(user, password) from a Basic Authorization header; ValueError when malformed."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        raise ValueError("not basic")
    try:
        raw = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("malformed basic credentials")
    user, sep, password = raw.partition(":")
    if not sep or not user or len(user) > MAX_USER or len(password) > MAX_PASSWORD:
        raise ValueError("malformed basic credentials")
    return user, password


def request_target(method, uri):
    """(repository or '', actions needed) for a registry API request, from its method and URI.

    Mirrors Distribution's routes: /v2/<name>/manifests|blobs|tags|referrers/...; uploads need
    pull and push, DELETE needs delete, GET/HEAD need pull. Anything else under /v2/ (the base
    endpoint) needs no repository access.
    """
    path = urllib.parse.urlsplit(uri or "").path
    method = (method or "").upper()
    if method in ("GET", "HEAD"):
        actions = ["pull"]
    elif method == "DELETE":
        actions = ["delete"]
    else:
        actions = ["pull", "push"]
    m = _ROUTE.match(path)
    if not m:
        return "", []
    if not _token_access.is_repository_name(m.group("name")):
        raise ValueError("invalid repository name")
    return m.group("name"), actions


def mount_source(method, uri):
    """The ``from`` repository of a cross-repository blob mount (POST .../blobs/uploads/?mount=&from=)."""
    if (method or "").upper() != "POST":
        return None
    values = urllib.parse.parse_qs(urllib.parse.urlsplit(uri or "").query).get("from") or [None]
    name = values[0]
    return name if _token_access.is_repository_name(name or "") else None


class TokenService(object):
    def __init__(self, config):
        self.config = config
        self.keys = Keys(config["key_dir"], config["trusted_bundle"])
        self.users = Users(config["htpasswd"], config["cache_ttl"], config["cache_size"], config["password_checks"])
        self.policy = PolicyFile(config["access"])

    # --- helpers ----------------------------------------------------------------------------

    def _challenge(self, scope=None, error=None):
        value = 'Bearer realm="%s",service="%s"' % (self.config["realm"], self.config["service"])
        if scope:
            value += ',scope="%s"' % scope
        if error:
            value += ',error="%s"' % error
        return ("WWW-Authenticate", value)

    def _authenticate_basic(self, header, client):
        """The user name for valid Basic credentials; HTTPError 401 otherwise."""
        try:
            user, password = _parse_basic(header)
        except ValueError:
            raise HTTPError(401, "UNAUTHORIZED", "malformed credentials")
        ok, how = self.users.check(user, password)
        LOG.info("password check user=%s client=%s result=%s password=%s", _safe(user), client,
                 "ok" if ok else "refused", how)
        if not ok:
            raise HTTPError(401, "UNAUTHORIZED", "incorrect username or password",
                            [("WWW-Authenticate", 'Basic realm="%s"' % self.config["service"])])
        return user

    def _mint(self, user, access, lifetime):
        now = int(time.time())
        jti = secrets.token_hex(16)
        claims = _token_access.build_claims(self.config["issuer"], self.config["service"], user, access, now,
                                            lifetime, jti)
        return self.keys.sign(claims), now, jti

    def _verify_bearer(self, header):
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ValueError("not bearer")
        return self.keys.verify(token.strip(), self.config["service"], self.config["issuer"], self.config["leeway"])

    # --- endpoints --------------------------------------------------------------------------

    def token(self, method, query, form, authorization, client):
        params = form if method == "POST" else query
        service = (params.get("service") or [""])[0]
        if service != self.config["service"]:
            raise HTTPError(400, "invalid_request", "unknown service")
        try:
            scopes = _token_access.parse_scopes(params.get("scope", []))
        except ValueError as exc:
            raise HTTPError(400, "invalid_scope", str(exc))
        user = None
        if method == "POST":
            grant_type = (form.get("grant_type") or [""])[0]
            if grant_type != "password":
                raise HTTPError(400, "unsupported_grant_type", "only grant_type=password is supported")
            name = (form.get("username") or [""])[0]
            password = (form.get("password") or [""])[0]
            if not name or len(name) > MAX_USER or len(password) > MAX_PASSWORD:
                raise HTTPError(401, "UNAUTHORIZED", "incorrect username or password")
            raw = base64.b64encode(("%s:%s" % (name, password)).encode("utf-8")).decode("ascii")
            user = self._authenticate_basic("Basic " + raw, client)
        elif authorization:
            user = self._authenticate_basic(authorization, client)
        access = self.policy.get().grant(user, scopes)
        token, now, jti = self._mint(user, access, self.config["lifetime"])
        LOG.info("token issued user=%s client=%s requested=%s granted=%s jti=%s", _safe(user) if user else "-anonymous-",
                 client, _describe(scopes), _describe_access(access), jti)
        issued = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"token": token, "access_token": token, "expires_in": int(self.config["lifetime"]), "issued_at": issued}

    def authz(self, method, uri, authorization, client):
        """nginx auth_request: (status, headers)."""
        try:
            repository, actions = request_target(method, uri)
        except ValueError:
            return 403, []
        scheme = authorization.partition(" ")[0].lower()
        policy = self.policy.get()
        if scheme == "bearer":
            try:
                claims = self._verify_bearer(authorization)
            except ValueError:
                return 401, [self._challenge(_scope(repository, actions), "invalid_token")]
            if repository and not all(_token_access.has_access(claims.get("access"), "repository", repository, a)
                                      for a in actions):
                return 401, [self._challenge(_scope(repository, actions), "insufficient_scope")]
            return 204, []
        if scheme == "basic":
            try:
                user = self._authenticate_basic(authorization, client)
            except HTTPError as exc:
                return exc.status, exc.headers
            granted = policy.allowed_actions(user, repository) if repository else []
            if repository and not all(a in granted for a in actions):
                LOG.info("denied user=%s client=%s %s %s", _safe(user), client, method, _safe(repository))
                return 403, []
            access = [{"type": "repository", "name": repository, "actions": actions}] if repository else []
            source = mount_source(method, uri)
            if source and "pull" in policy.allowed_actions(user, source):
                # a cross-repository mount needs pull on the source too (else the registry refuses it)
                access.append({"type": "repository", "name": source, "actions": ["pull"]})
            token, _now, jti = self._mint(user, access, self.config["basic_token_lifetime"])
            LOG.info("basic request user=%s client=%s granted=%s jti=%s", _safe(user), client,
                     _describe_access(access), jti)
            return 200, [("X-Dockyard-Authorization", "Bearer " + token)]
        return 401, [self._challenge(_scope(repository, actions))]

    def catalog(self, query, authorization, client):
        """(status, headers, body) of GET /v2/_catalog filtered for the caller."""
        scheme = authorization.partition(" ")[0].lower()
        user = None
        policy = self.policy.get()
        challenge = self._challenge("registry:catalog:*")
        if scheme == "bearer":
            try:
                claims = self._verify_bearer(authorization)
            except ValueError:
                raise HTTPError(401, "UNAUTHORIZED", "authentication required",
                                [self._challenge("registry:catalog:*", "invalid_token")])
            if not _token_access.has_access(claims.get("access"), "registry", "catalog", "*"):
                raise HTTPError(401, "UNAUTHORIZED", "authentication required",
                                [self._challenge("registry:catalog:*", "insufficient_scope")])
            user = claims.get("sub") or None
        elif scheme == "basic":
            user = self._authenticate_basic(authorization, client)
            if not policy.may_list_catalog(user):
                raise HTTPError(403, "DENIED", "requested access to the resource is denied")
        else:
            raise HTTPError(401, "UNAUTHORIZED", "authentication required", [challenge])
        if user is None or not policy.may_list_catalog(user):
            raise HTTPError(403, "DENIED", "requested access to the resource is denied")
        try:
            n = int((query.get("n") or ["100"])[0])
        except ValueError:
            raise HTTPError(400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested")
        if n < 0 or n > 1000:
            raise HTTPError(400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested")
        last = (query.get("last") or [""])[0]
        visible = sorted(policy.catalog_filter(user, self._registry_catalog()))
        after = [r for r in visible if r > last] if last else visible
        page = after[:n]
        headers = [("Content-Type", "application/json")]
        if len(after) > n and page:
            headers.append(("Link", '</v2/_catalog?last=%s&n=%d>; rel="next"' % (urllib.parse.quote(page[-1]), n)))
        LOG.info("catalog user=%s client=%s listed=%d of %d", _safe(user), client, len(page), len(visible))
        return 200, headers, {"repositories": page}

    def _registry_catalog(self):
        """Every repository, from the registry through nginx's loopback listener, with a token of
        this service's own (catalog scope only, 60 s)."""
        if not self.config["registry_url"]:
            raise HTTPError(503, "UNAVAILABLE", "catalog not configured")
        token, _now, _jti = self._mint("dockyard-token-service", [{"type": "registry", "name": "catalog",
                                                                   "actions": ["*"]}], 60)
        deadline = time.monotonic() + self.config["catalog_timeout"]
        names, last = [], ""
        while True:
            url = self.config["registry_url"].rstrip("/") + "/v2/_catalog?n=1000"
            if last:
                url += "&last=" + urllib.parse.quote(last)
            req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token,
                                                       "Host": self.config["service"]})
            try:
                with urllib.request.urlopen(req, timeout=max(1.0, deadline - time.monotonic())) as resp:  # noqa: S310 (loopback URL from the config)
                    body = json.loads(resp.read(16 * 1024 * 1024))
                    link = resp.headers.get("Link", "")
            except (urllib.error.URLError, OSError, ValueError) as exc:
                LOG.warning("catalog: registry request failed: %s", type(exc).__name__)
                raise HTTPError(502, "UNAVAILABLE", "the registry catalog is not available")
            page = [r for r in body.get("repositories") or [] if isinstance(r, str)]
            names.extend(page)
            if not link or not page or len(names) >= self.config["catalog_limit"] or time.monotonic() > deadline:
                return names[: self.config["catalog_limit"]]
            last = page[-1]


def _safe(text):
    """A value fit for one log field: printable, no spaces, bounded."""
    text = str(text)[:128]
    return "".join(c if c.isprintable() and not c.isspace() else "?" for c in text)


def _scope(repository, actions):
    return "repository:%s:%s" % (repository, ",".join(actions)) if repository else None


def _describe(scopes):
    return ";".join(repr(s) for s in scopes) or "-"


def _describe_access(access):
    return ";".join("%s:%s:%s" % (a["type"], a["name"], ",".join(a["actions"])) for a in access) or "-"


# --------------------------------------------------------------------------------------------
# WSGI


def _read_form(environ):
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise HTTPError(400, "invalid_request", "invalid Content-Length")
    if length > MAX_BODY:
        raise HTTPError(413, "invalid_request", "request body too large")
    ctype = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise HTTPError(400, "invalid_request", "expected an application/x-www-form-urlencoded body")
    body = environ["wsgi.input"].read(length) if length else b""
    try:
        return urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=64)
    except (UnicodeDecodeError, ValueError):
        raise HTTPError(400, "invalid_request", "malformed form")


def _query(environ):
    raw = environ.get("QUERY_STRING") or ""
    if len(raw) > MAX_QUERY:
        raise HTTPError(414, "invalid_request", "query string too long")
    try:
        return urllib.parse.parse_qs(raw, keep_blank_values=True, max_num_fields=64)
    except ValueError:
        raise HTTPError(400, "invalid_request", "malformed query string")


def make_app(config):
    service = TokenService(config)

    def app(environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "")
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        client = _safe(environ.get("HTTP_X_REAL_IP") or environ.get("REMOTE_ADDR") or "-")
        headers = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
        try:
            if len(authorization) > MAX_AUTHORIZATION:
                raise HTTPError(400, "invalid_request", "Authorization header too long")
            if path == "/healthz":
                # kid: the key this worker signs with (public: every token's header carries it); the
                # role waits for it after a reload that activates a new key.
                return _json(start_response, 200, headers, {"ok": True, "kid": service.keys.kid})
            if path == "/token":
                if method not in ("GET", "POST"):
                    raise HTTPError(405, "invalid_request", "method not allowed")
                form = _read_form(environ) if method == "POST" else {}
                body = service.token(method, _query(environ), form, authorization, client)
                return _json(start_response, 200, headers, body)
            if path == "/authz":
                status, extra = service.authz(environ.get("HTTP_X_ORIGINAL_METHOD", ""),
                                              environ.get("HTTP_X_ORIGINAL_URI", ""), authorization, client)
                start_response(_status(status), headers + extra + [("Content-Length", "0")])
                return [b""]
            if path == "/v2/_catalog":
                if method not in ("GET", "HEAD"):
                    raise HTTPError(405, "UNSUPPORTED", "method not allowed")
                status, extra, body = service.catalog(_query(environ), authorization, client)
                return _json(start_response, status, headers + [API_VERSION] + extra, body)
            raise HTTPError(404, "NOT_FOUND", "not found")
        except HTTPError as exc:
            body = {"errors": [{"code": exc.code, "message": exc.message}], "details": exc.message}
            extra = [API_VERSION] if path.startswith("/v2/") else []
            return _json(start_response, exc.status, headers + extra + exc.headers, body)
        except Exception:  # pylint: disable=broad-except
            LOG.exception("internal error on %s %s", method, _safe(path))
            return _json(start_response, 500, headers, {"errors": [{"code": "UNKNOWN", "message": "internal error"}]})

    app.service = service
    return app


def _status(code):
    reasons = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
               404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large", 414: "URI Too Long",
               500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
    return "%d %s" % (code, reasons.get(code, "Status"))


def _json(start_response, status, headers, body):
    data = json.dumps(body, separators=(",", ":")).encode("utf-8") + b"\n"
    out = [h for h in headers if h[0].lower() != "content-type"] + [("Content-Type", "application/json"),
                                                                    ("Content-Length", str(len(data)))]
    start_response(_status(status), out)
    return [data]


def application(environ, start_response):
    """gunicorn entry point: built on first use from DOCKYARD_TOKEN_CONFIG."""
    global _APP  # pylint: disable=global-statement
    if _APP is None:
        with _APP_LOCK:
            if _APP is None:
                logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
                _APP = make_app(load_config())
    return _APP(environ, start_response)


_APP = None
_APP_LOCK = threading.Lock()
