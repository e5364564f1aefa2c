# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of ``_oci.checks`` through ``run_checks`` against the fake registry.

Basic auth, ``resolve``, ``ca_path``, Location handling, redirects to a storage host, error
messages, and that no secret appears in a result or a message.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import urlsplit

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils._oci import image as oci_image
from ansible_collections.dockyard.registry.plugins.module_utils._oci import probe as oci_probe
from ansible_collections.dockyard.registry.plugins.module_utils._oci import spec as oci_spec
from ansible_collections.dockyard.registry.plugins.module_utils._oci.checks import CheckFailed
from ansible_collections.dockyard.registry.tests.unit.plugins.module_utils._oci.fakes import (
    PASSWORD,
    REGISTRY_NAME,
    USER,
    FakeRegistry,
    assert_no_secret,
    check,
    serve,
)


# ---- auth, resolve, ca_path --------------------------------------------------------------

def test_auth_over_tls_with_resolve_and_ca(fake, pki):
    result = check(fake, pki, checks=["auth"])
    assert result["checks_passed"] == ["auth"]
    assert result["changed"] is False
    auth = result["auth"]
    assert auth["unauthenticated_status"] == 401
    assert auth["api_version"] == "registry/2.0"
    assert auth["challenge"] == 'Basic realm="dockyard test"'
    assert auth["wrong_password_status"] == 401
    assert auth["authenticated_status"] == 200
    assert auth["requests"] == 3
    # SNI and Host name the URL's host, not the address connected to
    assert set(fake.sni) == {REGISTRY_NAME}
    assert {entry[3]["Host"] for entry in fake.log} == {"%s:%d" % (REGISTRY_NAME, fake.port)}
    # no credentials on the first request; the wrong password is not the real one
    assert "Authorization" not in fake.log[0][3]
    assert fake.log[1][3]["Authorization"] != "Basic " + base64.b64encode(
        ("%s:%s" % (USER, PASSWORD)).encode()).decode()
    assert_no_secret(result)


def test_resolve_with_brackets_and_localhost_url(fake, pki):
    result = check(fake, pki, url="https://localhost:%d" % fake.port, resolve=None, checks=["auth"])
    assert result["checks_passed"] == ["auth"]
    result = check(fake, pki, resolve="[127.0.0.1]", checks=["auth"])
    assert result["checks_passed"] == ["auth"]


def test_without_resolve_the_name_does_not_resolve(fake, pki):
    with pytest.raises(CheckFailed) as caught:
        check(fake, pki, resolve=None, checks=["auth"])
    assert caught.value.message.startswith("auth: GET /v2/ request failed")
    assert "set resolve" in caught.value.message


def test_without_ca_path_verification_fails(fake, pki):
    with pytest.raises(CheckFailed) as caught:
        check(fake, pki, ca_path=None, checks=["auth"])
    message = caught.value.message
    assert "TLS certificate verification failed" in message
    assert "(connected to 127.0.0.1:%d via resolve)" % fake.port in message
    assert "registry.dockyard.test" in message
    assert caught.value.result["checks_passed"] == []


def test_validate_certs_false(fake, pki):
    result = check(fake, pki, ca_path=None, validate_certs=False, checks=["auth"])
    assert result["checks_passed"] == ["auth"]


def test_name_mismatch_fails(fake, pki):
    # the certificate has no SAN for this name: connecting there by IP must not help
    with pytest.raises(CheckFailed, match="TLS certificate verification failed"):
        check(fake, pki, url="https://other.dockyard.test:%d" % fake.port, checks=["auth"])


