# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of ``_oci.spec``: option validation, default seed and tag, the wrong password.
"""

from __future__ import annotations

import hashlib
import re

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils._oci import spec as oci_spec
from ansible_collections.dockyard.registry.tests.unit.plugins.module_utils._oci.fakes import PASSWORD


@pytest.mark.parametrize("url, expected", [
    ("https://registry.example.com", ("https", "registry.example.com", 443, "registry.example.com")),
    ("https://Registry.Example.com:5043/", ("https", "registry.example.com", 5043, "registry.example.com:5043")),
    ("http://127.0.0.1:5000", ("http", "127.0.0.1", 5000, "127.0.0.1:5000")),
    ("https://[::1]:8443", ("https", "::1", 8443, "[::1]:8443")),
])
def test_validate_url(url, expected):
    assert oci_spec.validate_url(url) == expected


@pytest.mark.parametrize("url", [None, "", "registry.example.com", "ftp://x", "https://", "https://x:99999",
                                 "https://u:p@x", "https://x/v2/", "https://x?a=1"])
def test_validate_url_rejects(url):
    with pytest.raises(ValueError, match="url"):
        oci_spec.validate_url(url)


@pytest.mark.parametrize("name", ["dockyard/verify", "a", "a-b/c__d/e.f", "x0/y--z"])
def test_repository_ok(name):
    assert oci_spec.validate_repository(name) == name


@pytest.mark.parametrize("name", ["", "Dockyard/verify", "a//b", "/a", "a/", "a_-b", "-a", None])
def test_repository_rejects(name):
    with pytest.raises(ValueError, match="repository"):
        oci_spec.validate_repository(name)


def test_tag_and_seed_defaults():
    seed = oci_spec.default_seed(now=0, entropy=b"\x01\x02\x03\x04")
    assert seed == "19700101T000000Z-01020304"
    assert oci_spec.default_tag(seed) == "check-19700101T000000Z-01020304"
    assert oci_spec.default_tag("a b/c") == "check-" + hashlib.sha256(b"a b/c").hexdigest()[:16]
    assert oci_spec.default_tag("x" * 200).startswith("check-") and len(oci_spec.default_tag("x" * 200)) == 22
    assert oci_spec.validate_tag(oci_spec.default_tag(seed))
    assert re.match(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$", oci_spec.default_seed())
    with pytest.raises(ValueError, match="tag"):
        oci_spec.validate_tag("-bad")
    with pytest.raises(ValueError, match="seed"):
        oci_spec.validate_seed("")


def test_wrong_password_differs_early():
    assert oci_spec.wrong_password(PASSWORD) != PASSWORD
    assert oci_spec.wrong_password(PASSWORD)[:8] != PASSWORD[:8]  # bcrypt only reads 72 bytes
    assert oci_spec.wrong_password(None)
