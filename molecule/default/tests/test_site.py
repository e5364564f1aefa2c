"""The whole site, end to end, as operators and their clients see it.

Real clients on the `client` host (docker CLI and skopeo, trusting the private CA through
certs.d only, logged in by the client_trust role) push and pull through the nginx load balancer
to two Distribution backends that share one bucket on the lab's Ceph RADOS Gateway.
"""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest
from conftest import lab_host, sh

NAME = "registry.dockyard.test"
USERS = {"ci": "lab-ci-password-0123", "reader": "lab-reader-password-4567"}
ACCESS_LOG = "/var/log/nginx/access.log"
ERROR_LOG = "/var/log/nginx/error.log"
BIG_LAYER_MIB = 64


@pytest.fixture(scope="module")
def client():
    return lab_host("client")


@pytest.fixture(scope="module")
def proxy():
    return lab_host("proxy")


def backend_address(name: str) -> str:
    return lab_host(name).check_output("hostname -i").split()[0]


def build_image(client, ref: str, big_mib: int = 0, tag_note: str = "") -> None:
    """A multi-layer image built FROM scratch on the client (nothing is pulled)."""
    ctx = f"/root/build-{uuid.uuid4().hex[:8]}"
    big = f"head -c {big_mib}M /dev/urandom > {ctx}/big.bin &&" if big_mib else f"touch {ctx}/big.bin &&"
    sh(client, f"""
        set -e; mkdir -p {ctx} && cd {ctx}
        {big}
        head -c 1M /dev/urandom > mid.bin && echo '{tag_note} {uuid.uuid4()}' > small.txt
        printf 'FROM scratch\\nCOPY big.bin /big.bin\\nCOPY mid.bin /mid.bin\\nCOPY small.txt /small.txt\\n' > Dockerfile
        docker build -q -t {ref} . >/dev/null
        cd / && rm -rf {ctx}
    """)


def repo_digest(client, ref: str) -> str:
    out = sh(client, f"docker image inspect --format '{{{{ json .RepoDigests }}}}' {ref}")
    digests = json.loads(out)
    assert digests, f"{ref} has no repo digest"
    return digests[0].split("@", 1)[1]


def access_log_tail(proxy, since_bytes: int) -> list[str]:
    return proxy.run(f"tail --bytes=+{since_bytes + 1} {ACCESS_LOG}").stdout.splitlines()


def log_size(proxy, path: str = ACCESS_LOG) -> int:
    return int(proxy.check_output(f"stat -c %s {path}"))


def upstreams(lines: list[str]) -> list[str]:
    """The backend address that finally answered each proxied request. Requests nginx sends to
    loopback (token mode: the token service's /token and auth_request checks) are not backends."""
    out = []
    for line in lines:
        found = re.findall(r'"((?:[\d.]+:\d+)(?:, [\d.]+:\d+)*)"', line)
        if found:
            address = found[-1].split(", ")[-1].rsplit(":", 1)[0]
            if not address.startswith("127."):
                out.append(address)
    return out


def test_unauthenticated_request_is_refused_with_the_api_version_header(client):
    # the CA is trusted through certs.d (the system store is left alone by default)
    out = client.check_output(f"curl -s --cacert /etc/docker/certs.d/{NAME}/ca.crt -o /dev/null -D - https://{NAME}/v2/")
    assert re.search(r"^HTTP/\S+ 401", out, re.M)
    assert re.search(r"^docker-distribution-api-version: registry/2.0", out, re.M | re.I)
    # token mode (group_vars/all.yml): the challenge sends clients to the token service
    assert re.search(rf'^www-authenticate: Bearer realm="https://{re.escape(NAME)}/token",service="{re.escape(NAME)}"',
                     out, re.M | re.I), out


def test_client_trusts_the_registry_through_the_ca_only(client):
    daemon = client.run("cat /etc/docker/daemon.json 2>/dev/null").stdout
    assert "insecure" not in daemon
    info = json.loads(client.check_output("docker info --format '{{ json .RegistryConfig }}'"))
    insecure = [c for c in info.get("InsecureRegistryCIDRs") or [] if not c.startswith("127.")]
    assert insecure == [], info
    assert client.file(f"/etc/docker/certs.d/{NAME}/ca.crt").exists
    assert client.file(f"/etc/containers/certs.d/{NAME}/ca.crt").exists
    # the name resolves to the proxy through the /etc/hosts entry the role wrote
    assert client.run(f"getent hosts {NAME}").stdout.split()[0] == lab_host("proxy").check_output("hostname -i").split()[0]


def test_docker_push_and_pull_of_a_multilayer_image_with_a_big_layer(client):
    """Push (one 64 MiB layer: the S3 multipart path), delete locally, pull, compare digests."""
    ref = f"{NAME}/dockyard/site:{uuid.uuid4().hex[:10]}"
    build_image(client, ref, big_mib=BIG_LAYER_MIB, tag_note="multilayer")
    layers = json.loads(sh(client, f"docker image inspect --format '{{{{ json .RootFS.Layers }}}}' {ref}"))
    assert len(layers) == 3
    sh(client, f"docker push {ref} >/dev/null")
    pushed = repo_digest(client, ref)
    sh(client, f"docker image rm {ref} >/dev/null")
    assert client.run(f"docker image inspect {ref}").rc != 0
    sh(client, f"docker pull {ref} >/dev/null")
    assert repo_digest(client, ref) == pushed
    assert json.loads(sh(client, f"docker image inspect --format '{{{{ json .RootFS.Layers }}}}' {ref}")) == layers
    sh(client, f"docker image rm {ref} >/dev/null")