@pytest.mark.parametrize("behaviour, value, says", [
    pytest.param("api_header_on_401", False, ["Docker-Distribution-Api-Version", "always"],
                 id="401-without-api-version-header"),
    pytest.param("challenge", 'Bearer service="registry"', ["names no realm or no service"],
                 id="bearer-challenge-without-realm-or-service"),
    pytest.param("challenge", None, ["expected a Basic challenge or a Bearer challenge"], id="missing-challenge"),
    pytest.param("accept_any_password", True, ["wrong password", "HTTP 200"], id="wrong-password-accepted"),
])
def test_a_misbehaving_registry_fails_the_auth_check(fake, pki, behaviour, value, says):
    """One thing the fake does wrong (an attribute of FakeRegistry): the auth check fails, says
    what, and has seen the anonymous request refused with 401."""
    setattr(fake, behaviour, value)
    with pytest.raises(CheckFailed) as caught:
        check(fake, pki, checks=["auth"])
    for part in says:
        assert part in caught.value.message
    assert caught.value.result["auth"]["unauthenticated_status"] == 401


def test_bad_credentials_message(fake, pki):
    with pytest.raises(CheckFailed) as caught:
        check(fake, pki, password="not-the-password", checks=["auth", "push"])
    message = caught.value.message
    assert message.startswith("auth: with the credentials of user 'alice': GET /v2/ returned HTTP 401")
    assert "expected 200" in message
    assert '"code": "UNAUTHORIZED"' in message
    assert "not-the-password" not in message
    assert_no_secret(caught.value.result)


def test_open_registry_when_401_expected(fake, pki):
    fake.users = {}
    fake._auth_ok = lambda handler: True
    with pytest.raises(CheckFailed, match="expected 401 .anonymous users must be refused"):
        check(fake, pki, checks=["auth"])
    result = check(fake, pki, username=None, password=None, expect_unauthenticated_401=False)
    assert result["checks_passed"] == ["auth", "push", "pull"]
    assert result["auth"] == dict(result["auth"], unauthenticated_status=200)


# ---- push / pull over TLS -----------------------------------------------------------------

def test_push_pull_chunked(fake, pki):
    result = check(fake, pki, layers=[1024, 65536], chunk_size=32768, capture_headers=["X-Cache-Status"])
    assert result["checks_passed"] == ["auth", "push", "pull"]
    assert result["changed"] is True
    image = oci_image.build_image("fake-seed", [1024, 65536])
    push, pull = result["push"], result["pull"]
    assert push["manifest_digest"] == push["manifest_digest_returned"] == image.manifest_digest
    assert pull["manifest_digest"] == image.manifest_digest
    assert [b["action"] for b in push["blobs"]] == ["uploaded"] * 3
    assert push["bytes_pushed"] == pull["bytes_pulled"] == sum(b.size for b in image.blobs)
    assert push["upload_location"] == "absolute"
    assert [b["requests"] for b in push["blobs"]] == [1, 3, 1]  # 67105 bytes in 32 KiB chunks
    # PATCH Content-Range values are contiguous and inclusive, per blob
    ranges = [entry[3]["Content-Range"] for entry in fake.requests("PATCH")]
    assert ranges[1:4] == ["0-32767", "32768-65535", "65536-%d" % (image.layers[1].size - 1)]
    assert all(entry[3]["Content-Type"] == "application/octet-stream" for entry in fake.requests("PATCH"))
    # the blobs landed intact in the registry
    for blob in image.blobs:
        assert fake.blobs[blob.digest] == blob.read()
    assert fake.manifests[("dockyard/verify", "check-fake-seed")][0] == oci_spec.DOCKER_MANIFEST
    # HEAD, POST, PATCH, PUT per blob, 2 more PATCHes for the big layer, the manifest PUT
    assert push["requests"] == 3 * 4 + 2 + 1
    # only the headers asked for are collected (the fake's backend header is not reported)
    assert result["captured_headers"] == {"X-Cache-Status": ["MISS"]}
    assert push["captured_headers"] == {"X-Cache-Status": ["MISS"]}
    assert "X-Backend" not in json.dumps(result) and "backend-a" not in json.dumps(result)
    assert result["reference"] == "%s:%d/dockyard/verify:check-fake-seed" % (REGISTRY_NAME, fake.port)
    assert all(entry[3].get("Authorization") for entry in fake.log[3:])
    assert_no_secret(result)


