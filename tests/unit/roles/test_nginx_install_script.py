# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""roles/nginx/templates/nginx-install.sh.j2: a staged build goes into the prefix like `make install`.

The script is rendered with a prefix under tmp_path and run on a staged tree shaped like nginx's
``make install DESTDIR=...`` output: the old binary becomes nginx.old, koi/win/*.default files are
replaced, every other existing file (nginx.conf, mime.types, html) is kept, missing ones are added.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import jinja2
import pytest

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = REPO / "roles" / "nginx" / "templates" / "nginx-install.sh.j2"


def render(prefix: Path) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters.update(comment=lambda text: "# " + text, quote=shlex.quote, basename=os.path.basename)
    return env.from_string(TEMPLATE.read_text()).render(
        ansible_managed="Ansible managed", __nginx_binary=f"{prefix}/sbin/nginx",
        __nginx_install_script=f"{prefix}/sbin/dockyard-nginx-install",
        __nginx_upgrade_script=f"{prefix}/sbin/dockyard-nginx-upgrade")


def stage(root: Path, prefix: Path, version: str) -> Path:
    """A tree like `make install DESTDIR=root` writes for --prefix=prefix."""
    base = root / str(prefix).lstrip("/")
    files = {"sbin/nginx": f"#!/bin/sh\necho nginx {version}\n", "conf/nginx.conf": "# sample\n",
             "conf/nginx.conf.default": f"# sample {version}\n", "conf/mime.types": f"types {version}\n",
             "conf/mime.types.default": f"types {version}\n", "conf/koi-win": f"koi {version}\n",
             "html/index.html": f"<p>{version}</p>\n"}
    for name, content in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    (base / "sbin" / "nginx").chmod(0o755)
    (base / "logs").mkdir()
    return root


@pytest.fixture()
def script(tmp_path):
    prefix = tmp_path / "opt" / "nginx"
    path = tmp_path / "install.sh"
    path.write_text(render(prefix))
    path.chmod(0o755)
    return path, prefix


def install(script_path: Path, staged: Path):
    return subprocess.run([str(script_path), str(staged)], capture_output=True, text=True, check=False)


def test_fresh_install_copies_everything(tmp_path, script):
    path, prefix = script
    res = install(path, stage(tmp_path / "stage1", prefix, "1.26.3"))
    assert res.returncode == 0, res.stderr
    assert subprocess.run([str(prefix / "sbin" / "nginx")], capture_output=True, text=True).stdout == "nginx 1.26.3\n"
    assert not (prefix / "sbin" / "nginx.old").exists()
    assert (prefix / "logs").is_dir() and (prefix / "html" / "index.html").exists()
    assert f"installed {prefix}/sbin/nginx" in res.stdout


def test_upgrade_keeps_the_old_binary_and_the_operators_files(tmp_path, script):
    path, prefix = script
    assert install(path, stage(tmp_path / "stage1", prefix, "1.22.1")).returncode == 0
    (prefix / "conf" / "nginx.conf").write_text("# the role's nginx.conf\n")
    (prefix / "conf" / "mime.types").write_text("types edited\n")
    old_inode = (prefix / "sbin" / "nginx").stat().st_ino
    res = install(path, stage(tmp_path / "stage2", prefix, "1.26.3"))
    assert res.returncode == 0, res.stderr
    assert (prefix / "sbin" / "nginx").read_text().endswith("1.26.3\n")
    assert (prefix / "sbin" / "nginx.old").read_text().endswith("1.22.1\n")
    assert (prefix / "sbin" / "nginx.old").stat().st_ino == old_inode  # a running master keeps its file
    assert os.access(prefix / "sbin" / "nginx", os.X_OK)
    assert (prefix / "conf" / "nginx.conf").read_text() == "# the role's nginx.conf\n"
    assert (prefix / "conf" / "mime.types").read_text() == "types edited\n"
    assert (prefix / "conf" / "mime.types.default").read_text() == "types 1.26.3\n"
    assert (prefix / "conf" / "nginx.conf.default").read_text() == "# sample 1.26.3\n"
    assert (prefix / "conf" / "koi-win").read_text() == "koi 1.26.3\n"
    assert (prefix / "html" / "index.html").read_text() == "<p>1.22.1</p>\n"
    assert not list(prefix.rglob("*.dockyard-new"))


def test_a_tree_without_the_binary_is_refused(tmp_path, script):
    path, prefix = script
    staged = stage(tmp_path / "stage1", prefix, "1.26.3")
    (staged / str(prefix).lstrip("/") / "sbin" / "nginx").unlink()
    res = install(path, staged)
    assert res.returncode != 0 and "not an nginx build for this prefix" in res.stderr
    assert not prefix.exists()
