"""The mixed Debian fleet of the default scenario (issue 15): the proxy and backend1 on Debian 12
(bookworm), backend2 (bare; the registry role installs trixie's docker.io, test_lab.py) and the
client on Debian 13 (trixie). The release of each host comes from its lab image in molecule.yml
(`dockyard-lab/<kind>` is bookworm, `dockyard-lab/<kind>-trixie` trixie), the same rule the
convention test uses for the platforms the roles' meta/main.yml may claim; here it is checked
against the running hosts. Pushes through the proxy landing on the backends of both releases are
test_site.py's round-robin test (the client is the trixie host)."""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import BACKENDS, CERTS_D_CA, CLIENT, NAME, PROXY, SCENARIO, lab_host, sh

VERSION_ID = {"bookworm": "12", "trixie": "13"}


def _release(image: str) -> str:
    match = re.match(r"^dockyard-lab/(?:systemd|dind)(?:-([a-z]+))?:", image)
    assert match, f"{image} is not a lab test-host image"
    return match.group(1) or "bookworm"


PLATFORMS = {p["name"]: _release(p["image"]) for p in
             yaml.safe_load((SCENARIO / "molecule.yml").read_text())["platforms"] if p["name"] != "s3"}


def test_the_fleet_mixes_both_releases_where_the_roles_run():
    """Both releases among the backends (ca, registry), the proxy on one and the client on the other."""
    assert {PLATFORMS[b] for b in BACKENDS} == {"bookworm", "trixie"}, PLATFORMS
    assert {PLATFORMS[PROXY], PLATFORMS[CLIENT]} == {"bookworm", "trixie"}, PLATFORMS


@pytest.mark.parametrize("name", sorted(PLATFORMS))
def test_each_host_runs_the_debian_release_of_its_image(name):
    host = lab_host(name)
    assert host.system_info.distribution == "debian"
    assert sh(host, ". /etc/os-release && echo $VERSION_ID").strip() == VERSION_ID[PLATFORMS[name]]


def test_nginx_is_built_against_the_proxys_own_openssl():
    """nginx links the distribution's libssl.so.3, and the proxy's libssl package is the OpenSSL it
    was built with (compiled here against libssl-dev, or taken from the build cache, which brings
    the package up to the builder's version): nginx -V reports no other OpenSSL at run time."""
    proxy = lab_host(PROXY)
    version = sh(proxy, "/opt/nginx/sbin/nginx -V 2>&1")
    linked = re.search(r"libssl\.so\.3 => (/\S+)", sh(proxy, "ldd /opt/nginx/sbin/nginx"))
    assert linked, "nginx does not link libssl.so.3"
    owner = sh(proxy, f"dpkg-query --search $(readlink -f {linked.group(1)}) || dpkg-query --search {linked.group(1)}")
    package = owner.split(":")[0]  # libssl3 (bookworm), libssl3t64 (trixie)
    libssl = sh(proxy, f"dpkg-query -W -f '${{Version}}' {package}").split("-")[0]  # 3.0.x bookworm, 3.5.x trixie
    assert re.fullmatch(r"3\.\d+\.\d+", libssl), (package, libssl)
    assert f"built with OpenSSL {libssl} " in version, (package, libssl, version)
    assert "running with" not in version, version


def test_the_trixie_client_negotiates_tls13_with_the_bookworm_proxy():
    """OpenSSL 3.5 (trixie) against nginx on OpenSSL 3.0 (bookworm), verified with the CA client_trust wrote."""
    client = lab_host(CLIENT)
    assert PLATFORMS[CLIENT] != PLATFORMS[PROXY]
    handshake = sh(client, f"openssl s_client -connect {NAME}:443 -servername {NAME} -verify_return_error"
                   f" -CAfile {CERTS_D_CA} -brief </dev/null 2>&1")
    assert "TLSv1.3" in handshake and "Verification: OK" in handshake, handshake
