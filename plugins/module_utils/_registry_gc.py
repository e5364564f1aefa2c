# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: Distribution's garbage collector, read and accounted for.

This file is private to the dockyard.registry collection; other collections must not import it.
It imports nothing from Ansible and raises ``ValueError`` on bad input. It owns:

* the ``registry garbage-collect`` command line (``gc_argv``: ``--dry-run``, ``--delete-untagged``);
* reading its output (``parse_gc_output``): the summary line
  ``N blobs marked, M blobs and K manifests eligible for deletion``, the
  ``blob eligible for deletion: sha256:...`` lines and the ``Deleting blob: <path>`` log lines of a
  real run;
* where a blob's bytes live in each storage driver (``blob_path``, ``s3_key``,
  ``filesystem_path``): Distribution stores every blob at
  ``<rootdirectory>/docker/registry/v2/blobs/sha256/<first two hex>/<hex>/data``; the s3 driver
  drops the leading ``/`` of the whole key;
* the report (``summarise``): how many blobs and how many bytes; when the bytes cannot be measured
  for a driver, the report says so and why instead of giving a number.
"""

from __future__ import annotations

import os
import re

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_SUMMARY = re.compile(r"^\s*(\d+) blobs marked, (\d+) blobs and (\d+) manifests eligible for deletion", re.MULTILINE)
_BLOB = re.compile(r"^\s*blob eligible for deletion: (sha256:[0-9a-f]{64})\s*$", re.MULTILINE)
_MANIFEST = re.compile(r"^\s*manifest eligible for deletion: (.+?)\s*$", re.MULTILINE)
_DELETING = re.compile(r"Deleting blob: \S*/blobs/sha256/[0-9a-f]{2}/([0-9a-f]{64})\b")
#: Drivers whose blob sizes the collection can read.
MEASURED_DRIVERS = ("s3", "filesystem")


def gc_argv(container, config_path, delete_untagged=False, dry_run=False, docker="docker", docker_host=None):
    """``docker [--host H] exec <container> registry garbage-collect [flags] <config>``."""
    for what, value in (("container", container), ("config_path", config_path)):
        if not value or not str(value).strip() or str(value).startswith("-"):
            raise ValueError("%s must be set, got %r" % (what, value))
    argv = [docker] + (["--host", str(docker_host)] if docker_host else []) + [
        "exec", str(container), "registry", "garbage-collect"]
    if delete_untagged:
        argv.append("--delete-untagged")
    if dry_run:
        argv.append("--dry-run")
    argv.append(str(config_path))
    return argv


def parse_gc_output(text):
    """What one ``registry garbage-collect`` run printed (stdout and stderr together).

    Returns ``marked``, ``eligible_blobs``, ``eligible_manifests`` (from the summary line),
    ``blobs`` (eligible digests, in order, unique), ``manifests`` (the eligible manifest lines) and
    ``deleted`` (digests a real run logged as deleted). Raises ValueError without a summary line:
    the collector did not get to the sweep.
    """
    text = text or ""
    summary = _SUMMARY.search(text)
    if not summary:
        tail = " ".join(text.strip().splitlines()[-3:])[:400]
        raise ValueError("registry garbage-collect printed no summary line: %s" % (tail or "no output"))
    blobs = list(dict.fromkeys(_BLOB.findall(text)))
    deleted = list(dict.fromkeys("sha256:" + hexa for hexa in _DELETING.findall(text)))
    return {
        "marked": int(summary.group(1)),
        "eligible_blobs": int(summary.group(2)),
        "eligible_manifests": int(summary.group(3)),
        "blobs": blobs,
        "manifests": _MANIFEST.findall(text),
        "deleted": deleted,
    }


def blob_path(digest):
    """Driver-relative path of a blob's data (``/docker/registry/v2/blobs/sha256/ab/ab.../data``)."""
    if not _DIGEST.match(str(digest or "")):
        raise ValueError("%r is not a sha256 digest" % (digest,))
    hexa = str(digest).split(":", 1)[1]
    return "/docker/registry/v2/blobs/sha256/%s/%s/data" % (hexa[:2], hexa)


def s3_key(rootdirectory, digest):
    """The object key of a blob in the bucket (the s3 driver's rule: root + path, no leading /)."""
    return ((str(rootdirectory or "").rstrip("/")) + blob_path(digest)).lstrip("/")


def filesystem_path(host_dir, digest):
    """The file of a blob under the host directory mounted as the filesystem driver's root."""
    if not host_dir or not str(host_dir).startswith("/"):
        raise ValueError("the filesystem storage directory must be an absolute path, got %r" % (host_dir,))
    return os.path.join(str(host_dir), blob_path(digest).lstrip("/"))


def summarise(blobs, sizes=None, unmeasured_reason=None):
    """``{count, bytes, bytes_measured, bytes_note}`` for the eligible/removed ``blobs``.

    ``sizes`` maps digest to bytes (None: the object was not found). ``bytes`` is None whenever a
    size is unknown; ``bytes_note`` then says why.
    """
    blobs = list(blobs or [])
    sizes = sizes or {}
    if unmeasured_reason:
        return {"count": len(blobs), "bytes": None, "bytes_measured": False, "bytes_note": unmeasured_reason}
    missing = [d for d in blobs if sizes.get(d) is None]
    if missing:
        return {"count": len(blobs), "bytes": None, "bytes_measured": False,
                "bytes_note": "%d of %d blob(s) were not found in the storage before the collection "
                              "(first: %s)" % (len(missing), len(blobs), missing[0])}
    return {"count": len(blobs), "bytes": sum(int(sizes[d]) for d in blobs), "bytes_measured": True,
            "bytes_note": "measured in the storage before the collection"}


def unmeasured_reason(driver):
    """Why the bytes of a driver cannot be measured, or None when they can."""
    if driver in MEASURED_DRIVERS:
        return None
    return ("the %s storage driver is not measured by dockyard.registry (only %s): the blob count is exact, "
            "the bytes are unknown" % (driver, " and ".join(MEASURED_DRIVERS)))
