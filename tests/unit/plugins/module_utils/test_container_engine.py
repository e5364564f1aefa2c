"""The container engine probe and the registry role's decision about a missing engine."""

from __future__ import annotations

import http.server
import os
import socket
import socketserver
import threading

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _container_engine as engine

PKGS = ["docker.io"]
PY = ["python3-requests"]


@pytest.mark.parametrize("url, want", [
    ("unix:///var/run/docker.sock", ("unix", "/var/run/docker.sock")),
    ("", ("unix", "/var/run/docker.sock")),
    ("tcp://127.0.0.1:2375", ("tcp", "127.0.0.1", 2375)),
    ("tcp://docker.internal", ("tcp", "docker.internal", 2375)),
])
def test_endpoint(url, want):
    assert engine.endpoint(url) == want


@pytest.mark.parametrize("url", ["unix://relative.sock", "ssh://host", "npipe:////./pipe/docker_engine", "tcp://"])
def test_endpoint_refuses(url):
    with pytest.raises(ValueError, match="docker_host"):
        engine.endpoint(url)


class _Handler(http.server.BaseHTTPRequestHandler):
    answers = {}

    def do_GET(self):  # noqa: N802 (http.server API)
        status, body = self.answers.get(self.path, (404, b"not found"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def fake_engine(tmp_path):
    path = str(tmp_path / "docker.sock")

    def start(answers):
        handler = type("H", (_Handler,), {"answers": answers})

        class Handler(handler):
            def address_string(self):
                return "unix"

        server = _UnixServer(path, Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return "unix://" + path

    servers = []
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_probe_reads_a_docker_engine(fake_engine):
    url = fake_engine({"/_ping": (200, b"OK"), "/version": (200, b'{"Version": "20.10.24", "ApiVersion": "1.41"}')})
    got = engine.probe(url, timeout=2)
    assert got["reachable"] is True and got["error"] is None
    assert got["server_version"] == "20.10.24" and got["api_version"] == "1.41"


def test_probe_missing_socket(tmp_path):
    got = engine.probe("unix://%s/none.sock" % tmp_path)
    assert got["reachable"] is False
    assert "does not exist" in got["error"]


def test_probe_something_else_on_the_socket(fake_engine):
    url = fake_engine({"/_ping": (404, b"page not found")})
    got = engine.probe(url, timeout=2)
    assert got["reachable"] is False and "not 200 OK" in got["error"]


def test_probe_refused_tcp():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    got = engine.probe("tcp://127.0.0.1:%d" % port, timeout=2)
    assert got["reachable"] is False and "Refused" in got["error"]


def test_find_binaries(tmp_path):
    exe = tmp_path / "dockerd"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    (tmp_path / "podman").write_text("not executable")
    found = engine.find_binaries(["dockerd", "podman"], search_path=[str(tmp_path)])
    assert found["dockerd"] == str(exe)
    assert found["podman"] is None or not found["podman"].startswith(str(tmp_path))


def _state(reachable=False, dockerd=None, requests=False):
    return {"reachable": reachable, "endpoint": "unix:///var/run/docker.sock",
            "error": None if reachable else "/var/run/docker.sock does not exist",
            "binaries": {"dockerd": dockerd, "podman": None, "docker": None}, "requests": requests}


def test_plan_nothing_to_do():
    got = engine.plan("b1", _state(True, "/usr/sbin/dockerd", True), True, PKGS, PY)
    assert got["action"] == "none" and got["install_packages"] == [] and not got["start_engine"]


def test_plan_bare_host_installs_engine_and_library():
    got = engine.plan("b1", _state(), True, PKGS, PY)
    assert got["action"] == "install"
    assert got["install_packages"] == ["docker.io", "python3-requests"]
    assert got["start_engine"] is True


def test_plan_engine_running_only_library_missing():
    got = engine.plan("b1", _state(True, "/usr/sbin/dockerd", False), True, PKGS, PY)
    assert got == {"action": "install", "install_packages": ["python3-requests"], "start_engine": False,
                   "message": "b1: installing python3-requests"}


def test_plan_install_off_names_host_socket_and_variable():
    got = engine.plan("backend2", _state(), False, PKGS, PY, var="registry_engine_install")
    assert got["action"] == "fail"
    for part in ("backend2", "unix:///var/run/docker.sock", "registry_engine_install: true", "requests"):
        assert part in got["message"]


def test_plan_never_starts_an_engine_it_did_not_install():
    got = engine.plan("b1", _state(False, "/usr/sbin/dockerd", True), True, PKGS, PY)
    assert got["action"] == "fail"
    assert "does not start or reconfigure" in got["message"] and "/usr/sbin/dockerd" in got["message"]
    assert got["install_packages"] == []


def test_socket_permissions_do_not_crash_the_probe(tmp_path):
    path = tmp_path / "docker.sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))  # bound but not listening: connect is refused
    try:
        got = engine.probe("unix://%s" % path, timeout=1)
    finally:
        sock.close()
        os.unlink(path)
    assert got["reachable"] is False and got["error"]
