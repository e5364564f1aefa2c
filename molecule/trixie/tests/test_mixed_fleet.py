"""The site on a mixed fleet: Debian 13 (trixie) proxy, client and bare backend next to a Debian 12
(bookworm) backend. What differs between the releases is checked where it shows: the nginx built
against trixie's OpenSSL, trixie's Docker installed by the registry role, and real clients pushing
through the proxy to backends of both releases that share one bucket."""

from __future__ import annotations

import re
import shlex
import uuid

import pytest
import testinfra

NAME = "registry.dockyard.test"
RELEASES = {"tx-proxy": "13", "tx-client": "13", "tx-b2": "13", "tx-b1": "12"}


def host(name: str):
    return testinfra.get_host(f"docker://{name}")


def sh(target, cmd: str, timeout: int = 300) -> str:
    res = target.run(f"timeout {timeout} bash -c {shlex.quote(cmd)}")
    assert res.rc == 0, f"{cmd!r} failed ({res.rc}):\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}"
    return res.stdout


@pytest.mark.parametrize("name, release", sorted(RELEASES.items()))
def test_each_host_runs_the_debian_release_of_the_fleet_plan(name, release):
    assert host(name).system_info.distribution == "debian"
    assert sh(host(name), ". /etc/os-release && echo $VERSION_ID").strip() == release


def test_nginx_on_trixie_is_built_against_its_openssl_and_serves_tls13():
    proxy = host("tx-proxy")
    version = sh(proxy, "/opt/nginx/sbin/nginx -V 2>&1")
    libssl = sh(proxy, "dpkg-query -W -f '${Version}' libssl-dev").split("-")[0]  # 3.5.x on trixie
    assert libssl.startswith("3.5.") and f"built with OpenSSL {libssl} " in version, (libssl, version)
    assert "libssl.so.3 => /" in sh(proxy, "ldd /opt/nginx/sbin/nginx")
    assert proxy.service("nginx").is_running
    handshake = sh(host("tx-client"), f"openssl s_client -connect {NAME}:443 -servername {NAME} -verify_return_error"
                   f" -CAfile /etc/docker/certs.d/{NAME}/ca.crt -brief </dev/null 2>&1")
    assert "TLSv1.3" in handshake and "Verification: OK" in handshake, handshake


def test_the_registry_role_installed_trixies_docker_on_the_bare_backend():
    b2 = host("tx-b2")
    assert b2.package("docker.io").is_installed
    assert sh(b2, "docker inspect -f '{{ .State.Health.Status }}' registry").strip() == "healthy"


def test_pushes_from_the_trixie_client_land_on_both_releases_backends():
    client, proxy = host("tx-client"), host("tx-proxy")
    before = int(sh(proxy, "stat -c %s /var/log/nginx/access.log"))
    for n in range(6):
        ref = f"{NAME}/trixie/mixed:{n}"
        sh(client, f"""set -e; d=$(mktemp -d); cd $d; echo {uuid.uuid4()} > f
            printf 'FROM scratch\\nCOPY f /f\\n' > Dockerfile; docker build -q -t {ref} . >/dev/null
            docker push -q {ref} >/dev/null; docker image rm {ref} >/dev/null
            docker pull -q {ref} >/dev/null; docker image rm {ref} >/dev/null; rm -rf $d""")
    lines = sh(proxy, f"tail --bytes=+{before + 1} /var/log/nginx/access.log").splitlines()
    served = {m.rsplit(":", 1)[0] for line in lines for m in re.findall(r'"([\d.]+:\d+)"', line)}
    backends = {sh(host(b), "hostname -i").split()[0] for b in ("tx-b1", "tx-b2")}
    assert backends <= served, f"requests reached {served}, backends are {backends}"