def test_skopeo_copies_and_inspects_through_the_proxy(client):
    src = f"{NAME}/dockyard/skopeo-src:{uuid.uuid4().hex[:8]}"
    dst = src.replace("skopeo-src", "skopeo-dst")
    build_image(client, src, tag_note="skopeo")
    sh(client, f"docker push {src} >/dev/null")
    digest = repo_digest(client, src)
    creds = f"ci:{USERS['ci']}"
    # registry -> registry copy through the proxy, TLS verified against /etc/containers/certs.d
    sh(client, f"skopeo copy --quiet --src-creds {creds} --dest-creds {creds} docker://{src} docker://{dst}")
    inspected = json.loads(sh(client, f"skopeo inspect --creds {creds} docker://{dst}"))
    assert inspected["Digest"] == digest
    bad = client.run(f"skopeo inspect --creds ci:wrong-password docker://{dst}")
    assert bad.rc != 0 and ("401" in bad.stderr or "unauthorized" in bad.stderr.lower())
    sh(client, f"docker image rm {src} >/dev/null")


def test_twenty_pushes_through_round_robin_all_succeed(client, proxy):
    """No ip_hash: the requests of each push land on both backends; shared secret + storage make it work."""
    before = log_size(proxy)
    refs = [f"{NAME}/dockyard/rr:{i}-{uuid.uuid4().hex[:6]}" for i in range(20)]
    failures = []
    for ref in refs:
        build_image(client, ref, tag_note=ref)
        res = client.run(f"timeout 300 docker push {ref}")
        if res.rc != 0:
            failures.append((ref, res.stderr[-500:]))
        client.run(f"docker image rm {ref}")
    assert failures == [], f"{len(failures)}/20 pushes failed: {failures[:3]}"
    served = upstreams(access_log_tail(proxy, before))
    b1, b2 = backend_address("backend1"), backend_address("backend2")
    assert served.count(b1) > 0 and served.count(b2) > 0, f"requests were not spread: {set(served)}"
    patches = [line for line in access_log_tail(proxy, before) if '"PATCH /v2/' in line]
    assert patches, "pushes made no chunked uploads"


@pytest.fixture
def small_image(client):
    ref = f"{NAME}/dockyard/failover:{uuid.uuid4().hex[:8]}"
    build_image(client, ref, tag_note="failover")
    sh(client, f"docker push {ref} >/dev/null")
    sh(client, f"docker image rm {ref} >/dev/null")
    return ref


def pull_n(client, ref: str, n: int) -> list:
    failures = []
    for _ in range(n):
        res = client.run(f"timeout 120 docker pull -q {ref}")
        if res.rc != 0:
            failures.append(res.stderr[-300:])
        client.run(f"docker image rm {ref}")
    return failures


def test_failover_when_backend1_stops_and_recovery(client, proxy, small_image):
    backend1 = lab_host("backend1")
    b1, b2 = backend_address("backend1"), backend_address("backend2")
    before, before_err = log_size(proxy), log_size(proxy, ERROR_LOG)
    sh(backend1, "docker stop registry >/dev/null")
    try:
        failures = pull_n(client, small_image, 20)
        assert failures == [], f"{len(failures)}/20 pulls failed with backend1 down: {failures[:3]}"
        served = upstreams(access_log_tail(proxy, before))
        assert served and set(served) == {b2}, f"served by {set(served)} while backend1 was down"
        errors = proxy.run(f"tail --bytes=+{before_err + 1} {ERROR_LOG}").stdout
        assert re.search(rf"(connect\(\) failed|upstream).*{re.escape(b1)}:5000", errors), \
            f"the proxy did not record backend1 as failed:\n{errors[-1500:]}"
    finally:
        sh(backend1, "docker start registry >/dev/null")
    sh(backend1, "for i in $(seq 60); do [ \"$(docker inspect -f '{{.State.Health.Status}}' registry)\" = healthy ] && exit 0; sleep 1; done; exit 1")
    time.sleep(11)  # fail_timeout (10s): nginx retries backend1 after it
    before = log_size(proxy)
    failures = pull_n(client, small_image, 10)
    assert failures == []
    served = upstreams(access_log_tail(proxy, before))
    assert b1 in served and b2 in served, f"traffic did not spread again: {served}"


def test_wrong_password_cannot_pull(client):
    res = client.run(f"docker --config /root/no-login pull {NAME}/dockyard/site:anything")
    assert res.rc != 0
    # basic mode: no credentials at all; token mode (this scenario): the anonymous token grants
    # nothing outside dockyard_registry_access.anonymous_pull, so the registry denies the pull.
    assert ("no basic auth credentials" in res.stderr or "unauthorized" in res.stderr.lower()
            or "requested access to the resource is denied" in res.stderr)
