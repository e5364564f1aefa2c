"""The registry container on each backend host: health, private listen address, secrets."""

from __future__ import annotations

import json

import pytest
import requests
from conftest import BACKENDS, CONFIG_DIR, CONTAINER, DEBUG_PORT, PORT, S3_BACKENDS, TIMEOUT, lab_host


def inspect(name: str) -> dict:
    return json.loads(lab_host(name).check_output(f"docker inspect {CONTAINER}"))[0]


@pytest.mark.parametrize("name", BACKENDS)
def test_container_runs_and_is_healthy(name):
    info = inspect(name)
    assert info["State"]["Running"]
    assert info["State"]["Health"]["Status"] == "healthy", info["State"]["Health"]["Log"][-1:]
    assert info["HostConfig"]["RestartPolicy"]["Name"] == "always"
    assert info["HostConfig"]["ReadonlyRootfs"] is True
    assert info["HostConfig"]["CapDrop"] == ["ALL"]


@pytest.mark.parametrize("name", BACKENDS)
def test_published_on_the_private_address_only(name, address):
    """Docker publishes 5000 on the backend's lab address and the debug port on 127.0.0.1:
    nothing on a wildcard address, so clients cannot bypass the proxy."""
    host = lab_host(name)
    ports = host.check_output(f"docker port {CONTAINER}").splitlines()
    assert sorted(ports) == sorted([
        f"5000/tcp -> {address[name]}:{PORT}",
        f"5001/tcp -> 127.0.0.1:{DEBUG_PORT}",
    ])
    bindings = inspect(name)["HostConfig"]["PortBindings"]
    assert bindings == {
        "5000/tcp": [{"HostIp": address[name], "HostPort": str(PORT)}],
        "5001/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(DEBUG_PORT)}],
    }
    # The listening sockets on the registry ports (docker-proxy) are on those addresses only.
    listeners = host.check_output("ss -ltnH").splitlines()
    local = {line.split()[3] for line in listeners}
    on_ports = {addr for addr in local if addr.rsplit(":", 1)[1] in (str(PORT), str(DEBUG_PORT))}
    assert on_ports == {f"{address[name]}:{PORT}", f"127.0.0.1:{DEBUG_PORT}"}, on_ports
    # Reached on the private address, not on loopback (no 0.0.0.0 binding).
    res = host.run(f"curl -sS -o /dev/null -w '%{{http_code}}' --max-time 5 http://127.0.0.1:{PORT}/v2/")
    assert res.rc != 0 and res.stdout in ("", "000"), (res.rc, res.stdout)
    assert host.check_output(
        f"curl -sS -o /dev/null -w '%{{http_code}}' --max-time 5 http://{address[name]}:{PORT}/v2/") == "200"
    assert requests.get(f"http://{address[name]}:{PORT}/v2/", timeout=TIMEOUT).status_code == 200


@pytest.mark.parametrize("name", BACKENDS)
def test_debug_server_on_loopback(name):
    host = lab_host(name)
    health = host.check_output(f"curl -sS --max-time 5 http://127.0.0.1:{DEBUG_PORT}/debug/health")
    assert json.loads(health) == {}
    assert "registry_" in host.check_output(f"curl -sS --max-time 5 http://127.0.0.1:{DEBUG_PORT}/metrics")


@pytest.mark.parametrize("name", BACKENDS)
def test_no_secret_in_docker_inspect(name, secrets):
    """Secrets live only in config.yml: not in Env, Labels, Cmd/Args or anywhere else inspect shows."""
    info = inspect(name)
    dump = json.dumps(info)
    for what, value in secrets.items():
        assert value not in dump, f"{what} in docker inspect of {name}"
    assert not [e for e in info["Config"]["Env"] if e.startswith("REGISTRY_")]
    assert info["Config"]["Cmd"] == ["serve", "/etc/docker/registry/config.yml"]
    assert not any(k.startswith("dockyard.") and "secret" in k for k in info["Config"]["Labels"])


@pytest.mark.parametrize("name", BACKENDS)
def test_config_file_is_root_only(name, secrets):
    host = lab_host(name)
    config = host.file(f"{CONFIG_DIR}/config.yml")
    assert config.is_file
    assert (config.user, config.group, config.mode) == ("root", "root", 0o600)
    assert host.file(CONFIG_DIR).mode == 0o700
    # Positive control for the inspect test: the values searched for are the live secrets.
    content = config.content_string
    assert secrets["http.secret"] in content
    assert (secrets["S3 secret key"] in content) == (name in S3_BACKENDS)
    # The container label is the file's sha256 (what makes docker_container recreate on change).
    label = inspect(name)["Config"]["Labels"]["dockyard.registry.config-sha256"]
    assert host.check_output(f"sha256sum {CONFIG_DIR}/config.yml").split()[0] == label


@pytest.mark.parametrize("name", BACKENDS)
def test_image_archive_copy_removed(name):
    assert not lab_host(name).file("/var/tmp/dockyard-registry-image.tar").exists
