"""The registry API of the backends: shared http.secret and bucket, redirects, filesystem variant.

Every request goes straight to the backend chosen by the test (no proxy), so the tests decide
which backend answers each step of an upload, the worst case a load balancer can produce.
"""

from __future__ import annotations

import uuid

import pytest
import requests
from conftest import (IMAGE, TIMEOUT, build_image, finish_upload, lab_host, location, patch_chunk,
                      pull_image, push_image, start_upload, wait_for_registry)


def test_every_backend_speaks_the_v2_api(url):
    for name, base in url.items():
        resp = requests.get(f"{base}/v2/", timeout=TIMEOUT)
        assert resp.status_code == 200, (name, resp.status_code, resp.text)
        assert resp.headers["Docker-Distribution-Api-Version"] == "registry/2.0"


def test_upload_alternating_between_backends_succeeds(url, seed):
    """POST on b1, PATCH on b2, PATCH on b1, PUT on b2: each backend accepts the upload state
    (the `_state` token, signed with http.secret) that the other one issued."""
    b1, b2 = url["reg-b1"], url["reg-b2"]
    layer = build_image(seed, layers=(98304,)).layers[0]
    data = layer.read()
    half = len(data) // 2
    repo = "lab/alternate"

    upload = start_upload(b1, repo)                                   # POST  on b1
    resp = patch_chunk(b2, upload, data[:half], 0)                    # PATCH on b2
    assert resp.status_code == 202, (resp.status_code, resp.text)
    assert resp.headers["Range"] == f"0-{half - 1}"
    uuid_header = resp.headers["Docker-Upload-UUID"]
    resp = patch_chunk(b1, location(resp), data[half:], half)         # PATCH on b1
    assert resp.status_code == 202, (resp.status_code, resp.text)
    assert resp.headers["Range"] == f"0-{len(data) - 1}"
    assert resp.headers["Docker-Upload-UUID"] == uuid_header
    resp = finish_upload(b2, location(resp), layer.digest)            # PUT   on b2
    assert resp.status_code == 201, (resp.status_code, resp.text)
    assert resp.headers["Docker-Content-Digest"] == layer.digest

    # The blob is in the shared bucket: both backends serve it (through the redirect to S3).
    for base in (b1, b2):
        blob = requests.get(f"{base}/v2/{repo}/blobs/{layer.digest}", timeout=TIMEOUT)
        assert blob.status_code == 200, (base, blob.status_code)
        assert blob.content == data


@pytest.mark.parametrize("push_to,pull_from", [("reg-b1", "reg-b2"), ("reg-b2", "reg-b1")])
def test_image_pushed_through_one_backend_pulls_through_the_other(url, seed, push_to, pull_from):
    image = build_image(seed)
    repo, tag = "lab/shared", f"{push_to}-{uuid.uuid4().hex[:8]}"
    push_image(url[push_to], repo, tag, image)
    pull_image(url[pull_from], repo, tag, image)
    tags = requests.get(f"{url[pull_from]}/v2/{repo}/tags/list", timeout=TIMEOUT).json()["tags"]
    assert tag in tags


def test_blob_get_redirects_to_the_bucket(url, address, s3_env, seed):
    """Redirects on (registry_redirect_disable: false): a blob GET answers 307 with a pre-signed
    URL on the S3 endpoint; that URL serves the blob, the same URL unsigned is refused."""
    image = build_image(seed, layers=(4096,))
    repo, tag = "lab/redirect", "v1"
    push_image(url["reg-b1"], repo, tag, image)
    layer = image.layers[0]

    resp = requests.get(f"{url['reg-b2']}/v2/{repo}/blobs/{layer.digest}", allow_redirects=False, timeout=TIMEOUT)
    assert resp.status_code == 307, (resp.status_code, resp.text[:300])
    target = resp.headers["Location"]
    bucket_url = f"http://{address['reg-s3']}:{s3_env['S3_PORT']}/{s3_env['S3_BUCKET']}/"
    assert target.startswith(bucket_url), target.split("?")[0]
    assert "X-Amz-Signature=" in target

    blob = requests.get(target, timeout=TIMEOUT)
    assert blob.status_code == 200
    assert blob.content == layer.read()
    unsigned = requests.get(target.split("?")[0], timeout=TIMEOUT)
    assert unsigned.status_code == 403

    # A pull that follows the redirects gets every blob from the bucket.
    histories = pull_image(url["reg-b2"], repo, tag, image)
    assert all(h and h[0].status_code == 307 for h in histories)


