# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of ``_oci.probe``: ``run_checks`` refuses bad options before any request.
"""

from __future__ import annotations

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils._oci import probe as oci_probe
from ansible_collections.dockyard.registry.tests.unit.plugins.module_utils._oci.fakes import PASSWORD, USER


@pytest.mark.parametrize("kwargs, message", [
    (dict(checks=["auth", "bogus"]), "checks must be one of"),
    (dict(checks="auth"), "checks must be a list"),
    (dict(layers=[]), "layers must be a non-empty list"),
    (dict(layers=[-1]), r"layers\[0\] must be at least 0"),
    (dict(layers=["1"]), "must be an integer"),
    (dict(chunk_size=0), "chunk_size must be at least 1"),
    (dict(upload="stream"), "upload must be one of"),
    (dict(layer_format="zstd"), "layer_format must be one of"),
    (dict(manifest_format="v1"), "manifest_format must be one of"),
    (dict(repository="UPPER"), "repository"),
    (dict(mount_from="a//b"), "mount_from"),
    (dict(tag="bad tag"), "tag"),
    (dict(timeout=0), "timeout must be positive"),
    (dict(timeout="soon"), "timeout must be a number"),
    (dict(capture_headers=["bad header"]), "capture_headers"),
    (dict(username=None, password=None), "username and password are required"),
    (dict(username=None, password="x", expect_unauthenticated_401=False), "password is set but username is not"),
    (dict(resolve="10.0.0.1/24"), "resolve must be"),
    (dict(ca_path="/nonexistent/ca.pem"), "ca_path"),
])
def test_run_checks_rejects_bad_options(kwargs, message):
    args = dict(url="https://registry.example.com", username=USER, password=PASSWORD)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        oci_probe.run_checks(**args)
