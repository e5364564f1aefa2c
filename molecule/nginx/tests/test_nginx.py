"""The proxy as clients see it after every side effect: nginx 1.26.3 (+flv) built from the lab's
tarball, TLS on 5043, basic auth, headers, load balancing over both backends, chunked pushes."""

from __future__ import annotations

import json
import re
import socket
import ssl
import uuid
import warnings

import pytest
from conftest import BACKENDS, EPHEMERAL, PROXY, SCENARIO, lab_host

ACCESS_LOG = "/var/log/nginx/access.log"
# log_format main (role default): ... "$request" $status $bytes "$http_referer" "$http_user_agent" "$upstream_addr" ...
LOG_LINE = re.compile(r'"(?P<request>[^"]*)" (?P<status>\d{3}) \d+ "[^"]*" "(?P<agent>[^"]*)" "(?P<upstream>[^"]*)"')


def access_log_entries(proxy, marker: str) -> list:
    """Parsed access log lines whose request or user agent contains ``marker``."""
    text = proxy.check_output(f"grep -F -- {marker} {ACCESS_LOG} || true")
    entries = []
    for line in text.splitlines():
        match = LOG_LINE.search(line)
        assert match, f"access log line not in the expected format: {line}"
        entry = match.groupdict()
        entry["upstreams"] = [u.strip() for u in entry["upstream"].split(",") if u.strip() not in ("", "-")]
        entries.append(entry)
    return entries


# --- the build and the service --------------------------------------------------------------------

def test_nginx_is_the_last_build_from_the_lab_tarball(proxy):
    assert proxy.run("/opt/nginx/sbin/nginx -v").stderr.strip() == "nginx version: nginx/1.26.3"
    out = proxy.run("/opt/nginx/sbin/nginx -V")
    assert out.rc == 0, out.stderr
    assert "nginx version: nginx/1.26.3" in out.stderr
    args = re.search(r"configure arguments: (.*)", out.stderr).group(1).split()
    for flag in ("--prefix=/opt/nginx", "--with-http_ssl_module", "--with-http_stub_status_module",
                 "--with-http_flv_module"):
        assert flag in args, f"{flag} missing from {args}"
    # no build leftovers (the role removes its temporary build directory)
    assert proxy.run("ls -d /var/tmp/nginx-build-* 2>/dev/null").stdout.strip() == ""


def test_without_the_build_cache_the_proxy_compiled_and_published_nothing(proxy):
    # nginx_build_cache: false (inventory/group_vars/registry_proxy.yml): compiled here, no archive
    record = json.loads(proxy.file("/opt/nginx/dockyard-build.json").content_string)
    assert record["source"] == "compiled" and record["built_by"] == PROXY, record
    assert record["archive_sha256"] == "" and record["cache_dir"] == "", record
    assert record["recipe"]["nginx_version"] == "1.26.3" and "--with-http_flv_module" in record["recipe"]["configure_args"], record
    for place in (EPHEMERAL / "inventory" / ".dockyard-nginx-builds", SCENARIO / "inventory" / ".dockyard-nginx-builds"):
        assert not place.exists(), f"{place}: a build was published although nginx_build_cache is false"


def test_service_runs_the_installed_binary(proxy):
    assert proxy.service("nginx").is_running
    assert proxy.service("nginx").is_enabled
    pid = proxy.check_output("systemctl show --property MainPID --value nginx.service")
    assert proxy.check_output(f"readlink /proc/{pid}/exe") == "/opt/nginx/sbin/nginx"
    assert proxy.check_output("cat /run/nginx.pid") == pid
    assert not proxy.file("/run/nginx.pid.oldbin").exists
    assert proxy.run("/opt/nginx/sbin/nginx -t -q -c /opt/nginx/conf/nginx.conf").rc == 0


def test_listens_on_the_tls_port_only(proxy, lab):
    assert proxy.socket(f"tcp://0.0.0.0:{lab['port']}").is_listening
    assert not proxy.socket("tcp://0.0.0.0:443").is_listening
    assert proxy.socket("tcp://127.0.0.1:8080").is_listening  # status server, local only
    assert not proxy.socket("tcp://0.0.0.0:8080").is_listening


# --- TLS ----------------------------------------------------------------------------------------

def _handshake(lab, version):
    """TLS handshake pinned to one protocol version, from the controller; returns the version."""
    ctx = ssl.create_default_context(cafile=lab["ca_path"])
    # Let this client offer old versions at all (OpenSSL 3 forbids them at its default security
    # level), so a refusal is the server's.
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = version
        ctx.maximum_version = version
    with socket.create_connection((lab["proxy_address"], lab["port"]), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname=lab["name"]) as tls:
            return tls.version()


@pytest.mark.parametrize("name", ["TLSv1", "TLSv1_1"])
def test_old_tls_versions_are_refused_by_the_server(lab, name):
    version = getattr(ssl.TLSVersion, name)
    with pytest.raises(ssl.SSLError) as err:
        _handshake(lab, version)
    # the server's protocol_version alert, not a client that could not offer the version
    # (that would be NO_PROTOCOLS_AVAILABLE, raised before anything is sent)
    assert err.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION", err.value


@pytest.mark.parametrize("name,expected", [("TLSv1_2", "TLSv1.2"), ("TLSv1_3", "TLSv1.3")])
def test_current_tls_versions_are_accepted(lab, name, expected):
    assert _handshake(lab, getattr(ssl.TLSVersion, name)) == expected


