# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: probing one registry backend the way the proxy reaches it.

This file is private to the dockyard.registry collection; other collections must not import it.
It imports nothing from Ansible and nothing outside the Python standard library and the
collection's own module_utils, so the ``backend_probe`` module runs on a proxy with a stock
python3. It owns:

* how a probe connects (``connect``): HTTPS to the backend's address with SNI and certificate
  verification against the name every backend certificate carries (``dockyard_backend_tls_name``),
  presenting the proxy's client certificate, or plain HTTP when backend TLS is off;
* what each check asks and which answer passes (``CHECKS`` and ``judge``):

  ``api``           ``GET /v2/``: 200 or 401 with ``Docker-Distribution-Api-Version: registry/2.0``
                    (the registry answers; it wraps every handler in its health checks, so a
                    backend whose storage checks fail answers 503 here)
  ``storage``       ``GET /v2/_catalog?n=1``: 200 (the registry listed its storage); 401 when the
                    backend itself asks for credentials is reported, not failed
  ``readonly``      ``POST /v2/<repository>/blobs/uploads/`` is refused with 405 and an ``Allow``
                    header without POST: the registry's read-only mode (an upload it accepted is
                    cancelled again at once)
  ``debug_health``  ``GET /debug/health`` on the registry's debug server: 200 and ``{}``

Neither a password nor an ``Authorization`` header ever appears in a result.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
from urllib.parse import urlsplit

from ansible_collections.dockyard.registry.plugins.module_utils._http import AddressedHTTPConnection, AddressedHTTPSConnection
from ansible_collections.dockyard.registry.plugins.module_utils._inventory import url_host

API_HEADER = "Docker-Distribution-Api-Version"
API_VERSION = "registry/2.0"
CHECKS = {
    "api": ("GET", "/v2/"),
    "storage": ("GET", "/v2/_catalog?n=1"),
    "readonly": ("POST", "/v2/{repository}/blobs/uploads/"),
    "debug_health": ("GET", "/debug/health"),
}
DEFAULT_REPOSITORY = "dockyard/readonly-probe"


def host_for_url(address):
    """``address`` as it appears in a URL authority (IPv6 literals bracketed); empty is refused."""
    text = url_host(address)
    if not text:
        raise ValueError("address is empty")
    return text


def check_path(check, repository=DEFAULT_REPOSITORY):
    if check not in CHECKS:
        raise ValueError("check %r is not one of %s" % (check, ", ".join(sorted(CHECKS))))
    method, path = CHECKS[check]
    return method, path.format(repository=repository)


def judge(check, status, headers, body):
    """``(passed, detail)`` for one answer. ``headers`` is a dict with lower-case keys."""
    headers = {str(k).lower(): v for k, v in (headers or {}).items()}
    text = (body or b"")[:300].decode("utf-8", "replace").strip()
    if status is None:
        return False, "no answer"
    if check == "api":
        if status in (200, 401) and headers.get(API_HEADER.lower()) == API_VERSION:
            return True, "HTTP %d, %s: %s" % (status, API_HEADER, API_VERSION)
        if status == 503:
            return False, "HTTP 503: the registry reports a failing health check (storage?): %s" % text
        return False, "HTTP %d, %s: %r" % (status, API_HEADER, headers.get(API_HEADER.lower()))
    if check == "storage":
        if status == 200:
            return True, "HTTP 200: the registry read its storage"
        if status == 401:
            return True, "HTTP 401: the backend asks for credentials, storage not checked"
        return False, "HTTP %d listing the storage: %s" % (status, text)
    if check == "readonly":
        allow = str(headers.get("allow", ""))
        methods = {m.strip().upper() for m in allow.split(",") if m.strip()}
        if status == 405 and "POST" not in methods:
            return True, "HTTP 405, Allow: %s (read-only)" % allow
        if status == 202:
            return False, "HTTP 202: the backend accepted an upload, it is NOT read-only"
        return False, "HTTP %d to an upload start, Allow: %r: cannot tell whether it is read-only" % (status, allow)
    if check == "debug_health":
        if status == 200:
            try:
                data = json.loads(text or "{}")
            except ValueError:
                data = None
            if data == {}:
                return True, "HTTP 200 {}"
            return False, "HTTP 200 with failing checks: %s" % text
        return False, "HTTP %d: %s" % (status, text)
    raise ValueError("check %r is not one of %s" % (check, ", ".join(sorted(CHECKS))))


def ssl_context(ca_path=None, client_cert=None, client_key=None):
    ctx = ssl.create_default_context(cafile=ca_path) if ca_path else ssl.create_default_context()
    if client_cert:
        ctx.load_cert_chain(client_cert, client_key or None)
    return ctx


def connect(address, port, tls=False, server_name=None, context=None, timeout=5.0):
    address = str(address).strip().strip("[]")
    if tls:
        return AddressedHTTPSConnection(server_name or address, int(port), address, timeout, context or ssl_context())
    return AddressedHTTPConnection(address, int(port), address, timeout)


def basic_auth(username, password):
    if not username:
        return None
    token = base64.b64encode(("%s:%s" % (username, password or "")).encode("utf-8")).decode("ascii")
    return "Basic " + token


def run_check(check, address, port, tls=False, server_name=None, context=None, timeout=5.0,
              repository=DEFAULT_REPOSITORY, authorization=None):
    """One check: ``{"check", "method", "path", "status", "passed", "detail"}``."""
    method, path = check_path(check, repository)
    result = {"check": check, "method": method, "path": path, "status": None, "passed": False, "detail": ""}
    conn = connect(address, port, tls, server_name, context, timeout)
    try:
        headers = {"Host": server_name if tls and server_name else host_for_url(address) + ":%d" % int(port),
                   "User-Agent": "dockyard-backend-probe/1", "Connection": "close"}
        if authorization:
            headers["Authorization"] = authorization
        body = b"" if method == "POST" else None
        if body is not None:
            headers["Content-Length"] = "0"
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read(4096)
        answer = {k.lower(): v for k, v in resp.getheaders()}
        result["status"] = resp.status
        result["passed"], result["detail"] = judge(check, resp.status, answer, data)
        if check == "readonly" and resp.status == 202 and answer.get("location"):
            _cancel_upload(address, port, tls, server_name, context, timeout, answer["location"], authorization)
    except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
        result["detail"] = "%s: %s" % (type(exc).__name__, exc)
    finally:
        conn.close()
    return result


def _cancel_upload(address, port, tls, server_name, context, timeout, location, authorization):
    """DELETE the upload the probe started on a writable backend (best effort)."""
    parts = urlsplit(location)
    path = parts.path + ("?" + parts.query if parts.query else "")
    conn = connect(address, port, tls, server_name, context, timeout)
    try:
        headers = {"Connection": "close"}
        if authorization:
            headers["Authorization"] = authorization
        conn.request("DELETE", path, headers=headers)
        conn.getresponse().read()
    except (OSError, http.client.HTTPException):
        pass
    finally:
        conn.close()
