# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: ``run_checks``, the end-to-end probe of a Docker registry (HTTP API V2 / OCI).

Private to the dockyard.registry collection; other collections must not import it. Standard
library only, no Ansible import, so the ``registry_check`` module runs on any target with a stock
python3 (3.9 or later) and on the controller.

``run_checks`` validates the options (``ValueError`` naming the option), builds the image for the
seed, runs the requested checks in order through one client, and assembles the result: what each
check measured, the requests it made and the headers it saw. A check that fails raises
``CheckFailed`` carrying the partial result. Neither the password nor the ``Authorization``
header ever appears in a result.
"""

from __future__ import annotations

import time

from ansible_collections.dockyard.registry.plugins.module_utils._oci.checks import CheckFailed, _Checker
from ansible_collections.dockyard.registry.plugins.module_utils._oci.client import RegistryClient
from ansible_collections.dockyard.registry.plugins.module_utils._oci.image import build_image
from ansible_collections.dockyard.registry.plugins.module_utils._oci.spec import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_LAYERS,
    DEFAULT_REPOSITORY,
    DEFAULT_TIMEOUT,
    UPLOAD_MODES,
    _choice,
    _int,
    default_seed,
    default_tag,
    validate_checks,
    validate_header_names,
    validate_repository,
    validate_seed,
    validate_tag,
    validate_url,
)


class _Recorder:
    """Counts requests per phase and collects the values of the ``capture_headers``."""

    def __init__(self, capture):
        self.capture = tuple(capture)
        self.phase = None
        self.phases = {}

    def _stats(self):
        return self.phases.setdefault(self.phase, {"requests": 0, "headers": {}})

    def before(self, method, url):
        self._stats()["requests"] += 1

    def after(self, response):
        seen = self._stats()["headers"]
        for name in self.capture:
            value = response.header(name)
            if value is not None:
                values = seen.setdefault(name, [])
                if value not in values:
                    values.append(value)

    def summary(self, phase):
        stats = self.phases.get(phase, {"requests": 0, "headers": {}})
        headers = dict(stats["headers"])
        return {
            "requests": stats["requests"],
            "captured_headers": headers,
        }


def run_checks(url, username=None, password=None, ca_path=None, validate_certs=True, resolve=None,
               repository=DEFAULT_REPOSITORY, tag=None, seed=None, layers=DEFAULT_LAYERS,
               layer_format="tar+gzip", manifest_format="docker", upload="chunked",
               chunk_size=DEFAULT_CHUNK_SIZE, mount_from=None, expect_unauthenticated_401=True,
               timeout=DEFAULT_TIMEOUT, checks=None, capture_headers=(), check_mode=False,
               report_changed=True, clock=time.monotonic):
    """Probe the registry at ``url`` and return what was measured.

    Runs the requested ``checks`` in the order auth, push, pull, delete. In ``check_mode`` only
    ``auth`` runs (the others write or read what a skipped push would have written). Raises
    ValueError on bad options and CheckFailed (with ``.result``) when a check fails.
    """
    checks = validate_checks(checks)
    validate_url(url)
    repository = validate_repository(repository)
    mount_from = validate_repository(mount_from, "mount_from") if mount_from else None
    seed = validate_seed(seed) if seed not in (None, "") else default_seed()
    tag = validate_tag(tag) if tag not in (None, "") else default_tag(seed)
    _choice("upload", upload, UPLOAD_MODES)
    _int("chunk_size", chunk_size, 1)
    capture = validate_header_names(capture_headers)
    if username in ("", None):
        username = None
        if password not in (None, ""):
            raise ValueError("password is set but username is not")
    try:
        timeout = float(timeout)
    except (TypeError, ValueError):
        raise ValueError("timeout must be a number of seconds, got %r" % (timeout,)) from None
    if timeout <= 0:
        raise ValueError("timeout must be positive, got %r" % (timeout,))
    if expect_unauthenticated_401 and username is None and set(checks) - {"auth"}:
        raise ValueError("username and password are required for the %s check(s) when "
                         "expect_unauthenticated_401 is true" % ", ".join(c for c in checks if c != "auth"))
    image = build_image(seed, layers, layer_format, manifest_format)

    opts = {
        "repository": repository, "tag": tag, "seed": seed, "mount_from": mount_from, "upload": upload,
        "chunk_size": chunk_size, "expect_unauthenticated_401": bool(expect_unauthenticated_401),
        "password": password, "checks": checks,
    }
    scheme, host, port, netloc = validate_url(url)
    result = {
        "changed": False,
        "url": "%s://%s" % (scheme, netloc),
        "repository": repository,
        "tag": tag,
        "seed": seed,
        "reference": "%s/%s:%s" % (netloc, repository, tag),
        "image": image.summary(),
        "checks_passed": [],
        "checks_skipped": [],
        "captured_headers": {},
        "warnings": [],
    }
    recorder = _Recorder(capture)
    client = RegistryClient(url, username, password, ca_path, validate_certs, resolve, timeout, observer=recorder)
    checker = _Checker(client, image, opts, result, result["warnings"])
    try:
        for name in checks:
            if check_mode and name != "auth":
                result["checks_skipped"].append(name)
                continue
            recorder.phase = name
            details = result.setdefault(name, {})
            start = clock()
            try:
                getattr(checker, name)(details)
            finally:
                details["seconds"] = round(clock() - start, 3)
                summary = recorder.summary(name)
                details.update(summary)
                for header, values in summary["captured_headers"].items():
                    merged = result["captured_headers"].setdefault(header, [])
                    merged.extend(v for v in values if v not in merged)
                result["changed"] = bool(checker.wrote and report_changed)
            result["checks_passed"].append(name)
    except CheckFailed as exc:
        exc.result = result
        raise
    finally:
        client.close()
    return result
