#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: registry_gc
short_description: Run Distribution's garbage collector in a registry container and account for it
version_added: 0.2.0
description:
  - Runs C(registry garbage-collect) in the registry container on this backend host, first with
    C(--dry-run) to learn which blobs are eligible, measures their size in the storage (S3
    C(HEAD) of each blob, or the file size for the filesystem driver), then, unless O(dry_run),
    runs the real collection and checks that every eligible blob is gone from the storage.
  - Returns how many blobs (and how many bytes) were eligible and removed. For drivers it cannot
    measure, the byte count is V(null) and the C(bytes_note) of RV(removed) says why.
  - The registry must be read-only on every backend while the real collection runs (uploads that
    the collector cannot see would lose their blobs); the dockyard.registry C(playbooks/gc.yml)
    playbook switches every backend to read-only and checks it first.
author:
  - dockyard.registry maintainers (@dockyard)
attributes:
  check_mode:
    description: Runs the dry run only and reports what would be removed.
    support: full
  diff_mode:
    description: Nothing to diff.
    support: none
  idempotent:
    description: A second run finds nothing eligible and reports no change.
    support: full
options:
  container:
    description: Name of the registry container.
    type: str
    default: registry
  docker_host:
    description: The engine's API endpoint (C(docker --host)); the C(docker) CLI's default when unset.
    type: str
  config_path:
    description: Path of C(config.yml) inside the container.
    type: str
    required: true
  delete_untagged:
    description: Also delete manifests no tag points to (C(--delete-untagged)), and the blobs only they use.
    type: bool
    default: false
  dry_run:
    description: Only report what would be removed.
    type: bool
    default: false
  storage_driver:
    description: The registry's storage driver, to know how to measure blob sizes.
    type: str
    required: true
  filesystem_dir:
    description: Host directory mounted as the filesystem driver's root directory.
    type: path
  s3_bucket:
    description: Bucket of the s3 driver.
    type: str
  s3_region:
    description: Region of the s3 driver.
    type: str
    default: us-east-1
  s3_endpoint:
    description: C(regionendpoint) of the s3 driver (path-style requests); empty for AWS.
    type: str
  s3_path_style:
    description: Path-style requests to O(s3_endpoint) (Distribution 2.x always uses them with an endpoint).
    type: bool
    default: true
  s3_rootdirectory:
    description: C(rootdirectory) of the s3 driver.
    type: str
    default: ""
  s3_access_key:
    description: Access key of the s3 driver; without keys the bytes are not measured.
    type: str
  s3_secret_key:
    description: Secret key of the s3 driver.
    type: str
  s3_validate_certs:
    description: Verify the TLS certificate of the S3 endpoint.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Collect garbage on one backend (every backend read-only first, see playbooks/gc.yml)
  dockyard.registry.registry_gc:
    config_path: /etc/docker/registry/config.yml
    storage_driver: s3
    s3_bucket: registry
    s3_endpoint: https://rgw.internal:7480
    s3_access_key: "{{ vault_s3_accesskey }}"
    s3_secret_key: "{{ vault_s3_secretkey }}"
  register: gc
"""

RETURN = r"""
eligible:
  description: Blobs the dry run found unreferenced (C(count), C(bytes), C(bytes_measured), C(bytes_note), C(digests)).
  returned: always
  type: dict
removed:
  description: Blobs gone from the storage after the real run (same keys); zero after a dry run.
  returned: always
  type: dict
marked:
  description: Blobs the collector found referenced (kept).
  returned: always
  type: int
manifests_eligible:
  description: Manifests the collector would delete (with O(delete_untagged)).
  returned: always
  type: int
seconds:
  description: How long the real collection ran.
  returned: always
  type: float
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dockyard.registry.plugins.module_utils import _registry_gc, _s3


def run_gc(module, dry_run):
    params = module.params
    argv = _registry_gc.gc_argv(params["container"], params["config_path"], params["delete_untagged"], dry_run,
                                docker_host=params["docker_host"])
    rc, out, err = module.run_command(argv)
    text = (out or "") + "\n" + (err or "")
    if rc != 0:
        module.fail_json(msg="%s failed (exit code %d): %s" % (" ".join(argv[argv.index("exec"):]), rc, text.strip()[-1500:]))
    try:
        return _registry_gc.parse_gc_output(text)
    except ValueError as exc:
        module.fail_json(msg=str(exc))


