# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of ``_registry_config.versions``: the registry major version from ``registry_version`` or the tag.
"""

from __future__ import annotations

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _registry_config as rc


# ---------------------------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("image, version, major", [
    ("docker.io/library/registry:3.0.0", "", 3),
    ("registry:2", "", 2),
    ("registry:2.8.3", None, 2),
    ("localhost:5000/dockyard/registry:2.8.2-debian", "", 2),
    ("registry:3.0.0-rc.1", "", 3),
    ("registry:v3.0.0", "", 3),
    ("registry:3.0.0@sha256:" + "a" * 64, "", 3),
    ("registry:latest", "2", 2),
    ("registry@sha256:" + "b" * 64, 3, 3),
    ("registry:3.0.0", "2.8.3", 2),  # explicit wins
    ("mirror.local:5000/registry", "v3.0", 3),
])
def test_major_version(image, version, major):
    assert rc.major_version(image, version) == major


@pytest.mark.parametrize("image, version, message", [
    ("registry:latest", "", r"cannot derive .* tag 'latest'.*set registry_version"),
    ("localhost:5000/registry", "", r"cannot derive .* tag ''"),
    ("registry:1.0", "", r"registry 1, which is not supported"),
    ("registry:3.0.0", "4", r"major version 4 is not supported"),
    ("registry:3.0.0", "three", r"registry_version must be a registry release"),
    ("registry:3.0.0", True, r"registry_version must be a registry release"),
])
def test_major_version_errors(image, version, message):
    with pytest.raises(ValueError, match=message):
        rc.major_version(image, version)
