"""Helpers for the registry scenario's testinfra verifiers.

The tests talk to each backend's HTTP port directly from the controller (the lab network's
container addresses are reachable from it; backends have no authentication in this scenario),
choosing per request which backend answers, as the load balancer might.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
import requests

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
SCENARIO_DIR = Path(__file__).resolve().parents[1]
LAB = PROJECT / "lab"
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
INVENTORY_FILE = Path(os.environ["MOLECULE_INVENTORY_FILE"])
RECORDS = EPHEMERAL / "registry-lab"

# The collection as Ansible sees it (ansible.cfg's collections_path), for module_utils._oci.
_COLLECTIONS = str(PROJECT / ".cache" / "collections")
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)

from ansible_collections.dockyard.registry.plugins.module_utils import _oci  # noqa: E402
from ansible_collections.dockyard.registry.tests.lab_hosts import lab_host, wait_for_registry  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

S3_BACKENDS = ["reg-b1", "reg-b2"]
FS_BACKENDS = ["reg-fs"]
BACKENDS = S3_BACKENDS + FS_BACKENDS
PORT = 5000
DEBUG_PORT = 5001
CONTAINER = "registry"
CONFIG_DIR = "/etc/dockyard/registry"
IMAGE = "dockyard-lab/registry:2.8.2"
TIMEOUT = 30


def lab_env() -> dict:
    """Credentials and bucket of the lab's S3 host (lab/images/s3/lab.env, read by labctl)."""
    sys.path.insert(0, str(LAB))
    import labctl  # pylint: disable=import-outside-toplevel
    return labctl.s3_facts()


def lab_address(name: str) -> str:
    """A lab container's address on the lab network (what labctl.py and the inventory use)."""
    out = subprocess.run([sys.executable, str(LAB / "labctl.py"), "address", name],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def http_secret() -> str:
    """The http.secret the role generated once (registry_http_secret_file in group_vars/all.yml)."""
    text = (INVENTORY_FILE.parent / ".dockyard-secrets" / "http_secret").read_text().strip()
    return text.split(" salt=")[0]


@pytest.fixture(scope="session")
def s3_env() -> dict:
    return lab_env()


@pytest.fixture(scope="session")
def secrets(s3_env) -> dict:
    values = {"S3 secret key": s3_env["S3_SECRET_KEY"], "http.secret": http_secret()}
    assert all(len(v) >= 16 for v in values.values())
    return values


@pytest.fixture(scope="session")
def address() -> dict:
    return {name: lab_address(name) for name in BACKENDS + ["reg-s3"]}


@pytest.fixture(scope="session")
def url(address) -> dict:
    """Base URL of each backend's registry port."""
    return {name: f"http://{address[name]}:{PORT}" for name in BACKENDS}


@pytest.fixture()
def seed(request) -> str:
    """A seed no other test (or run) uses: every blob is new to the bucket."""
    return f"{request.node.name}-{uuid.uuid4().hex}"


# ---------------------------------------------------------------------------------------------
# Registry HTTP API V2, one request at a time, on the backend the caller chooses


def location(resp: requests.Response) -> str:
    """Path and query of an upload Location (absolute on the proxy's name: http.host is set)."""
    loc = resp.headers["Location"]
    parts = urlsplit(loc)
    return parts.path + ("?" + parts.query if parts.query else "")


def with_query(path: str, **params) -> str:
    return path + ("&" if "?" in path else "?") + urlencode(params)


def start_upload(base: str, repo: str) -> str:
    resp = requests.post(f"{base}/v2/{repo}/blobs/uploads/", timeout=TIMEOUT)
    assert resp.status_code == 202, (base, resp.status_code, resp.text)
    return location(resp)


def patch_chunk(base: str, upload: str, chunk: bytes, offset: int) -> requests.Response:
    return requests.patch(
        base + upload, data=chunk, timeout=TIMEOUT,
        headers={"Content-Type": "application/octet-stream",
                 "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                 "Content-Length": str(len(chunk))})


def finish_upload(base: str, upload: str, digest: str, body: bytes = b"") -> requests.Response:
    return requests.put(base + with_query(upload, digest=digest), data=body, timeout=TIMEOUT,
                        headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(body))})


def push_blob(base: str, repo: str, blob) -> None:
    """Monolithic upload (POST, then PUT with the whole body) of one blob to one backend."""
    upload = start_upload(base, repo)
    resp = finish_upload(base, upload, blob.digest, blob.read())
    assert resp.status_code == 201, (base, blob.digest, resp.status_code, resp.text)
    assert resp.headers["Docker-Content-Digest"] == blob.digest


def push_image(base: str, repo: str, tag: str, image) -> None:
    for blob in image.blobs:
        push_blob(base, repo, blob)
    resp = requests.put(f"{base}/v2/{repo}/manifests/{tag}", data=image.manifest, timeout=TIMEOUT,
                        headers={"Content-Type": image.media_type})
    assert resp.status_code == 201, (base, resp.status_code, resp.text)
    assert resp.headers["Docker-Content-Digest"] == image.manifest_digest


def pull_image(base: str, repo: str, tag: str, image) -> list:
    """Pull manifest and every blob (following redirects); return the blob responses' histories."""
    resp = requests.get(f"{base}/v2/{repo}/manifests/{tag}", timeout=TIMEOUT,
                        headers={"Accept": image.media_type})
    assert resp.status_code == 200, (base, resp.status_code, resp.text)
    assert resp.headers["Docker-Content-Digest"] == image.manifest_digest
    assert resp.content == image.manifest
    manifest = _oci.parse_manifest(resp.content)
    histories = []
    descriptors = [manifest["config"]] + list(manifest["layers"])
    assert {d["digest"] for d in descriptors} == {b.digest for b in image.blobs}
    for desc in descriptors:
        blob = requests.get(f"{base}/v2/{repo}/blobs/{desc['digest']}", timeout=TIMEOUT)
        assert blob.status_code == 200, (base, desc["digest"], blob.status_code, blob.text[:300])
        assert len(blob.content) == desc["size"]
        assert _oci.sha256_digest(blob.content) == desc["digest"]
        histories.append(blob.history)
    return histories


def build_image(seed: str, layers=(1024, 65536)):
    return _oci.build_image(seed, layers=layers)