class Sizer:
    """Reads blob sizes from the storage, or says why it cannot."""

    def __init__(self, module):
        params = module.params
        self.driver = params["storage_driver"]
        self.reason = _registry_gc.unmeasured_reason(self.driver)
        self.client = None
        self.params = params
        if self.driver == "s3" and not self.reason:
            if not (params["s3_access_key"] and params["s3_secret_key"] and params["s3_bucket"]):
                self.reason = ("the s3 driver runs with instance credentials (no accesskey/secretkey given): "
                               "the blob count is exact, the bytes are unknown")
            else:
                self.client = _s3.S3(params["s3_bucket"], params["s3_access_key"], params["s3_secret_key"],
                                     region=params["s3_region"], endpoint=params["s3_endpoint"] or None,
                                     path_style=params["s3_path_style"], validate_certs=params["s3_validate_certs"])
        if self.driver == "filesystem" and not self.reason and not params["filesystem_dir"]:
            self.reason = "filesystem_dir is not set: the blob count is exact, the bytes are unknown"

    def size(self, digest):
        if self.driver == "s3":
            return self.client.head_object(_registry_gc.s3_key(self.params["s3_rootdirectory"], digest))
        path = _registry_gc.filesystem_path(self.params["filesystem_dir"], digest)
        return os.path.getsize(path) if os.path.exists(path) else None

    def sizes(self, digests):
        if self.reason:
            return None
        try:
            return {digest: self.size(digest) for digest in digests}
        except (_s3.S3Error, OSError, ValueError) as exc:
            self.reason = "the sizes could not be read from the storage (%s): the blob count is exact" % exc
            return None


def run_module(module):
    params = module.params
    dry_run = params["dry_run"] or module.check_mode
    plan = run_gc(module, dry_run=True)
    sizer = Sizer(module)
    before = sizer.sizes(plan["blobs"])
    eligible = _registry_gc.summarise(plan["blobs"], before, sizer.reason)
    eligible["digests"] = plan["blobs"]
    result = {"changed": False, "eligible": eligible, "marked": plan["marked"],
              "manifests_eligible": plan["eligible_manifests"], "seconds": 0.0, "dry_run": dry_run,
              "removed": {"count": 0, "bytes": 0 if eligible["bytes_measured"] else None,
                          "bytes_measured": eligible["bytes_measured"], "bytes_note": eligible["bytes_note"],
                          "digests": []}}
    if dry_run or not (plan["blobs"] or plan["eligible_manifests"]):
        result["changed"] = bool(dry_run and module.check_mode and plan["blobs"])
        module.exit_json(**result)

    start = time.monotonic()
    done = run_gc(module, dry_run=False)
    result["seconds"] = round(time.monotonic() - start, 2)
    result["changed"] = True
    after = sizer.sizes(plan["blobs"]) if before is not None else None
    if after is not None:
        still = [d for d in plan["blobs"] if after.get(d) is not None]
        if still:
            module.fail_json(msg="the collector ran but %d blob(s) are still in the storage (first: %s)"
                                 % (len(still), still[0]), **result)
        removed = list(plan["blobs"])
    else:
        # no way to look: trust what the collector logged as deleted
        removed = [d for d in plan["blobs"] if d in set(done["deleted"])] or done["blobs"]
    removed_summary = _registry_gc.summarise(removed, before, sizer.reason)
    removed_summary["digests"] = removed
    result["removed"] = removed_summary
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            container=dict(type="str", default="registry"),
            docker_host=dict(type="str"),
            config_path=dict(type="str", required=True),
            delete_untagged=dict(type="bool", default=False),
            dry_run=dict(type="bool", default=False),
            storage_driver=dict(type="str", required=True),
            filesystem_dir=dict(type="path"),
            s3_bucket=dict(type="str"),
            s3_region=dict(type="str", default="us-east-1"),
            s3_endpoint=dict(type="str"),
            s3_path_style=dict(type="bool", default=True),
            s3_rootdirectory=dict(type="str", default=""),
            s3_access_key=dict(type="str", no_log=True),
            s3_secret_key=dict(type="str", no_log=True),
            s3_validate_certs=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    run_module(module)


if __name__ == "__main__":
    main()
