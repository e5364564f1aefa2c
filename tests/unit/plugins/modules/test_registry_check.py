# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The registry_check module is wiring: options in, run_checks, result or failure out."""

from __future__ import annotations

import base64
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible.module_utils import basic

from ansible_collections.dockyard.registry.plugins.module_utils import _oci
from ansible_collections.dockyard.registry.plugins.modules import registry_check
from ansible_collections.dockyard.registry.tests.unit.plugins.modules.utils import run_module
from ansible_collections.dockyard.registry.tests.unit.servers import serving

PASSWORD = "correct horse battery staple"


def run(**params):
    return run_module(registry_check, **params)


@pytest.fixture
def captured(monkeypatch):
    calls = []
    warnings = []

    def fake_run_checks(**kwargs):
        calls.append(kwargs)
        return {"changed": False, "checks_passed": ["auth"], "warnings": ["look out"]}

    monkeypatch.setattr(registry_check, "run_checks", fake_run_checks)
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, message: warnings.append(message))
    return calls, warnings


def test_defaults_are_passed_through(captured):
    calls, warnings = captured
    out = run(url="https://registry.example.com", username="u", password="p")
    assert not out.failed
    assert out.result["checks_passed"] == ["auth"]
    assert "warnings" not in out.result
    assert warnings == ["look out"]
    kwargs = calls[0]
    assert kwargs == {
        "url": "https://registry.example.com", "username": "u", "password": "p", "ca_path": None,
        "validate_certs": True, "resolve": None, "repository": "dockyard/verify", "tag": None, "seed": None,
        "layers": [1024, 65536], "layer_format": "tar+gzip", "manifest_format": "docker", "upload": "chunked",
        "chunk_size": 32768, "mount_from": None, "expect_unauthenticated_401": True, "timeout": 30.0,
        "checks": ["auth", "push", "pull"], "capture_headers": [], "report_changed": True, "check_mode": False,
    }


def test_check_mode_is_passed(captured):
    calls, _warnings = captured
    run(url="https://registry.example.com", username="u", password="p", _ansible_check_mode=True)
    assert calls[0]["check_mode"] is True


def test_username_and_password_go_together(captured):
    out = run(url="https://registry.example.com", username="u")
    assert out.failed
    assert "username" in out.result["msg"] and "password" in out.result["msg"]


def test_choices_are_enforced(captured):
    out = run(url="https://registry.example.com", checks=["auth", "nope"])
    assert out.failed
    assert "checks" in out.result["msg"]


def test_value_error_fails(monkeypatch):
    def boom(**kwargs):
        raise ValueError("url must start with https://")

    monkeypatch.setattr(registry_check, "run_checks", boom)
    out = run(url="registry.example.com")
    assert out.failed
    assert out.result["msg"] == "url must start with https://"


def test_check_failed_returns_partial_result(monkeypatch):
    warned = []

    def boom(**kwargs):
        raise _oci.CheckFailed("push: blob ...: PATCH ... returned HTTP 404", {
            "changed": True, "checks_passed": ["auth"], "warnings": ["w1"], "push": {"blobs": []}})

    monkeypatch.setattr(registry_check, "run_checks", boom)
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, message: warned.append(message))
    out = run(url="https://registry.example.com", username="u", password="p")
    assert out.failed
    assert out.result["msg"].startswith("push: blob")
    assert out.result["checks_passed"] == ["auth"]
    assert out.result["changed"] is True
    assert "warnings" not in out.result
    assert warned == ["w1"]


def test_password_is_no_log():
    spec = registry_check.argument_spec()
    assert spec["password"]["no_log"] is True
    assert [name for name, option in spec.items() if option.get("no_log")] == ["password"]


class _AuthOnly(BaseHTTPRequestHandler):
    """/v2/ behind Basic auth, as the nginx proxy answers it."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        token = base64.b64encode(("u:" + PASSWORD).encode()).decode()
        ok = self.headers.get("Authorization") == "Basic " + token
        body = b"{}" if ok else b"<html>401 Authorization Required</html>"
        self.send_response(200 if ok else 401)
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        if not ok:
            self.send_header("WWW-Authenticate", 'Basic realm="Registry"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def auth_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AuthOnly)
    server.daemon_threads = True
    with serving(server):
        yield "http://registry.dockyard.test:%d" % server.server_address[1]


def test_auth_end_to_end_in_check_mode(auth_server):
    out = run(url=auth_server, resolve="127.0.0.1", username="u", password=PASSWORD, seed="s1",
              _ansible_check_mode=True)
    assert not out.failed, out.result
    result = out.result
    assert result["changed"] is False
    assert result["checks_passed"] == ["auth"]
    assert result["checks_skipped"] == ["push", "pull"]
    assert result["auth"]["unauthenticated_status"] == 401
    assert result["auth"]["wrong_password_status"] == 401
    assert result["auth"]["authenticated_status"] == 200
    assert "upstreams" not in result
    assert result["tag"] == "check-s1"
    assert PASSWORD not in json.dumps(result)


def test_auth_end_to_end_wrong_password(auth_server):
    out = run(url=auth_server, resolve="127.0.0.1", username="u", password="wrong", checks=["auth"])
    assert out.failed
    assert out.result["msg"].startswith("auth: with the credentials of user 'u': GET /v2/ returned HTTP 401")
    assert "401 Authorization Required" in out.result["msg"]
    assert out.result["checks_passed"] == []
