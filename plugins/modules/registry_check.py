#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: registry_check
short_description: Prove a Docker registry works end to end, through its proxy
version_added: 0.1.0
description:
  - Speaks the Docker Registry HTTP API V2 (OCI distribution specification) in pure Python with the
    standard library only, so it runs on any target with a stock python3 (no docker CLI, no
    C(requests)) and on the controller.
  - C(auth) checks that C(GET /v2/) without credentials is refused with HTTP 401 carrying the
    header C(Docker-Distribution-Api-Version) set to V(registry/2.0) and a C(WWW-Authenticate)
    challenge of the C(Basic) scheme, or of the C(Bearer) scheme with a realm and a service (token
    authentication), that a wrong password is refused with 401 too (in token mode the token
    endpoint refuses it), and that the credentials get HTTP 200.
  - Against a registry that challenges with C(Bearer), every request speaks the Docker token
    protocol like docker does - a token from the realm (C(GET) with Basic credentials, sent only when
    the realm is on the registry's own origin) covering every scope the registry asked for so far.
  - C(push) uploads a small generated image (see O(seed) and O(layers)) and tags it. For every blob
    a C(HEAD) (blobs already there are skipped), then a cross-repository mount (O(mount_from)) or an
    upload, chunked (C(POST), C(PATCH) per O(chunk_size), C(PUT ?digest=)) or monolithic; then the
    manifest C(PUT) by O(tag), whose C(Docker-Content-Digest) must be the digest computed locally.
  - C(pull) fetches the manifest by O(tag), checks its digest against the image generated from
    O(seed) and downloads every blob, re-hashing it. Redirects (for example to S3 pre-signed URLs)
    are followed; credentials are never sent to another host than the registry's.
  - C(delete) deletes the manifest by digest. A registry with deletes disabled answers HTTP 405,
    which is reported (RV(delete.deleted=false)) and warned about, not failed.
  - The image is a valid Docker image manifest v2 schema 2 (or OCI image manifest) with a valid image
    config, so C(docker pull) of RV(reference) works. Its bytes are pseudo-random and depend only on
    O(seed), O(layers), O(layer_format) and O(manifest_format); the same options give the same
    digests on any host, which lets one host push and others pull and compare.
  - A failed check fails the task with a message naming the step (check, blob, chunk), the request,
    the HTTP status and the first 300 bytes of the body. Neither the password nor the
    C(Authorization) header is ever returned or printed.
author:
  - dockyard.registry maintainers (@dockyard)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: partial
    details:
      - Only the read-only C(auth) check runs; C(push), C(pull) and C(delete) are listed in
        RV(checks_skipped) and the task reports no change.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
    details:
      - Nothing to diff; the module writes only test images.
  idempotent:
    description: When run twice in a row outside check mode with the same arguments, the second invocation indicates no change.
    support: partial
    details:
      - A run that pushes or deletes reports RV(ignore:changed=true) unless O(report_changed=false).
options:
  url:
    description:
      - Root URL of the registry as clients use it, C(https://name[:port]) (C(http://) for a
        registry without TLS). Any path other than C(/) is refused; the API is at C(/v2/).
    type: str
    required: true
  username:
    description: User for HTTP Basic authentication. Required with O(password).
    type: str
  password:
    description: Password of O(username).
    type: str
  ca_path:
    description:
      - PEM file (or hashed directory) of CA certificates to trust in addition to the system store,
        typically the private CA that signed the proxy certificate.
    type: path
  validate_certs:
    description: Verify the TLS certificate chain and name. Set to V(false) only to debug.
    type: bool
    default: true
  resolve:
    description:
      - Connect to this IP address (or host name) instead of resolving the host of O(url), like
        C(curl --resolve). SNI, the certificate name check and the C(Host) header still use the
        host of O(url). Applies to every request to that host (any port), not to storage backends
        a blob download is redirected to.
      - Needed where the registry name is not in DNS or C(/etc/hosts), for example on the controller.
    type: str
  repository:
    description: Repository to push to and pull from.
    type: str
    default: dockyard/verify
  tag:
    description:
      - Tag to push and pull.
      - Defaults to C(check-<seed>) when that is a valid tag, else C(check-) and 16 hex digits of
        the seed's sha256.
    type: str
  seed:
    description:
      - Seed of the generated image. Layer bytes, config, manifest and their digests depend only on
        it, O(layers), O(layer_format) and O(manifest_format).
      - Defaults to the UTC time plus 32 random bits (for example C(20250102T030405Z-1a2b3c4d)), so
        every run uploads new blobs. Set it to have one host push and others pull the same image
        (RV(seed) returns the value used).
    type: str
  layers:
    description:
      - Size in bytes of each layer's content. With O(layer_format=tar+gzip) or O(layer_format=tar)
        the layer is a tar archive holding one file of that size, so the blob is a little larger
        (tar headers and padding; gzip framing).
    type: list
    elements: int
    default: [1024, 65536]
  layer_format:
    description:
      - V(tar+gzip) is a gzip-compressed tar (stored deflate blocks, reproducible with any zlib),
        V(tar) an uncompressed tar. Both pull with C(docker pull).
      - V(raw) pushes the pseudo-random bytes themselves as C(application/octet-stream) blobs,
        exactly O(layers) bytes on the wire, valid for the registry, but C(docker pull) cannot
        unpack it.
    type: str
    choices: [tar+gzip, tar, raw]
    default: tar+gzip
  manifest_format:
    description:
      - V(docker) pushes C(application/vnd.docker.distribution.manifest.v2+json), V(oci) pushes
        C(application/vnd.oci.image.manifest.v1+json) (with the matching config and layer media types).
    type: str
    choices: [docker, oci]
    default: docker
  upload:
    description:
      - V(chunked) uploads each blob with C(POST), one C(PATCH) per O(chunk_size) bytes and a
        closing C(PUT ?digest=), as docker does; V(monolithic) sends the whole blob in the C(PUT).
    type: str
    choices: [chunked, monolithic]
    default: chunked
  chunk_size:
    description:
      - Bytes per C(PATCH) request in chunked uploads. The small default makes the default image's
        second layer take three requests, which proves an upload survives its requests landing on
        different load-balanced backends (shared C(http.secret) and storage). Raise it for large layers.
    type: int
    default: 32768
  mount_from:
    description:
      - Repository to mount blobs from (C(POST ?mount=<digest>&from=<repository>)) instead of
        uploading them, as docker does when pushing an image it pulled from a sibling repository.
        A registry that cannot mount answers with an upload session, which is then used.
    type: str
  expect_unauthenticated_401:
    description:
      - Require HTTP 401 (with the API version header and a Basic challenge, or a Bearer challenge of the token protocol) for C(GET /v2/)
        without credentials and for a wrong password.
      - Set to V(false) for a registry without authentication (a backend checked directly); then
        the anonymous status is only reported, and O(username) may be omitted.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for connecting and for each read.
    type: float
    default: 30
  checks:
    description:
      - Checks to run. They always run in the order auth, push, pull, delete.
      - C(pull) without C(push) verifies an image pushed earlier with the same O(seed), O(tag),
        O(layers), O(layer_format) and O(manifest_format) (from another host, say).
      - C(delete) deletes by digest, which removes every tag of that manifest.
    type: list
    elements: str
    choices: [auth, push, pull, delete]
    default: [auth, push, pull]
  capture_headers:
    description:
      - Response headers whose values to collect in RV(captured_headers) (distinct values, in the
        order seen).
    type: list
    elements: str
    default: []
  report_changed:
    description:
      - Whether a push or delete reports RV(ignore:changed=true). Verification playbooks set V(false)
        so a second run reports zero changes.
    type: bool
    default: true
notes:
  - No HTTP proxy is used; requests go straight to the registry (or to O(resolve)).
  - Only HTTP Basic authentication is supported, not registry token (Bearer) authentication.
  - Pushed images stay in the registry unless C(delete) is in O(checks); their blobs stay until
    the registry's garbage collection runs.
seealso:
  - name: OCI distribution specification
    description: The API the checks speak.
    link: https://github.com/opencontainers/distribution-spec/blob/main/spec.md
  - name: Docker Registry HTTP API V2
    description: Distribution's description of the same API.
    link: https://distribution.github.io/distribution/spec/api/
"""

EXAMPLES = r"""
- name: Check the registry through the proxy, from the controller (no DNS entry for the name)
  dockyard.registry.registry_check:
    url: "https://{{ dockyard_registry_name }}:{{ dockyard_registry_port }}"
    resolve: "{{ dockyard_registry_address }}"
    ca_path: "{{ dockyard_ca_certificate_file }}"
    username: "{{ dockyard_registry_users[0].name }}"
    password: "{{ dockyard_registry_users[0].password }}"
    report_changed: false
  delegate_to: localhost
  run_once: true
  register: controller_check
  no_log: "{{ dockyard_no_log | default(true) }}"

- name: Every client pulls and verifies the image the controller pushed
  dockyard.registry.registry_check:
    url: "https://{{ dockyard_registry_name }}:{{ dockyard_registry_port }}"
    username: "{{ dockyard_registry_users[0].name }}"
    password: "{{ dockyard_registry_users[0].password }}"
    seed: "{{ controller_check.seed }}"
    checks: [auth, pull]
  no_log: "{{ dockyard_no_log | default(true) }}"

- name: Push 64 MiB layers in 8 MiB chunks, OCI manifest, then delete the image
  dockyard.registry.registry_check:
    url: https://registry.example.com
    username: ci
    password: "{{ vault_ci_password }}"
    layers: [67108864, 67108864]
    chunk_size: 8388608
    manifest_format: oci
    checks: [auth, push, pull, delete]
    capture_headers: [X-Cache-Status]
  register: big

- name: Check a backend directly (no proxy, no auth, plain HTTP)
  dockyard.registry.registry_check:
    url: http://127.0.0.1:5000
    expect_unauthenticated_401: false
"""

RETURN = r"""
url:
  description: The registry root URL checked.
  returned: always
  type: str
  sample: https://registry.example.com:5043
repository:
  description: Repository used.
  returned: always
  type: str
  sample: dockyard/verify
tag:
  description: Tag pushed or pulled.
  returned: always
  type: str
  sample: check-20250102T030405Z-1a2b3c4d
seed:
  description: Seed the image was generated from; pass it to another run to pull the same image.
  returned: always
  type: str
  sample: 20250102T030405Z-1a2b3c4d
reference:
  description: Image reference a docker client would pull.
  returned: always
  type: str
  sample: registry.example.com:5043/dockyard/verify:check-20250102T030405Z-1a2b3c4d
image:
  description: The generated image.
  returned: always
  type: dict
  contains:
    manifest_digest:
      description: Digest of the manifest.
      type: str
      sample: sha256:186d3e1c25f19eea385c04a03034f1ee7bf932846a1a0587a19f4f3bfe8af9c0
    media_type:
      description: Manifest media type.
      type: str
      sample: application/vnd.docker.distribution.manifest.v2+json
    manifest_size:
      description: Manifest size in bytes.
      type: int
      sample: 586
    config:
      description: Config descriptor (C(mediaType), C(size), C(digest)).
      type: dict
    layers:
      description: Layer descriptors, each with C(diff_id), the digest of the uncompressed layer.
      type: list
      elements: dict
    size:
      description: Bytes of all blobs (config and layers).
      type: int
      sample: 70255
checks_passed:
  description: Checks that ran and passed, in order.
  returned: always
  type: list
  elements: str
  sample: [auth, push, pull]
checks_skipped:
  description: Checks requested but not run (check mode runs only C(auth)).
  returned: always
  type: list
  elements: str
  sample: []
captured_headers:
  description: Distinct values of each header in O(capture_headers) over all checks.
  returned: always
  type: dict
  sample: {"X-Cache-Status": ["MISS", "HIT"]}
auth:
  description:
    - What the C(auth) check saw. Like every check's result it also has C(seconds), C(requests)
      (HTTP requests made) and C(captured_headers) for that check alone.
  returned: when C(auth) ran
  type: dict
  contains:
    unauthenticated_status:
      description: Status of C(GET /v2/) without credentials.
      type: int
      sample: 401
    api_version:
      description: Its C(Docker-Distribution-Api-Version) header.
      type: str
      sample: registry/2.0
    challenge:
      description: Its C(WWW-Authenticate) header.
      type: str
      sample: Basic realm="registry"
    wrong_password_status:
      description: Status with a wrong password (when O(expect_unauthenticated_401) and O(username) are set).
      type: int
      sample: 401
    authenticated_status:
      description: Status with the credentials (when O(username) is set).
      type: int
      sample: 200
  sample:
    unauthenticated_status: 401
    api_version: registry/2.0
    challenge: Basic realm="registry"
    wrong_password_status: 401
    authenticated_status: 200
    authenticated_api_version: registry/2.0
    seconds: 0.012
    requests: 3
    captured_headers: {}
push:
  description: What the C(push) check did.
  returned: when C(push) ran
  type: dict
  contains:
    blobs:
      description:
        - One entry per blob (layers, then config) with C(digest), C(size), C(media_type),
          C(head_status), C(action) (V(uploaded), V(exists) or V(mounted)), and for uploads
          C(status) of the closing request, C(requests) (PATCH requests, or 1 when monolithic)
          and C(bytes_sent).
      type: list
      elements: dict
    bytes_pushed:
      description: Blob bytes uploaded (blobs that existed or were mounted count 0).
      type: int
      sample: 70255
    upload_location:
      description: Whether the registry's upload C(Location) headers were V(relative) or V(absolute).
      type: str
      sample: absolute
    manifest_status:
      description: Status of the manifest C(PUT).
      type: int
      sample: 201
    manifest_digest:
      description: Digest of the manifest pushed.
      type: str
    manifest_digest_returned:
      description: The registry's C(Docker-Content-Digest) for it.
      type: str
    seconds:
      description: Duration of the check.
      type: float
      sample: 0.093
pull:
  description: What the C(pull) check did.
  returned: when C(pull) ran
  type: dict
  contains:
    manifest_status:
      description: Status of the manifest C(GET) by tag.
      type: int
      sample: 200
    manifest_digest:
      description: Digest of the manifest bytes received (equal to the one pushed).
      type: str
    manifest_media_type:
      description: Its C(Content-Type).
      type: str
      sample: application/vnd.docker.distribution.manifest.v2+json
    blobs:
      description:
        - One entry per blob with C(digest), C(size), C(status), C(bytes), C(redirected) and, when
          redirected, C(served_by) (C(host:port) of the storage backend that served it).
      type: list
      elements: dict
    bytes_pulled:
      description: Blob bytes downloaded.
      type: int
      sample: 70255
delete:
  description: What the C(delete) check did.
  returned: when C(delete) ran
  type: dict
  contains:
    status:
      description: Status of C(DELETE /v2/<repository>/manifests/<digest>) (202 deleted, 405 disabled).
      type: int
      sample: 202
    deleted:
      description: Whether the manifest was deleted.
      type: bool
    supported:
      description: Whether the registry allows deletes.
      type: bool
    tag_status_after:
      description: Status of a C(HEAD) of the tag after the delete (404 expected).
      type: int
      sample: 404
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dockyard.registry.plugins.module_utils._oci import (
    CHECKS,
    DEFAULT_CHECKS,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_LAYERS,
    DEFAULT_REPOSITORY,
    DEFAULT_TIMEOUT,
    LAYER_FORMATS,
    MANIFEST_FORMATS,
    UPLOAD_MODES,
    CheckFailed,
    run_checks,
)


def argument_spec():
    return dict(
        url=dict(type="str", required=True),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        ca_path=dict(type="path"),
        validate_certs=dict(type="bool", default=True),
        resolve=dict(type="str"),
        repository=dict(type="str", default=DEFAULT_REPOSITORY),
        tag=dict(type="str"),
        seed=dict(type="str"),
        layers=dict(type="list", elements="int", default=list(DEFAULT_LAYERS)),
        layer_format=dict(type="str", choices=list(LAYER_FORMATS), default="tar+gzip"),
        manifest_format=dict(type="str", choices=list(MANIFEST_FORMATS), default="docker"),
        upload=dict(type="str", choices=list(UPLOAD_MODES), default="chunked"),
        chunk_size=dict(type="int", default=DEFAULT_CHUNK_SIZE),
        mount_from=dict(type="str"),
        expect_unauthenticated_401=dict(type="bool", default=True),
        timeout=dict(type="float", default=DEFAULT_TIMEOUT),
        checks=dict(type="list", elements="str", choices=list(CHECKS), default=list(DEFAULT_CHECKS)),
        capture_headers=dict(type="list", elements="str", default=[]),
        report_changed=dict(type="bool", default=True),
    )


def run_module(module):
    params = dict(module.params)
    try:
        result = run_checks(check_mode=module.check_mode, **params)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    except CheckFailed as exc:
        partial = dict(exc.result)
        for warning in partial.pop("warnings", []):
            module.warn(warning)
        module.fail_json(msg=exc.message, **partial)
    for warning in result.pop("warnings", []):
        module.warn(warning)
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        required_together=[("username", "password")],
        supports_check_mode=True,
    )
    run_module(module)


if __name__ == "__main__":
    main()