def test_push_monolithic_oci_relative_locations(fake, pki):
    fake.locations = "relative"
    result = check(fake, pki, upload="monolithic", manifest_format="oci", layers=[300000])
    assert result["checks_passed"] == ["auth", "push", "pull"]
    assert result["push"]["upload_location"] == "relative"
    assert fake.requests("PATCH") == []
    puts = [entry for entry in fake.requests("PUT") if "/blobs/uploads/" in entry[1]]
    assert len(puts) == 2
    assert all("digest=sha256%3A" in entry[2] and "_state=" in entry[2] for entry in puts)
    assert fake.manifests[("dockyard/verify", "check-fake-seed")][0] == oci_spec.OCI_MANIFEST


def test_existing_blobs_are_skipped_and_mount(fake, pki):
    check(fake, pki, checks=["push"], repository="team/source")
    again = check(fake, pki, checks=["push"], repository="team/source")
    assert [b["action"] for b in again["push"]["blobs"]] == ["exists"] * 3
    assert again["push"]["bytes_pushed"] == 0
    mounted = check(fake, pki, checks=["push", "pull"], repository="team/copy", mount_from="team/source")
    assert [b["action"] for b in mounted["push"]["blobs"]] == ["mounted"] * 3
    posts = [entry for entry in fake.requests("POST") if entry[1] == "/v2/team/copy/blobs/uploads/"]
    assert all("mount=sha256%3A" in entry[2] and "from=team%2Fsource" in entry[2] for entry in posts)
    # a registry that cannot mount answers 202: the upload goes on in that session
    fake.mount_enabled = False
    fallback = check(fake, pki, checks=["push"], repository="team/third", mount_from="team/source")
    assert [b["action"] for b in fallback["push"]["blobs"]] == ["uploaded"] * 3


def test_redirect_to_storage_drops_credentials(fake, storage, pki):
    fake.redirect_to = storage.url
    result = check(fake, pki)
    assert result["checks_passed"] == ["auth", "push", "pull"]
    host = urlsplit(storage.url).netloc
    assert all(b["redirected"] and b["served_by"] == host for b in result["pull"]["blobs"])
    # a second push finds every blob: its HEADs are redirected too
    again = check(fake, pki, checks=["push"])
    assert [b["action"] for b in again["push"]["blobs"]] == ["exists"] * 3
    # storage saw GETs (pull) and HEADs (existence), never with the registry's credentials
    assert {entry[0] for entry in storage.log} == {"HEAD", "GET"}
    assert all("Authorization" not in entry[3] for entry in storage.log)
    assert "s3cr3t" not in json.dumps(result) + json.dumps(again)


def test_redirect_to_unreachable_storage(fake, pki):
    fake.redirect_to = "http://127.0.0.1:9"  # discard port: nothing listens
    with pytest.raises(CheckFailed) as caught:
        check(fake, pki, checks=["push", "pull"])
    message = caught.value.message
    assert message.startswith("pull: layer 1/2 ")
    assert caught.value.result["checks_passed"] == ["push"]
    assert "redirected to http://127.0.0.1:9/bucket/sha256:" in message
    assert "storage.redirect.disable" in message
    assert "X-Amz-Signature" not in message


def test_location_without_port_is_explained(fake, pki):
    fake.locations = "drop-port"
    with pytest.raises(CheckFailed) as caught:
        check(fake, pki, checks=["push"], timeout=3)
    message = caught.value.message
    assert "upload" in message
    assert "proxy_set_header Host $http_host" in message
    assert any("Host $http_host" in w for w in caught.value.result["warnings"])
    assert caught.value.result["push"]["upload_location"] == "absolute"


def test_patch_failure_message(fake, pki):
    fake.fail_patch = 3  # layer 2's second chunk
    with pytest.raises(CheckFailed) as caught:
        check(fake, pki, checks=["push"])
    message = caught.value.message
    image = oci_image.build_image("fake-seed")
    assert message.startswith("push: layer 2/2 %s (%d bytes) chunk 2/3 (bytes 32768-65535): PATCH "
                              "/v2/dockyard/verify/blobs/uploads/u2 returned HTTP 404 Not Found, expected 202"
                              % (image.layers[1].digest, image.layers[1].size))
    assert "BLOB_UPLOAD_UNKNOWN" in message
    assert "_state" not in message
    result = caught.value.result
    assert result["changed"] is True  # one blob was already written
    assert result["checks_passed"] == []
    assert [b.get("action") for b in result["push"]["blobs"]] == ["uploaded", None]


