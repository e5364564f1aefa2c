# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import os
import stat

from ansible_collections.dockyard.registry.plugins.modules import nginx_build_info
from ansible_collections.dockyard.registry.tests.unit.plugins.modules.utils import run_module

ARGS = ["--prefix=/opt/nginx", "--user=www", "--group=www", "--with-pcre", "--with-http_ssl_module",
        "--with-cc-opt=-O2 -g"]


def fake_nginx(prefix, stderr, rc=0):
    """A stand-in for <prefix>/sbin/nginx that prints like `nginx -V` (on stderr, as nginx does)."""
    sbin = prefix / "sbin"
    sbin.mkdir(parents=True)
    binary = sbin / "nginx"
    binary.write_text("#!/bin/sh\n[ \"$1\" = -V ] || exit 2\ncat >&2 <<'EOF'\n%sEOF\nexit %d\n" % (stderr, rc))
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return str(binary)


def run(**params):
    return run_module(nginx_build_info, **params)


def test_not_installed(tmp_path):
    out = run(prefix=str(tmp_path), version="1.26.3", configure_args=ARGS)
    assert not out.failed
    assert out.result["changed"] is False
    assert out.result["installed"] is False
    assert out.result["installed_version"] is None
    assert out.result["needs_build"] is True
    assert out.result["binary"] == os.path.join(str(tmp_path), "sbin", "nginx")


def test_installed_same(tmp_path):
    fake_nginx(tmp_path, "nginx version: nginx/1.26.3\nconfigure arguments: --prefix=/opt/nginx --user=www "
                         "--group=www --with-pcre --with-http_ssl_module --with-cc-opt='-O2 -g'\n")
    out = run(prefix=str(tmp_path), version="1.26.3", configure_args=ARGS)
    assert out.result["installed"] is True
    assert out.result["installed_version"] == "1.26.3"
    assert out.result["installed_configure_args"] == ARGS
    assert out.result["needs_build"] is False
    assert out.result["wanted_configure_args"] == ARGS


def test_installed_older(tmp_path):
    fake_nginx(tmp_path, "nginx version: nginx/1.22.1\nconfigure arguments: --prefix=/opt/nginx\n")
    out = run(prefix=str(tmp_path), version="1.26.3", configure_args=ARGS)
    assert out.result["needs_build"] is True
    assert out.result["reason"] == "installed nginx 1.22.1, wanted 1.26.3"


def test_broken_binary(tmp_path):
    fake_nginx(tmp_path, "error while loading shared libraries: libpcre2-8.so.0\n", rc=127)
    out = run(prefix=str(tmp_path), version="1.26.3", configure_args=ARGS)
    assert out.result["installed"] is True
    assert out.result["installed_version"] is None
    assert out.result["needs_build"] is True
    assert "exit code 127" in out.result["reason"]


def test_binary_option(tmp_path):
    binary = fake_nginx(tmp_path / "elsewhere", "nginx version: nginx/1.26.3\nconfigure arguments: --prefix=/opt/nginx\n")
    out = run(binary=binary, version="1.26.3", configure_args=["--prefix=/opt/nginx"])
    assert out.result["binary"] == binary
    assert out.result["needs_build"] is False


def test_bad_version_fails(tmp_path):
    out = run(prefix=str(tmp_path), version="latest", configure_args=ARGS)
    assert out.failed
    assert "nginx_version must be an nginx release" in out.result["msg"]


def test_check_mode_runs(tmp_path):
    fake_nginx(tmp_path, "nginx version: nginx/1.26.3\n")
    out = run(prefix=str(tmp_path), version="1.26.3", configure_args=[], _ansible_check_mode=True)
    assert not out.failed
    assert out.result["needs_build"] is False
    json.dumps(out.result)
