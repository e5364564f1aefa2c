"""The lab's object storage image (dockyard-lab/s3): a one-node Ceph RADOS Gateway that boots with
the lab's S3 user and bucket (lab/images/s3/lab.env).

From this host, through the container's address on the lab network, with real SigV4-signed
requests (lab/images/s3/s3lite.py, stdlib only): ListBuckets, PUT/GET, a multipart upload, a
virtual-hosted request; then Distribution's s3 driver (the lab's registry image) on top of it:
monolithic and chunked blob uploads, a manifest, read back through the registry.

Boot-to-ready time and idle memory are printed (run with ``-s`` to see them) and recorded as
test properties.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests
from conftest import image_present  # puts lab/ on sys.path
from dockyard_lab.s3 import load_s3lite  # noqa: E402

from ansible_collections.dockyard.registry.tests.lab_hosts import wait_for_registry

pytestmark = [pytest.mark.lab, pytest.mark.slow]

S3_IMAGE = os.environ.get("DOCKYARD_LAB_S3_IMAGE", "dockyard-lab/s3:latest")
SUFFIX = uuid.uuid4().hex[:6]
S3_HOST = f"dockyard-s3test-{SUFFIX}"
REGISTRY = f"dockyard-s3test-{SUFFIX}-registry"
MIB = 1024 * 1024


s3lite = load_s3lite()  # lab/images/s3/s3lite.py, the lab's one S3 client


def container_ip(labctl, name: str) -> str:
    fmt = "{{ json .NetworkSettings.Networks }}"
    networks = json.loads(labctl.docker("inspect", "--format", fmt, name).stdout)
    return networks[labctl.NETWORK]["IPAddress"]


def container_memory(labctl, name: str) -> dict:
    """Memory of a container: what `docker stats` shows, and from the container's cgroup (docker
    20.10 on this cgroup v1 host reports 0B for every container)."""
    out = labctl.docker("stats", "--no-stream", "--format", "{{ .MemUsage }}", name, check=False).stdout.strip()
    result = {"docker_stats": out}
    cid = labctl.docker("inspect", "--format", "{{ .Id }}", name).stdout.strip()
    for path in (f"/sys/fs/cgroup/memory/docker/{cid}", f"/sys/fs/cgroup/system.slice/docker-{cid}.scope",
                 f"/sys/fs/cgroup/docker/{cid}"):
        stat_file = Path(path) / "memory.stat"
        if not stat_file.exists():
            continue
        stat = dict(line.split() for line in stat_file.read_text().splitlines())
        stat = {k: int(v) for k, v in stat.items()}
        if (Path(path) / "memory.usage_in_bytes").exists():     # cgroup v1
            usage = int((Path(path) / "memory.usage_in_bytes").read_text())
            result["anon_mib"] = stat["total_rss"] / MIB
            result["usage_minus_inactive_file_mib"] = (usage - stat.get("total_inactive_file", 0)) / MIB
        else:                                                       # cgroup v2
            usage = int((Path(path) / "memory.current").read_text())
            result["anon_mib"] = stat["anon"] / MIB
            result["usage_minus_inactive_file_mib"] = (usage - stat.get("inactive_file", 0)) / MIB
        break
    return result


def systemd_prop(labctl, host: str, prop: str, unit: str | None = None) -> str:
    args = ["exec", host, "systemctl", "show", "--value", "-p", prop] + ([unit] if unit else [])
    return labctl.docker(*args).stdout.strip()


def _unit_active(labctl, host: str, unit: str) -> bool:
    return labctl.docker("exec", host, "systemctl", "is-active", unit, check=False).stdout.strip() == "active"


@pytest.fixture(scope="module")
def s3(labctl, record_testsuite_property):
    if not image_present(S3_IMAGE):
        pytest.skip(f"{S3_IMAGE} not built (lab/labctl.py build)")
    env = labctl.s3_facts()
    start = time.monotonic()
    try:
        labctl.create_host({"name": S3_HOST, "image": S3_IMAGE}, scenario="s3-image-test")
        labctl.wait_running([S3_HOST], timeout=180)
        deadline = time.monotonic() + 120
        while not _unit_active(labctl, S3_HOST, "dockyard-s3"):
            if time.monotonic() > deadline:
                journal = labctl.docker("exec", S3_HOST, "journalctl", "-b", "--no-pager", "-n", "80",
                                        "-u", "dockyard-s3*", check=False).stdout
                pytest.fail(f"dockyard-s3 did not become active:\n{journal}")
            time.sleep(0.5)
        wall = time.monotonic() - start
        # In the container: from systemd's start (PID 1) to the bucket having taken a PUT.
        boot_us = int(systemd_prop(labctl, S3_HOST, "ActiveEnterTimestampMonotonic", "dockyard-s3")) - int(
            systemd_prop(labctl, S3_HOST, "UserspaceTimestampMonotonic"))
        state = labctl.docker("exec", S3_HOST, "systemctl", "is-system-running", check=False).stdout.strip()
        assert state in ("running", "degraded"), state
        failed = labctl.docker("exec", S3_HOST, "systemctl", "--failed", "--plain", "--no-legend", check=False).stdout
        assert failed.strip() == "", f"failed units in the s3 host:\n{failed}"
        time.sleep(5)   # idle
        memory = container_memory(labctl, S3_HOST)
        print(f"\n[s3] boot to bucket ready: {boot_us / 1e6:.2f}s in the container, "
              f"{wall:.2f}s from docker run; idle memory: {memory}")
        record_testsuite_property("s3_boot_to_ready_s", round(boot_us / 1e6, 2))
        record_testsuite_property("s3_idle_memory", json.dumps(memory))
        endpoint = f"http://{container_ip(labctl, S3_HOST)}:{env['S3_PORT']}"
        yield {"env": env, "endpoint": endpoint, "client": s3lite.S3Client.from_env(env, endpoint)}
    finally:
        labctl.docker("rm", "--force", "--volumes", REGISTRY, check=False)
        labctl.destroy_host(S3_HOST)
        labctl.remove_network()


@pytest.mark.parametrize("path, query, headers, signature", [
    ("/test.txt", {}, {"Range": "bytes=0-9"}, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
    ("/", {"max-keys": "2", "prefix": "J"}, {}, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
])
def test_sigv4_signer_matches_aws_examples(path, query, headers, signature):
    """The signer reproduces the signatures of the examples in AWS's S3 SigV4 documentation."""
    signed = s3lite.sigv4_headers(
        "GET", "examplebucket.s3.amazonaws.com", path, query, headers,
        hashlib.sha256(b"").hexdigest(), "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "us-east-1", now=datetime.datetime(2013, 5, 24, tzinfo=datetime.timezone.utc))
    assert signed["authorization"].endswith(f"Signature={signature}")


def test_lab_env_has_the_expected_keys(s3):
    assert set(s3["env"]) == {"S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_BUCKET", "S3_PORT", "S3_REGION",
                              "S3_RGW_DNS_NAME"}
    assert s3["env"]["S3_BUCKET"] == "registry"
    assert s3["env"]["S3_PORT"] == "7480"


def test_list_buckets_shows_the_lab_bucket(s3):
    assert s3["env"]["S3_BUCKET"] in s3["client"].list_buckets()


def test_bad_signature_is_rejected(s3):
    env = dict(s3["env"], S3_SECRET_KEY="wrong" + s3["env"]["S3_SECRET_KEY"][5:])
    client = s3lite.S3Client.from_env(env, s3["endpoint"])
    with pytest.raises(s3lite.S3Error) as err:
        client.list_buckets()
    assert err.value.response.status == 403


def test_put_and_get_object(s3):
    client, bucket = s3["client"], s3["env"]["S3_BUCKET"]
    data = os.urandom(256 * 1024) + b"dockyard"
    key = f"tests/put-get/{SUFFIX} object.bin"
    etag = client.put_object(bucket, key, data)
    assert etag == hashlib.md5(data).hexdigest()  # noqa: S324 (S3 ETag of a single-part object)
    assert client.get_object(bucket, key) == data
    assert key in client.list_objects(bucket, prefix="tests/put-get/")
    client.delete_object(bucket, key)


def test_multipart_upload(s3):
    client, bucket = s3["client"], s3["env"]["S3_BUCKET"]
    key = f"tests/multipart/{SUFFIX}.bin"
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(MIB + 7)]
    upload_id = client.create_multipart_upload(bucket, key)
    try:
        etags = [client.upload_part(bucket, key, upload_id, n, part) for n, part in enumerate(parts, start=1)]
        client.complete_multipart_upload(bucket, key, upload_id, etags)
    except Exception:
        client.abort_multipart_upload(bucket, key, upload_id)
        raise
    got = client.get_object(bucket, key)
    assert len(got) == sum(map(len, parts))
    assert hashlib.sha256(got).digest() == hashlib.sha256(b"".join(parts)).digest()
    client.delete_object(bucket, key)


