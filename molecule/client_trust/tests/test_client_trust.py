"""dockyard.registry.client_trust on the lab: files, trust, and real clients through the trust.

ct-debian: shared dockyard_* facts, port 5043, Docker + skopeo + containerd, a TLS registry on
its lab address, port 5043, reached as registry.dockyard.test through the /etc/hosts block, docker
login. (Not 127.0.0.1: Docker treats registries resolving into 127.0.0.0/8 as insecure and would
ignore TLS errors, hiding a missing trust.)
ct-plain: the role alone, port 443, no Docker (auto skips it), podman/containerd dirs forced on, the
system trust store left alone (the default: client_trust_system false).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import tomllib
from pathlib import Path

import pytest

NAME = "registry.dockyard.test"
CA_DIR = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "client_trust"
USER = "ci"
PASSWORD = "ct-lab-password-only-for-tests"  # test-only credential from inventory/host_vars/ct-debian.yml
MARKER = "dockyard.registry client_trust"

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(PROJECT / ".cache" / "collections"))
from ansible_collections.dockyard.registry.tests.lab_hosts import lab_host  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

# host, CA file name in the trust store, registry host as written in image references, etc/hosts address
HOSTS = {
    "ct-debian": {"ca_name": "dockyard-registry-ca", "ref": f"{NAME}:5043", "address": None},  # lab address
    "ct-plain": {"ca_name": "dockyard-test-ca", "ref": NAME, "address": "192.0.2.10"},
}
RUNTIME_DIRS = ["/etc/docker/certs.d", "/etc/containers/certs.d", "/etc/containerd/certs.d"]
EXPECTED_RUNTIMES = {
    "ct-debian": RUNTIME_DIRS,
    "ct-plain": ["/etc/containers/certs.d", "/etc/containerd/certs.d"],
}


@pytest.fixture(scope="module")
def ca_pem() -> str:
    return (CA_DIR / "ca.crt").read_text()


@pytest.fixture(scope="module")
def server_pem() -> str:
    return (CA_DIR / "server.crt").read_text()


SYSTEM_STORE = ["ct-debian"]  # client_trust_system: true only there


@pytest.mark.parametrize("name", SYSTEM_STORE)
def test_ca_is_a_system_trust_anchor(name, ca_pem):
    host = lab_host(name)
    anchor = host.file(f"/usr/local/share/ca-certificates/{HOSTS[name]['ca_name']}.crt")
    assert anchor.is_file
    assert anchor.user == "root" and anchor.mode == 0o644
    assert anchor.content_string.strip() == ca_pem.strip()
    assert anchor.content_string.endswith("-----END CERTIFICATE-----\n")
    link = host.file(f"/etc/ssl/certs/{HOSTS[name]['ca_name']}.pem")
    assert link.is_symlink and link.linked_to == anchor.path


@pytest.mark.parametrize("name", SYSTEM_STORE)
def test_system_bundle_verifies_the_registry_certificate(name, server_pem):
    """The registry's server certificate verifies against the system bundle alone."""
    host = lab_host(name)
    res = host.run("openssl verify -CAfile /etc/ssl/certs/ca-certificates.crt <<'EOF'\n%s\nEOF" % server_pem.strip())
    assert res.rc == 0, res.stdout + res.stderr
    assert "OK" in res.stdout


def test_system_store_is_left_alone_by_default(server_pem):
    """ct-plain keeps the default: no anchor, and the system bundle does not trust the registry's CA."""
    host = lab_host("ct-plain")
    assert not host.file(f"/usr/local/share/ca-certificates/{HOSTS['ct-plain']['ca_name']}.crt").exists
    res = host.run("openssl verify -CAfile /etc/ssl/certs/ca-certificates.crt <<'EOF'\n%s\nEOF" % server_pem.strip())
    assert res.rc != 0 and "unable to get local issuer certificate" in res.stdout + res.stderr


@pytest.mark.parametrize("name", HOSTS)
def test_runtime_cert_dirs(name, ca_pem):
    host = lab_host(name)
    ref = HOSTS[name]["ref"]
    for base in RUNTIME_DIRS:
        ca = host.file(f"{base}/{ref}/ca.crt")
        if base in EXPECTED_RUNTIMES[name]:
            assert ca.is_file, ca.path
            assert ca.mode == 0o644
            assert ca.content_string.strip() == ca_pem.strip()
        else:
            assert not host.file(base).exists, f"{base} must not be created on {name} (runtime absent, auto)"
        # Only the directory clients look up: no name:443 for the default port, no bare name for 5043.
        other = f"{NAME}:443" if ref == NAME else NAME
        assert not host.file(f"{base}/{other}").exists, f"{base}/{other}"


