# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The nginx role's binary upgrade helper (templates/nginx-upgrade.sh.j2), run for real.

The template is rendered with the role's defaults; ``systemctl`` is a stub on PATH that answers
from files under ``tmp_path``; the "nginx master" is a copy of ``sleep`` started from the installed
binary's path, so ``/proc/<pid>/exe`` is real. ``--check`` must tell, without sending any signal,
whether the running master runs the installed binary: the role calls it on every run, so a binary
installed by a run that died before its handlers is still started by the next run.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

jinja2 = pytest.importorskip("jinja2")

TEMPLATE = Path(__file__).resolve().parents[3] / "roles" / "nginx" / "templates" / "nginx-upgrade.sh.j2"
SLEEP = shutil.which("sleep")

SYSTEMCTL = """#!/bin/sh
# stub: is-active answers from $STUB/active, show --property MainPID --value from $STUB/mainpid
case "$1" in
  is-active) [ -e "$STUB/active" ] ;;
  show) cat "$STUB/mainpid" ;;
  *) echo "unexpected systemctl $*" >&2; exit 3 ;;
esac
"""


@pytest.fixture
def lab(tmp_path):
    if not SLEEP or not Path("/proc/self/exe").exists():
        pytest.skip("needs sleep(1) and /proc")
    prefix = tmp_path / "nginx"
    (prefix / "sbin").mkdir(parents=True)
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "systemctl").write_text(SYSTEMCTL)
    (stub / "systemctl").chmod(0o755)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["comment"] = lambda text: "#\n# " + text + "\n#"
    env.filters["quote"] = shlex.quote
    env.filters["basename"] = os.path.basename
    script = tmp_path / "dockyard-nginx-upgrade"
    script.write_text(env.from_string(TEMPLATE.read_text()).render(
        ansible_managed="Ansible managed",
        __nginx_upgrade_script=str(script),
        __nginx_binary=str(prefix / "sbin" / "nginx"),
        nginx_service_name="nginx",
        nginx_conf_file=str(prefix / "conf" / "nginx.conf"),
        nginx_pid_file=str(tmp_path / "nginx.pid"),
        nginx_upgrade_timeout=5,
    ))
    script.chmod(0o755)
    shutil.copy(SLEEP, prefix / "sbin" / "nginx")
    master = subprocess.Popen([str(prefix / "sbin" / "nginx"), "300"])
    (stub / "mainpid").write_text("%d\n" % master.pid)
    (stub / "active").write_text("")
    lab = {"script": script, "prefix": prefix, "stub": stub, "master": master,
           "env": dict(os.environ, STUB=str(stub), PATH="%s:%s" % (stub, os.environ["PATH"]))}
    yield lab
    master.send_signal(signal.SIGKILL)
    master.wait()


def helper(lab, *args):
    return subprocess.run([str(lab["script"])] + list(args), env=lab["env"], capture_output=True, text=True,
                          timeout=30, check=False)


def test_check_says_current_when_the_master_runs_the_installed_binary(lab):
    proc = helper(lab, "--check")
    assert (proc.returncode, proc.stdout) == (0, "current\n"), proc.stderr


def test_check_says_outdated_after_an_install_the_master_never_picked_up(lab):
    # What `make install` does: the old binary becomes nginx.old, the new one takes its name.
    sbin = lab["prefix"] / "sbin"
    os.rename(sbin / "nginx", sbin / "nginx.old")
    shutil.copy(SLEEP, sbin / "nginx")
    proc = helper(lab, "--check")
    assert proc.returncode == 0, proc.stderr
    pid = lab["master"].pid
    assert proc.stdout == "outdated: master %d runs %s, not %s\n" % (pid, sbin / "nginx.old", sbin / "nginx")
    # read-only: no signal was sent, the master still runs and no upgrade was started
    assert lab["master"].poll() is None
    assert not (lab["script"].parent / "nginx.pid.oldbin").exists()


def test_a_new_master_serving_while_the_old_one_drains_is_current(lab):
    # After a binary upgrade systemd still tracks the old master until its last transfer ends; the
    # PID file names the new master, which runs the installed binary: nothing is left to do.
    sbin = lab["prefix"] / "sbin"
    os.rename(sbin / "nginx", sbin / "nginx.old")
    shutil.copy(SLEEP, sbin / "nginx")
    new = subprocess.Popen([str(sbin / "nginx"), "300"])
    try:
        (lab["script"].parent / "nginx.pid").write_text("%d\n" % new.pid)
        (lab["script"].parent / "nginx.pid.oldbin").write_text("%d\n" % lab["master"].pid)
        for args in (["--check"], []):
            proc = helper(lab, *args)
            assert proc.returncode == 0, proc.stderr
            assert proc.stdout == "current (master %d; the old master %d is still finishing its connections)\n" % (
                new.pid, lab["master"].pid)
        assert lab["master"].poll() is None and new.poll() is None
    finally:
        new.kill()
        new.wait()


def test_check_says_not_running_when_the_unit_is_inactive(lab):
    (lab["stub"] / "active").unlink()
    proc = helper(lab, "--check")
    assert (proc.returncode, proc.stdout) == (0, "not-running\n"), proc.stderr


def test_unknown_arguments_are_refused_before_anything_happens(lab):
    proc = helper(lab, "--chek")
    assert proc.returncode != 0 and "usage" in proc.stderr
    assert lab["master"].poll() is None
