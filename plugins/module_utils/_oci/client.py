# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: the small HTTP(S) client ``registry_check`` talks to a registry with.

Private to the dockyard.registry collection; other collections must not import it. Standard
library only (``http.client``, ``ssl``), no Ansible import.

``RegistryClient``: keep-alive HTTP(S) connections; Basic auth sent only to the registry's own
origin (never to a storage backend a blob GET is redirected to); once the registry challenges with
``Bearer`` (token authentication), a token from the realm instead (``bearer``), renewed with every
scope seen so far when a request is challenged again; ``resolve`` connects to another
address while SNI, certificate check and ``Host`` stay those of the URL (like ``curl --resolve``);
TLS trust = system store plus ``ca_path``; relative and absolute ``Location`` URLs. Transport
problems raise ``TransportError``; ``display_url`` keeps signatures and upload state out of messages.
"""

from __future__ import annotations

import base64
import http.client
import os
import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin, urlsplit

from ansible_collections.dockyard.registry.plugins.module_utils._http import AddressedHTTPConnection, AddressedHTTPSConnection
from ansible_collections.dockyard.registry.plugins.module_utils._oci import bearer
from ansible_collections.dockyard.registry.plugins.module_utils._oci.spec import (
    DEFAULT_TIMEOUT,
    MAX_REDIRECTS,
    USER_AGENT,
    _BLOCK,
    validate_url,
)


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
        # None until the registry challenges; then "basic" or "bearer".
        self.auth_scheme = None
        self._tokens = bearer.TokenState()
        self._explicit_token = None
        self.token_requests = 0

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
            conn = AddressedHTTPSConnection(host, port, connect_host, self.timeout, self._context)
        else:
            conn = AddressedHTTPConnection(host, port, connect_host, self.timeout)
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
        retried = False
        self._explicit_token = None
        while True:
            sent = {"User-Agent": USER_AGENT}
            sent.update(headers or {})
            if origin_of(current) == self.origin:
                authorization = self._bearer_authorization(auth) if self.auth_scheme == "bearer" \
                    else self._authorization(auth)
                if authorization:
                    sent["Authorization"] = authorization
            if self.observer is not None:
                self.observer.before(method, current)
            response = self._exchange(method, current, sent, body, sink)
            response.redirects = list(redirects)
            response.requested = first
            if self.observer is not None:
                self.observer.after(response)
            if response.status == 401 and origin_of(current) == self.origin:
                scheme, params = bearer.parse_challenge(response.header("WWW-Authenticate"))
                if scheme in ("basic", "bearer") and self.auth_scheme is None:
                    self.auth_scheme = scheme
                if scheme == "bearer" and auth is not False and not retried and params.get("realm"):
                    retried = True
                    failed = self._renew_token(params, auth)
                    if failed is not None:
                        return failed
                    continue
            location = response.header("Location")
            if not (follow_redirects and method in ("GET", "HEAD") and location
                    and response.status in (301, 302, 303, 307, 308)):
                return response
            if len(redirects) >= MAX_REDIRECTS:
                raise TransportError("more than %d redirects, last to %s"
                                     % (MAX_REDIRECTS, display_url(location)), current)
            current = urljoin(current, location)
            redirects.append(current)

    # -- token authentication ----------------------------------------------------------------

    def _bearer_authorization(self, auth):
        """The bearer token for the configured credentials (explicit ``auth`` pairs get none:
        they are challenged and fetch their own, never cached)."""
        token = self._tokens.token if auth is True else (self._explicit_token if auth else None)
        return "Bearer " + token if token else None

    def _renew_token(self, params, auth):
        """Fetch a token covering every scope seen so far; None on success, else the token
        endpoint's Response (its status tells why: a wrong password gets 401)."""
        scopes = self._tokens.wanted(params)
        realm = params["realm"]
        url = bearer.token_request_url(realm, params.get("service"), scopes)
        same_origin = origin_of(url) == self.origin
        sent = {"User-Agent": USER_AGENT}
        authorization = self._authorization(auth) if same_origin else None
        if authorization:
            sent["Authorization"] = authorization
        self.token_requests += 1
        response = self._exchange("GET", url, sent, None, None)
        response.redirects, response.requested = [], url
        try:
            token = bearer.token_from_response(response.status, response.body)
        except ValueError:
            return response
        if auth is True:
            self._tokens.update(token, scopes, realm, params.get("service"))
        else:
            self._explicit_token = token
        return None


def _resolve_target(resolve):
    if resolve is None or str(resolve).strip() == "":
        return None
    text = str(resolve).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if "/" in text or " " in text or not text:
        raise ValueError("resolve must be an IP address or a host name to connect to, got %r" % (resolve,))
    return text
