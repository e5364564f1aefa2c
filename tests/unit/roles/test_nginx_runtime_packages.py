# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""roles/nginx/vars/Debian.yml ``__nginx_runtime_behind_script``: which of a cached archive's library
packages a host must install or upgrade before it may run the archive (build_cached.yml).

Run with this machine's dpkg (Debian, like the lab and CI): a package at a version below the installed
one is satisfied, above it is behind, a package that is not installed is reported as ``none``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
SCRIPT = yaml.safe_load((REPO / "roles" / "nginx" / "vars" / "Debian.yml").read_text())["__nginx_runtime_behind_script"]

pytestmark = pytest.mark.skipif(not shutil.which("dpkg-query"), reason="needs dpkg (Debian)")


def behind(*pairs: str) -> list[str]:
    done = subprocess.run(["/bin/sh", "-c", SCRIPT, "runtime-behind", *pairs], capture_output=True, text=True,
                          check=True, timeout=30)
    return done.stdout.splitlines()


def installed(package: str) -> str:
    return subprocess.run(["dpkg-query", "--show", "--showformat", "${Version}", package], capture_output=True,
                          text=True, check=True).stdout


def test_older_or_equal_versions_are_satisfied():
    libc = installed("libc6")
    assert behind("libc6=0.1-1", f"libc6={libc}") == []


def test_a_newer_version_is_behind_with_both_versions():
    libc = installed("libc6")
    assert behind(f"libc6={libc}+dockyard1") == [f"libc6 {libc} {libc}+dockyard1"]


def test_epochs_and_tildes_compare_like_dpkg():
    libc = installed("libc6")  # no epoch: any epoch wins, a tilde sorts before the release
    assert behind(f"libc6=1:{libc}") == [f"libc6 {libc} 1:{libc}"]
    assert behind(f"libc6={libc}~rc1") == []


def test_a_package_that_is_not_installed_is_reported_as_none():
    assert behind("dockyard-no-such-package=1.0") == ["dockyard-no-such-package none 1.0"]


def test_nothing_asked_nothing_behind():
    assert behind() == []