def test_error_body_is_cut_to_300_bytes(fake, pki):
    fake.api_header_on_401 = True
    original = fake._error

    def long_error(handler, status, code, message, extra=None):
        original(handler, status, code, "x" * 1000, extra)

    fake._error = long_error
    with pytest.raises(CheckFailed) as caught:
        check(fake, pki, password="wrong", checks=["auth"])
    body = caught.value.message.split("; body: ", 1)[1]
    assert body.endswith(" ...")
    assert len(body) <= 304


def test_pull_of_another_image_fails(fake, pki):
    check(fake, pki, checks=["push"], seed="first", tag="shared")
    with pytest.raises(CheckFailed) as caught:
        check(fake, pki, checks=["pull"], seed="second", tag="shared")
    assert "the tag points at manifest %s" % oci_image.build_image("first").manifest_digest in caught.value.message
    assert "seed 'second'" in caught.value.message
    # pull alone, with the pushing run's seed, verifies it (as clients do after the controller pushed)
    result = check(fake, pki, checks=["auth", "pull"], seed="first", tag="shared")
    assert result["checks_passed"] == ["auth", "pull"]
    assert result["changed"] is False


def test_corrupt_blob_is_detected(fake, pki):
    check(fake, pki, checks=["push"])
    image = oci_image.build_image("fake-seed")
    fake.blobs[image.layers[0].digest] = b"garbage"
    with pytest.raises(CheckFailed) as caught:
        check(fake, pki, checks=["pull"])
    assert "pull: layer 1/2 %s" % image.layers[0].digest in caught.value.message
    assert "received 7 bytes" in caught.value.message


def test_delete_enabled_and_disabled(fake, pki):
    result = check(fake, pki, checks=["push", "delete"])
    assert result["delete"]["deleted"] is True
    assert result["delete"]["status"] == 202
    assert result["delete"]["tag_status_after"] == 404
    fake.delete_enabled = False
    result = check(fake, pki, checks=["push", "pull", "delete"])
    assert result["checks_passed"] == ["push", "pull", "delete"]
    assert result["delete"] == dict(result["delete"], status=405, deleted=False, supported=False)
    assert any("HTTP 405" in w for w in result["warnings"])


def test_delete_of_missing_manifest_fails(fake, pki):
    with pytest.raises(CheckFailed, match="delete: manifest sha256:.* returned HTTP 404"):
        check(fake, pki, checks=["delete"])


def test_check_mode_runs_only_auth(fake, pki):
    result = check(fake, pki, check_mode=True, checks=["auth", "push", "pull", "delete"])
    assert result["checks_passed"] == ["auth"]
    assert result["checks_skipped"] == ["push", "pull", "delete"]
    assert result["changed"] is False
    assert {entry[0] for entry in fake.log} == {"GET"}
    assert "push" not in result


def test_report_changed_false(fake, pki):
    result = check(fake, pki, report_changed=False, checks=["push", "delete"])
    assert result["changed"] is False
    assert result["checks_passed"] == ["push", "delete"]


def test_connection_close_is_handled(fake, pki):
    fake.connection_close = True
    result = check(fake, pki, layers=[100000], chunk_size=20000)
    assert result["checks_passed"] == ["auth", "push", "pull"]


def test_plain_http_fake():
    app = FakeRegistry(tls=False)
    server = serve(app)
    try:
        url = "http://localhost:%d" % server.server_address[1]
        result = oci_probe.run_checks(url, USER, PASSWORD, resolve="127.0.0.1", seed="plain")
        assert result["checks_passed"] == ["auth", "push", "pull"]
        assert app.sni == []
    finally:
        server.shutdown()
        server.server_close()