@pytest.mark.parametrize("name", HOSTS)
def test_containerd_hosts_toml(name):
    host = lab_host(name)
    ref = HOSTS[name]["ref"]
    hosts_toml = host.file(f"/etc/containerd/certs.d/{ref}/hosts.toml")
    assert hosts_toml.is_file
    data = tomllib.loads(hosts_toml.content_string)
    assert data["server"] == f"https://{ref}"
    assert data["host"] == {
        f"https://{ref}": {
            "capabilities": ["pull", "resolve", "push"],
            "ca": f"/etc/containerd/certs.d/{ref}/ca.crt",
        }
    }


@pytest.mark.parametrize("name", HOSTS)
def test_no_insecure_registries(name):
    daemon_json = lab_host(name).file("/etc/docker/daemon.json")
    if daemon_json.exists:
        config = json.loads(daemon_json.content_string or "{}")
        assert not config.get("insecure-registries")


def etc_hosts_address(name: str) -> str:
    """The address the block must hold: ct-debian's own lab address, or the fixed one of ct-plain."""
    return HOSTS[name]["address"] or lab_host(name).check_output(f"getent ahostsv4 {name}").split()[0]


@pytest.mark.parametrize("name", HOSTS)
def test_etc_hosts_block(name):
    host = lab_host(name)
    address = etc_hosts_address(name)
    assert not address.startswith("127.")
    lines = host.file("/etc/hosts").content_string.splitlines()
    begin = lines.index(f"# BEGIN {MARKER}")
    assert lines[begin + 1:begin + 3] == [f"{address} {NAME}", f"# END {MARKER}"]
    assert sum(1 for line in lines if MARKER in line) == 2
    assert host.run(f"getent hosts {NAME}").stdout.split()[0] == address


def test_docker_login_stored_credentials():
    host = lab_host("ct-debian")
    config = json.loads(host.file("/root/.docker/config.json").content_string)
    assert f"{NAME}:5043" in config["auths"]
    assert NAME not in config["auths"]
    assert host.file("/root/.docker/config.json").mode == 0o600


def test_system_trust_reaches_the_registry():
    """Python's default TLS context (system bundle) reaches the registry by name: 401, not a TLS error."""
    script = (
        "import urllib.request, urllib.error\n"
        "try:\n"
        f"    urllib.request.urlopen('https://{NAME}:5043/v2/', timeout=10)\n"
        "except urllib.error.HTTPError as exc:\n"
        "    print(exc.code)\n"
    )
    res = lab_host("ct-debian").run("python3 -c %s" % shlex.quote(script))
    assert res.rc == 0, res.stderr
    assert res.stdout.strip() == "401"


def test_docker_pushes_and_pulls_through_the_trust():
    """The Docker engine (certs.d, no insecure-registries) pushes and pulls with the stored login."""
    host = lab_host("ct-debian")
    image = f"{NAME}:5043/ct/registry:verify"
    host.check_output(f"docker tag dockyard-lab/registry:2.8.2 {image}")
    push = host.run(f"docker push {image}")
    assert push.rc == 0, push.stdout + push.stderr
    host.check_output(f"docker rmi {image}")
    pull = host.run(f"docker pull {image}")
    assert pull.rc == 0, pull.stdout + pull.stderr


def test_docker_verifies_the_registry():
    """Control: Docker verifies TLS for this registry (no insecure fallback): the same registry under
    another name (the host's own, not in the certificate, no certs.d) fails verification."""
    host = lab_host("ct-debian")
    config = json.loads(host.check_output("docker info --format '{{ json .RegistryConfig }}'"))
    for cidr in config.get("InsecureRegistryCIDRs") or []:
        assert cidr.startswith("127."), f"unexpected insecure CIDR {cidr}"
    index = (config.get("IndexConfigs") or {}).get(f"{NAME}:5043")
    assert index is None or index["Secure"], index
    res = host.run("docker pull ct-debian:5043/ct/registry:verify")
    assert res.rc != 0
    assert "x509" in res.stderr or "certificate" in res.stderr, res.stderr


def test_skopeo_reads_containers_certs_d():
    host = lab_host("ct-debian")
    res = host.run(
        f"skopeo inspect --creds {USER}:{PASSWORD} "
        f"--cert-dir /etc/containers/certs.d/{NAME}:5043 docker://{NAME}:5043/ct/registry:verify"
    )
    assert res.rc == 0, res.stderr
    assert json.loads(res.stdout)["Name"] == f"{NAME}:5043/ct/registry"


def test_containerd_pulls_with_hosts_toml():
    host = lab_host("ct-debian")
    res = host.run(
        f"ctr --namespace ct-verify images pull --hosts-dir /etc/containerd/certs.d "
        f"--user {USER}:{PASSWORD} {NAME}:5043/ct/registry:verify"
    )
    assert res.rc == 0, res.stdout + res.stderr
    host.run(f"ctr --namespace ct-verify images rm {NAME}:5043/ct/registry:verify")