def test_virtual_hosted_request(s3):
    env = s3["env"]
    key = f"tests/vhost/{SUFFIX}.txt"
    s3["client"].put_object(env["S3_BUCKET"], key, b"vhost")
    vhost = s3lite.S3Client.from_env(env, s3["endpoint"],
                                     host_header=f"{env['S3_BUCKET']}.{env['S3_RGW_DNS_NAME']}:{env['S3_PORT']}")
    assert vhost.request("GET", f"/{key}").body == b"vhost"
    s3["client"].delete_object(env["S3_BUCKET"], key)


# ---------------------------------------------------------------------------------------------
# Distribution's s3 driver (the lab's registry image) on top of the gateway


@pytest.fixture(scope="module")
def registry(labctl, s3):
    image = labctl.registry_image_info()["image"]
    if not image_present(image):
        pytest.skip(f"{image} not built (lab/labctl.py build)")
    env = s3["env"]
    config = f"""\
version: 0.1
log:
  level: info
storage:
  s3:
    region: {env['S3_REGION']}
    regionendpoint: http://{S3_HOST}:{env['S3_PORT']}
    bucket: {env['S3_BUCKET']}
    accesskey: {env['S3_ACCESS_KEY']}
    secretkey: {env['S3_SECRET_KEY']}
    secure: false
    v4auth: true
    chunksize: {5 * MIB}
    multipartcopychunksize: {5 * MIB}
    multipartcopythresholdsize: {5 * MIB}
    rootdirectory: /registry-test
  redirect:
    disable: true
  delete:
    enabled: true
http:
  addr: :5000
"""
    with tempfile.TemporaryDirectory(prefix="dockyard-s3test-") as tmp:
        cfg = Path(tmp) / "config.yml"
        cfg.write_text(config)
        cfg.chmod(0o644)
        labctl.docker("run", "-d", "--network", labctl.NETWORK, "--name", REGISTRY,
                      "--label", f"{labctl.LABEL}=1", "--label", f"{labctl.LABEL}.scenario=s3-image-test",
                      "-v", f"{cfg}:/etc/docker/registry/config.yml:ro", image)
        try:
            base = f"http://{container_ip(labctl, REGISTRY)}:5000"

            def failure():
                logs = subprocess.run(["docker", "logs", REGISTRY], capture_output=True, text=True, check=False)
                return f"registry did not answer /v2/:\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}"

            wait_for_registry(base, failure, timeout=60, step=0.5)
            yield base
        finally:
            labctl.docker("rm", "--force", "--volumes", REGISTRY, check=False)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _location(base: str, resp: requests.Response) -> str:
    return requests.compat.urljoin(base + "/", resp.headers["Location"])