def test_certificate_names_the_registry(lab):
    ctx = ssl.create_default_context(cafile=lab["ca_path"])
    with socket.create_connection((lab["proxy_address"], lab["port"]), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname=lab["name"]) as tls:
            sans = [v for k, v in tls.getpeercert()["subjectAltName"]]
    assert lab["name"] in sans
    assert lab["proxy_address"] in sans


# --- authentication and headers -----------------------------------------------------------------

def test_v2_without_credentials_is_401_with_registry_headers(client):
    resp = client.request("GET", "/v2/", auth=False)
    assert resp.status == 401
    assert resp.header("Docker-Distribution-Api-Version") == "registry/2.0"
    challenge = resp.header("WWW-Authenticate") or ""
    assert challenge.lower().startswith("basic "), challenge
    assert 'realm="registry"' in challenge


def test_v2_with_a_wrong_password_is_401(client, lab):
    resp = client.request("GET", "/v2/", auth=(lab["users"][0]["name"], "not-the-password"))
    assert resp.status == 401
    assert resp.header("Docker-Distribution-Api-Version") == "registry/2.0"


@pytest.mark.parametrize("index", [0, 1])
def test_v2_with_credentials_is_200(client, lab, index):
    user = lab["users"][index]
    resp = client.request("GET", "/v2/", auth=(user["name"], user["password"]))
    assert resp.status == 200, resp.body[:200]
    assert resp.header("Docker-Distribution-Api-Version") == "registry/2.0"


def test_nginx_own_404_carries_the_api_version(client):
    resp = client.request("GET", "/not-the-registry", auth=False)
    assert resp.status == 404
    assert resp.header("Docker-Distribution-Api-Version") == "registry/2.0"


def test_healthz_needs_no_credentials(client, proxy):
    resp = client.request("GET", "/healthz", auth=False)
    assert resp.status == 200
    assert resp.body.strip() == b"ok"
    # the status server's health path and stub_status, on the proxy itself
    assert proxy.check_output("curl -fsS http://127.0.0.1:8080/healthz") == "ok"
    assert "Active connections" in proxy.check_output("curl -fsS http://127.0.0.1:8080/nginx_status")


# --- load balancing -------------------------------------------------------------------------------

def test_requests_are_spread_over_both_backends(client, proxy, lab):
    marker = f"ngx-lab-lb-{uuid.uuid4().hex}"
    for _ in range(20):
        resp = client.request("GET", "/v2/", headers={"User-Agent": marker})
        assert resp.status == 200
    entries = access_log_entries(proxy, marker)
    assert len(entries) == 20
    seen = {u for e in entries for u in e["upstreams"]}
    wanted = {f"{lab['backend_addresses'][b]}:5000" for b in BACKENDS}
    assert seen == wanted, f"upstreams in the access log: {seen}, backends: {wanted}"


# --- pushes through the proxy -----------------------------------------------------------------

def test_chunked_push_through_the_proxy_on_5043(oci, lab, proxy):
    user = lab["users"][0]
    repository = f"ngx-lab/push-{uuid.uuid4().hex[:12]}"
    result = oci.run_checks(
        f"https://{lab['name']}:{lab['port']}", user["name"], user["password"],
        ca_path=lab["ca_path"], resolve=lab["proxy_address"], repository=repository,
        layers=[1024, 200000], upload="chunked", chunk_size=32768, checks=["auth", "push", "pull"])
    assert result["checks_passed"] == ["auth", "push", "pull"]
    assert result["warnings"] == []  # no Location on another origin (Host $http_host kept :5043)
    assert result["push"]["upload_location"] == "absolute"
    # the upload's PATCH requests (several per blob) landed on both backends: shared storage
    # and http.secret make an upload survive that
    patches = [e for e in access_log_entries(proxy, repository) if e["request"].startswith("PATCH ")]
    assert len(patches) >= 7, patches
    assert {u for e in patches for u in e["upstreams"]} == {f"{a}:5000" for a in lab["backend_addresses"].values()}
    assert all(e["status"] == "202" for e in patches)


def test_upload_location_keeps_the_port(client, lab):
    repository = f"ngx-lab/location-{uuid.uuid4().hex[:12]}"
    resp = client.request("POST", f"/v2/{repository}/blobs/uploads/", body=b"")
    assert resp.status == 202, resp.body[:200]
    location = resp.header("Location")
    assert location.startswith(f"https://{lab['name']}:{lab['port']}/v2/{repository}/blobs/uploads/"), location
    # the session is usable at that URL (the registry answers for the upload it started)
    status = client.request("GET", location)
    assert status.status == 204, status.body[:200]
    assert client.request("DELETE", location).status == 204


def test_backends_share_one_filesystem():
    """registry_filesystem_shared: true is true here: both backends mount one Docker volume, so a
    repository pushed through either is on both (molecule.yml)."""
    listings = []
    for name in BACKENDS:
        host = lab_host(name)
        path = "/var/lib/dockyard/registry/docker/registry/v2/repositories/ngx-lab"
        assert host.file(path).is_directory, f"{name}: {path} missing"
        listings.append(sorted(host.file(path).listdir()))
    assert listings[0] == listings[1] and listings[0], listings
