# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: is there a container engine the community.docker modules can use on this host?

This file is private to the dockyard.registry collection; other collections must not import it.
It imports nothing from Ansible (standard library only, so it runs on a bare host before anything
is installed). It owns:

* where the Docker API of a ``docker_host`` URL lives (``endpoint``: a unix socket path or a
  TCP host and port; ``ValueError`` for anything else);
* asking that endpoint ``GET /_ping`` and ``GET /version`` (``probe``), the same API calls the
  Docker CLI makes first, with a short timeout and no third-party library;
* what is installed (``find_binaries``) and whether the Python ``requests`` library the
  community.docker modules need can be imported (``has_requests``);
* what the registry role must do about it (``plan``): nothing, install the distribution's engine,
  install only the Python library, or stop with a message that names the host, the endpoint it
  tried and the variable that turns installation on.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import shutil
import socket
from urllib.parse import urlsplit

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
ENGINE_BINARIES = ("dockerd", "podman")
CLIENT_BINARIES = ("docker",)
SEARCH_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def endpoint(docker_host):
    """``("unix", path)`` or ``("tcp", host, port)`` for a ``docker_host`` URL."""
    value = (docker_host or DEFAULT_DOCKER_HOST).strip()
    parts = urlsplit(value)
    if parts.scheme == "unix":
        path = parts.path or parts.netloc
        if not path.startswith("/"):
            raise ValueError("docker_host %r: a unix socket URL needs an absolute path, e.g. %s"
                             % (value, DEFAULT_DOCKER_HOST))
        return ("unix", path)
    if parts.scheme in ("tcp", "http"):
        if not parts.hostname:
            raise ValueError("docker_host %r: a tcp URL needs a host, e.g. tcp://127.0.0.1:2375" % value)
        return ("tcp", parts.hostname, parts.port or 2375)
    raise ValueError("docker_host %r: only unix:// and tcp:// endpoints can be probed (TLS-protected "
                     "engines are not supported by this check)" % value)


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _connection(target, timeout):
    if target[0] == "unix":
        return _UnixHTTPConnection(target[1], timeout)
    return http.client.HTTPConnection(target[1], target[2], timeout=timeout)


def describe(target):
    return "unix://" + target[1] if target[0] == "unix" else "tcp://%s:%d" % (target[1], target[2])


def probe(docker_host, timeout=5.0):
    """Ask the engine at ``docker_host`` for ``/_ping`` and ``/version``.

    Returns ``{"endpoint", "reachable", "error", "server_version", "api_version"}``; never raises
    for a missing socket, a refused connection or a non-Docker answer (``reachable`` is then false
    and ``error`` says what happened).
    """
    target = endpoint(docker_host)
    result = {"endpoint": describe(target), "reachable": False, "error": None,
              "server_version": None, "api_version": None}
    if target[0] == "unix" and not os.path.exists(target[1]):
        result["error"] = "%s does not exist" % target[1]
        return result
    try:
        conn = _connection(target, timeout)
        try:
            conn.request("GET", "/_ping", headers={"Host": "docker"})
            ping = conn.getresponse()
            body = ping.read(64)
            if ping.status != 200 or body.strip() != b"OK":
                result["error"] = "GET /_ping answered %d %r, not 200 OK" % (ping.status, body[:32])
                return result
            conn.request("GET", "/version", headers={"Host": "docker"})
            version = conn.getresponse()
            data = json.loads(version.read(65536) or b"{}") if version.status == 200 else {}
        finally:
            conn.close()
    except (OSError, http.client.HTTPException, ValueError) as exc:
        result["error"] = "%s: %s" % (type(exc).__name__, exc)
        return result
    result["reachable"] = True
    result["server_version"] = data.get("Version")
    result["api_version"] = data.get("ApiVersion")
    return result


def find_binaries(names, search_path=SEARCH_PATH):
    """``{name: path or None}`` for each program name, looked up in ``search_path`` then ``PATH``."""
    found = {}
    for name in names:
        path = None
        for directory in search_path:
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                path = candidate
                break
        found[name] = path or shutil.which(name)
    return found


def has_requests():
    return importlib.util.find_spec("requests") is not None


def plan(host, state, install, packages, python_packages, var="registry_engine_install"):
    """What the registry role does about the engine on ``host`` (``None``: messages without a host
    name, for a caller that adds its own, such as the inventory name).

    ``state`` is ``{"reachable", "endpoint", "error", "binaries", "requests"}``. Returns
    ``{"action": "none" | "install" | "fail", "install_packages": [...], "start_engine": bool,
    "message": str}``. An engine that is installed but does not answer is never started or
    reconfigured here: the role did not install it, so it says so and stops.
    """
    prefix = "%s: " % host if host else ""
    binaries = state.get("binaries") or {}
    engine_installed = any(binaries.get(name) for name in ENGINE_BINARIES)
    missing = []
    if not state.get("reachable") and not engine_installed:
        missing.extend(packages)
    if not state.get("requests"):
        missing.extend(p for p in python_packages if p not in missing)
    out = {"action": "none", "install_packages": [], "start_engine": False, "message": ""}
    if not state.get("reachable") and engine_installed:
        out["action"] = "fail"
        out["message"] = (
            "%sa container engine is installed (%s) but nothing answers at %s (%s). The registry role "
            "does not start or reconfigure an engine it did not install: start it (e.g. systemctl start "
            "docker), or point registry_docker_host at the engine's socket."
            % (prefix, ", ".join(p for p in binaries.values() if p), state.get("endpoint"), state.get("error")))
        return out
    if not missing:
        return out
    if not install:
        what = []
        if not state.get("reachable"):
            what.append("no container engine answers at %s (%s)" % (state.get("endpoint"), state.get("error")))
        if not state.get("requests"):
            what.append("the Python requests library (needed by the community.docker modules) is missing")
        out["action"] = "fail"
        out["message"] = (
            "%s%s, and %s is false. Install Docker (Debian: docker.io, or docker-ce from Docker's "
            "repository) and %s yourself, or set %s: true to let the registry role install %s."
            % (prefix, "; ".join(what), var, ", ".join(python_packages), var, ", ".join(missing)))
        return out
    out["action"] = "install"
    out["install_packages"] = missing
    out["start_engine"] = not state.get("reachable")
    out["message"] = "%sinstalling %s" % (prefix, ", ".join(missing))
    return out