# ---------------------------------------------------------------------------------------------
# Negative control: a registry on the same bucket with ANOTHER http.secret


NEGCTL = "reg-lab-other-secret"
NEGCTL_PORT = 5002


@pytest.fixture()
def other_secret_registry(address):
    """A third registry on reg-b2's Docker: the role's config.yml (same bucket), another http.secret."""
    host = lab_host("reg-b2")
    host.run(f"docker rm -f {NEGCTL}")
    other = "other-secret-" + uuid.uuid4().hex  # test-only value
    host.check_output(
        f"docker run -d --name {NEGCTL} --read-only --tmpfs /tmp "
        f"-p {address['reg-b2']}:{NEGCTL_PORT}:5000 "
        f"-v /etc/dockyard/registry:/etc/docker/registry:ro -e REGISTRY_HTTP_SECRET={other} {IMAGE}"
    )
    base = f"http://{address['reg-b2']}:{NEGCTL_PORT}"

    def failure():
        logs = host.run(f"docker logs --tail 30 {NEGCTL}")
        return f"the other-secret registry did not start: {logs.stdout}{logs.stderr}"

    wait_for_registry(base, failure, timeout=60, step=1)
    yield base
    host.run(f"docker rm -f {NEGCTL}")


def test_other_http_secret_breaks_the_alternated_upload(url, other_secret_registry, seed):
    """Without the shared secret the same alternation fails: the upload state issued by b1 is
    rejected by a registry on the same bucket whose http.secret differs."""
    other = other_secret_registry
    repo = "lab/negative"
    image = build_image(seed, layers=(8192, 8192))
    control, crossed = image.layers

    # Control: that registry completes an upload on its own (config and bucket work there).
    resp = patch_chunk(other, start_upload(other, repo), control.read(), 0)
    assert resp.status_code == 202, (resp.status_code, resp.text)
    resp = finish_upload(other, location(resp), control.digest)
    assert resp.status_code == 201, (resp.status_code, resp.text)

    # The alternation: POST on b1, PATCH on the other-secret registry.
    upload = start_upload(url["reg-b1"], repo)
    resp = patch_chunk(other, upload, crossed.read(), 0)
    assert resp.status_code in (400, 404), (resp.status_code, resp.text)
    codes = {err["code"] for err in resp.json()["errors"]}
    assert codes & {"BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN"}, resp.text
    # ... while the backend with the shared secret still takes that very upload.
    resp = patch_chunk(url["reg-b2"], upload, crossed.read(), 0)
    assert resp.status_code == 202, (resp.status_code, resp.text)


# ---------------------------------------------------------------------------------------------
# Filesystem variant


def test_filesystem_backend_pushes_and_pulls(url, seed):
    image = build_image(seed)
    repo, tag = "lab/filesystem", "v1"
    push_image(url["reg-fs"], repo, tag, image)
    histories = pull_image(url["reg-fs"], repo, tag, image)
    assert all(not h for h in histories), "the filesystem driver serves blobs itself (no redirect)"

    # The blobs are in the host directory mounted as the storage root ...
    host = lab_host("reg-fs")
    for blob in image.blobs:
        hexdigest = blob.digest.split(":", 1)[1]
        data = host.file(f"/var/lib/dockyard/registry/docker/registry/v2/blobs/sha256/{hexdigest[:2]}/{hexdigest}/data")
        assert data.is_file and data.size == blob.size
    # ... and not in the bucket the s3 backends share.
    resp = requests.get(f"{url['reg-b1']}/v2/{repo}/manifests/{tag}", timeout=TIMEOUT,
                        headers={"Accept": image.media_type})
    assert resp.status_code == 404


def test_chunked_upload_on_the_filesystem_backend(url, seed):
    layer = build_image(seed, layers=(70000,)).layers[0]
    data = layer.read()
    base = url["reg-fs"]
    upload = start_upload(base, "lab/filesystem")
    offset = 0
    for piece in (data[:32768], data[32768:65536], data[65536:]):
        resp = patch_chunk(base, upload, piece, offset)
        assert resp.status_code == 202, (resp.status_code, resp.text)
        offset += len(piece)
        upload = location(resp)
    resp = finish_upload(base, upload, layer.digest)
    assert resp.status_code == 201, (resp.status_code, resp.text)