def test_registry_blobs_and_manifest_through_s3(s3, registry):
    repo = f"lab/s3test-{SUFFIX}"
    # Monolithic upload of the config blob: POST then PUT with the whole body.
    config_blob = json.dumps({"architecture": "amd64", "os": "linux",
                              "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    resp = requests.post(f"{registry}/v2/{repo}/blobs/uploads/", timeout=30)
    assert resp.status_code == 202, resp.text
    resp = requests.put(_location(registry, resp), params={"digest": _digest(config_blob)}, data=config_blob,
                        headers={"Content-Type": "application/octet-stream"}, timeout=60)
    assert resp.status_code == 201, resp.text

    # Chunked upload of a 12 MiB layer: two PATCHes of 6 MiB each, then the closing PUT.
    chunks = [os.urandom(6 * MIB), os.urandom(6 * MIB)]
    layer = b"".join(chunks)
    resp = requests.post(f"{registry}/v2/{repo}/blobs/uploads/", timeout=30)
    assert resp.status_code == 202, resp.text
    offset = 0
    for chunk in chunks:
        resp = requests.patch(_location(registry, resp), data=chunk, timeout=120, headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{offset}-{offset + len(chunk) - 1}"})
        assert resp.status_code == 202, resp.text
        offset += len(chunk)
        assert resp.headers["Range"] == f"0-{offset - 1}"
    resp = requests.put(_location(registry, resp), params={"digest": _digest(layer)}, timeout=120)
    assert resp.status_code == 201, resp.text

    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": len(config_blob), "digest": _digest(config_blob)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(layer), "digest": _digest(layer)}],
    }, indent=3).encode()
    mtype = "application/vnd.docker.distribution.manifest.v2+json"
    resp = requests.put(f"{registry}/v2/{repo}/manifests/v1", data=manifest,
                        headers={"Content-Type": mtype}, timeout=60)
    assert resp.status_code == 201, resp.text
    assert resp.headers["Docker-Content-Digest"] == _digest(manifest)

    # Read everything back through the registry (redirects disabled: the bytes come via it).
    resp = requests.get(f"{registry}/v2/{repo}/manifests/v1", headers={"Accept": mtype}, timeout=60)
    assert resp.status_code == 200 and resp.content == manifest
    resp = requests.get(f"{registry}/v2/{repo}/blobs/{_digest(config_blob)}", timeout=60)
    assert resp.status_code == 200 and resp.content == config_blob
    resp = requests.get(f"{registry}/v2/{repo}/blobs/{_digest(layer)}", timeout=120)
    assert resp.status_code == 200 and hashlib.sha256(resp.content).digest() == hashlib.sha256(layer).digest()
    assert requests.get(f"{registry}/v2/{repo}/tags/list", timeout=30).json()["tags"] == ["v1"]

    # ... and the data really is in the bucket.
    client, bucket = s3["client"], s3["env"]["S3_BUCKET"]
    keys = client.list_objects(bucket, prefix="registry-test/docker/registry/v2/blobs/sha256/")
    assert f"registry-test/docker/registry/v2/blobs/sha256/{_digest(layer)[7:9]}/{_digest(layer)[7:]}/data" in keys

    # The driver took the S3 paths that matter: multipart uploads resumed across PATCHes (listing
    # uploads and parts), UploadPartCopy (moving a blob over multipartcopythresholdsize) and
    # DeleteObjects (dropping the upload directory). RGW logs every request line.
    rgw_log = subprocess.run(["docker", "exec", S3_HOST, "cat", "/var/log/ceph/ceph-client.rgw.s3.log"],
                             capture_output=True, text=True, check=True).stdout
    requests_seen = [line.split('"')[1] for line in rgw_log.splitlines() if "beast:" in line and '"' in line]
    registry_requests = [r for r in requests_seen if "registry-test" in r]
    assert any(r.startswith("GET ") and "uploads" in r for r in registry_requests), "no ListMultipartUploads"
    assert any(r.startswith("POST ") and "uploads" in r for r in registry_requests), "no CreateMultipartUpload"
    assert any(r.startswith("PUT ") and "partNumber=" in r for r in registry_requests), "no UploadPart(Copy)"
    assert any(r.startswith("POST ") and "?delete" in r for r in requests_seen), "no DeleteObjects"
