"""A real client on ca-client reaches the TLS server on ca-proxy by the registry name, with only the
CA installed by dockyard.registry.client_trust (no insecure flags, no --cacert), and the same
clients refuse a name that is not in the certificate (negative control).

ca-proxy serves the issued key and certificate with files/tls_test_server.py (converge): GET / is
200, anything else 404. It is not a registry: a registry client gets past TLS and then fails on the
registry protocol, so its error must not be a certificate error.
"""

from __future__ import annotations

import json
import re

import pytest
from conftest import (CLIENT, NAME, PROXY, TLS_UNIT, UNLISTED, fingerprint, lab_host, proxy_address, san_strings,
                      served_certificate, server_certificate)

TLS_ERROR = re.compile(r"x509|certificate|tls:", re.IGNORECASE)


@pytest.fixture(scope="module")
def client():
    return lab_host(CLIENT)


@pytest.fixture(scope="module", autouse=True)
def served_certificate_is_current():
    """Precondition: the HTTPS test server runs and presents the certificate installed on ca-proxy."""
    assert lab_host(PROXY).service(f"{TLS_UNIT}.service").is_running
    assert fingerprint(served_certificate()) == fingerprint(server_certificate())


def test_names_resolve_to_the_proxy(client):
    address = proxy_address()
    for name in (NAME, UNLISTED):
        assert client.run(f"getent ahostsv4 {name}").stdout.split()[0] == address, name
    assert f"DNS:{UNLISTED}" not in san_strings(server_certificate())


def test_no_insecure_registry_settings(client):
    daemon_json = client.file("/etc/docker/daemon.json")
    if daemon_json.exists:
        assert not json.loads(daemon_json.content_string or "{}").get("insecure-registries")
    config = json.loads(client.check_output("docker info --format '{{ json .RegistryConfig }}'"))
    for cidr in config.get("InsecureRegistryCIDRs") or []:
        assert cidr.startswith("127."), f"unexpected insecure CIDR {cidr}"
    index = (config.get("IndexConfigs") or {}).get(NAME)
    assert index is None or index["Secure"], index
    # skopeo: no registry marked insecure in containers-registries.conf(5).
    grep = client.run("grep -rEs '^[[:space:]]*insecure[[:space:]]*=[[:space:]]*true' "
                      "/etc/containers/registries.conf /etc/containers/registries.conf.d")
    assert grep.stdout.strip() == "", grep.stdout


def test_openssl_client_verifies_with_the_system_store(client):
    res = client.run(f"openssl s_client -connect {NAME}:443 -servername {NAME} -verify_hostname {NAME} "
                     f"-verify_return_error </dev/null")
    assert res.rc == 0, res.stdout + res.stderr
    assert "Verify return code: 0 (ok)" in res.stdout


@pytest.mark.parametrize("target", ["name", "address"])
def test_curl_with_the_system_store(client, target):
    """curl (-q: no ~/.curlrc) with the system bundle only: by name (DNS SAN) and by address (IP SAN)."""
    host = NAME if target == "name" else proxy_address()
    res = client.run(f"curl -q -sS --max-time 20 -o /dev/null -w '%{{http_code}}' https://{host}/")
    assert res.rc == 0, res.stderr
    assert res.stdout == "200"


def test_curl_refuses_a_name_not_in_the_certificate(client):
    res = client.run(f"curl -q -sS --max-time 20 -o /dev/null https://{UNLISTED}/")
    assert res.rc == 60, (res.rc, res.stderr)  # CURLE_PEER_FAILED_VERIFICATION
    assert UNLISTED in res.stderr


def _skopeo(client, name, cert_dir=None):
    cert_dir_opt = f"--cert-dir {cert_dir} " if cert_dir else ""
    return client.run(f"timeout 60 skopeo inspect --tls-verify=true {cert_dir_opt}--retry-times 0 "
                      f"docker://{name}/dockyard/probe:latest")


def test_skopeo_gets_past_tls_with_the_system_store_only(client):
    """--cert-dir pointing at an empty directory: Go's TLS client has nothing but the system pool."""
    empty = client.check_output("mktemp -d")
    try:
        res = _skopeo(client, NAME, cert_dir=empty)
    finally:
        client.run(f"rmdir {empty}")
    assert res.rc != 0, res.stdout  # the test server is not a registry
    assert not TLS_ERROR.search(res.stderr), res.stderr
    assert "404" in res.stderr, res.stderr  # past TLS: the HTTP answer to GET /v2/


def test_skopeo_gets_past_tls_with_containers_certs_d(client):
    assert client.file(f"/etc/containers/certs.d/{NAME}/ca.crt").is_file
    res = _skopeo(client, NAME)
    assert res.rc != 0, res.stdout
    assert not TLS_ERROR.search(res.stderr), res.stderr
    assert "404" in res.stderr, res.stderr


def test_skopeo_refuses_a_name_not_in_the_certificate(client):
    res = _skopeo(client, UNLISTED)
    assert res.rc != 0
    assert "x509" in res.stderr and UNLISTED in res.stderr, res.stderr


def test_docker_gets_past_tls(client):
    """The Docker engine (certs.d and the system pool, no insecure-registries) pulls from the name."""
    assert client.file(f"/etc/docker/certs.d/{NAME}/ca.crt").is_file
    res = client.run(f"timeout 120 docker pull {NAME}/dockyard/probe:latest")
    assert res.rc != 0, res.stdout
    assert not TLS_ERROR.search(res.stderr), res.stderr
    assert "404" in res.stderr, res.stderr


def test_docker_refuses_a_name_not_in_the_certificate(client):
    res = client.run(f"timeout 120 docker pull {UNLISTED}/dockyard/probe:latest")
    assert res.rc != 0
    assert "x509" in res.stderr and UNLISTED in res.stderr, res.stderr
