# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nginx_drain against a stand-in nginx: a master process that, like nginx on HUP, starts a new
worker and lets the old one finish (here: exit after a moment, or never when it is 'busy')."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _nginx, _nginx_drain
from ansible_collections.dockyard.registry.plugins.modules import nginx_drain
from ansible_collections.dockyard.registry.tests.unit.plugins.modules.utils import run_module

MASTER = r'''
import os, signal, subprocess, sys, time
busy = sys.argv[2] == "busy"
def worker():
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
workers = [worker()]
with open(sys.argv[1], "w") as f:
    f.write(str(os.getpid()))
reload = []
signal.signal(signal.SIGHUP, lambda *a: reload.append(1))
while True:
    if reload:
        reload.clear()
        old, new = list(workers), worker()
        workers[:] = [new]
        if not busy:
            time.sleep(0.3)   # the old worker finishes its requests in flight
            for w in old:
                w.terminate(); w.wait()
    time.sleep(0.05)
'''


def upstream(drained=()):
    model = _nginx.build_upstream([{"name": "b1", "address": "10.0.0.11"}, {"name": "b2", "address": "10.0.0.12"}])
    lines = ["events {}", "http {", "    upstream registry {"]
    lines += ["        " + _nginx_drain.server_directive(s["line"], s["name"], s["name"] in drained)
              for s in model["servers"]]
    return "\n".join(lines + ["    }", "}", ""])


@pytest.fixture
def proxy(tmp_path, request):
    mode = getattr(request, "param", "idle")
    conf = tmp_path / "nginx.conf"
    conf.write_text(upstream())
    conf.chmod(0o640)
    binary = tmp_path / "nginx"
    binary.write_text("#!/bin/sh\n# fake nginx -t -q -c FILE\nif grep -q INVALID \"$4\"; then echo 'emerg: bad' >&2;"
                      " exit 1; fi\nexit 0\n")
    binary.chmod(0o755)
    pid_file = tmp_path / "nginx.pid"
    master = subprocess.Popen([sys.executable, "-c", MASTER, str(pid_file), mode], start_new_session=True)
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.05)
    state = tmp_path / "state.json"
    state.write_text(_nginx_drain.dump_state(_nginx_drain.new_state(str(conf), str(binary), str(pid_file))))
    yield {"conf": conf, "state": state, "master": master, "dir": tmp_path}
    os.killpg(master.pid, signal.SIGKILL)  # the stand-in master and its workers: their own session
    master.wait()


def run(check_mode=False, **params):
    return run_module(nginx_drain, check_mode=check_mode or None, **params)


def children(pid):
    return _nginx_drain.children(nginx_drain.read_processes(), pid)


def test_drain_reloads_and_waits_for_the_old_workers(proxy):
    pid = proxy["master"].pid
    before = children(pid)
    assert len(before) == 1
    out = run(name="b1", state_file=str(proxy["state"]))
    assert not out.failed, out.result
    assert out.result["changed"] and out.result["reloaded"] and out.result["in_upstream"]
    assert out.result["old_workers"] == 1
    # when the module returns, the worker from before the reload is gone and a new one serves
    now = children(pid)
    assert _nginx_drain.old_workers_left(before, now) == []
    assert len(now) == 1
    assert proxy["conf"].read_text() == upstream(drained=("b1",))
    assert oct(proxy["conf"].stat().st_mode & 0o777) == "0o640"
    assert json.loads(proxy["state"].read_text())["drained"] == {"b1": "rolling"}
    assert out.result["diff"] == {"before": {"drained": {}}, "after": {"drained": {"b1": "rolling"}}}


def test_second_drain_and_undrain(proxy):
    run(name="b1", state_file=str(proxy["state"]))
    again = run(name="b1", state_file=str(proxy["state"]))
    assert not again.result["changed"] and not again.result["reloaded"]
    back = run(name="b1", state="active", state_file=str(proxy["state"]))
    assert back.result["changed"] and back.result["reloaded"] and back.result["old_workers"] == 0
    assert proxy["conf"].read_text() == upstream()
    assert json.loads(proxy["state"].read_text())["drained"] == {}


def test_check_mode_changes_nothing(proxy):
    conf_before, state_before = proxy["conf"].read_text(), proxy["state"].read_text()
    pid = proxy["master"].pid
    workers = children(pid)
    out = run(check_mode=True, name="b1", state_file=str(proxy["state"]))
    assert out.result["changed"] and not out.result["reloaded"]
    assert proxy["conf"].read_text() == conf_before and proxy["state"].read_text() == state_before
    assert children(pid) == workers


def test_refuses_to_drain_the_last_active_backend(proxy):
    run(name="b1", state_file=str(proxy["state"]))
    out = run(name="b2", state_file=str(proxy["state"]))
    assert out.failed and "would leave no backend taking traffic" in out.result["msg"]
    assert proxy["conf"].read_text() == upstream(drained=("b1",))
    forced = run(name="b2", state_file=str(proxy["state"]), allow_none_active=True, wait=False)
    assert not forced.failed and proxy["conf"].read_text() == upstream(drained=("b1", "b2"))


def test_config_refused_by_nginx_changes_nothing(proxy):
    text = proxy["conf"].read_text().replace("events {}", "events {} # INVALID")
    proxy["conf"].write_text(text)
    state_before = proxy["state"].read_text()
    out = run(name="b1", state_file=str(proxy["state"]))
    assert out.failed and "nginx -t refused" in out.result["msg"] and "emerg: bad" in out.result["msg"]
    assert proxy["conf"].read_text() == text and proxy["state"].read_text() == state_before
    assert [p for p in os.listdir(proxy["dir"]) if p.startswith(".dockyard-drain.")] == []


def test_unknown_backend_is_recorded_for_the_nginx_role(proxy):
    out = run(name="b9", state_file=str(proxy["state"]), reason="pending")
    assert out.result["changed"] and not out.result["in_upstream"] and not out.result["reloaded"]
    assert json.loads(proxy["state"].read_text())["drained"] == {"b9": "pending"}
    assert proxy["conf"].read_text() == upstream()


@pytest.mark.parametrize("proxy", ["busy"], indirect=True)
def test_busy_old_worker_times_out_and_the_backend_stays_drained(proxy):
    out = run(name="b1", state_file=str(proxy["state"]), timeout=1)
    assert out.failed and "still run after 1s" in out.result["msg"]
    assert proxy["conf"].read_text() == upstream(drained=("b1",))


def test_module_default_state_file_is_the_nginx_role_path():
    import yaml  # pylint: disable=import-outside-toplevel
    role_vars = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "nginx", "vars", "main.yml")
    with open(role_vars) as handle:
        assert yaml.safe_load(handle)["__nginx_upstream_state_file"] == _nginx_drain.STATE_FILE


def test_a_proxy_not_deployed_yet_has_nothing_to_drain(tmp_path):
    # Backends first, proxies later (the nginx scenario, the recipe): no state file, no nginx.
    for state in ("drained", "active"):
        out = run(name="b1", state=state, state_file=str(tmp_path / "state.json"), pid_file=str(tmp_path / "nginx.pid"))
        assert not out.failed, out.result
        assert out.result["changed"] is False and out.result["deployed"] is False
        assert "no nginx deployed on this proxy yet" in out.result["msg"]
    assert not (tmp_path / "state.json").exists()


def test_a_running_nginx_without_the_state_file_is_an_error(proxy):
    # An nginx deployed by an earlier version of the collection: it routes, so draining matters.
    missing = proxy["dir"] / "missing.json"
    out = run(name="b1", state_file=str(missing), pid_file=str(proxy["dir"] / "nginx.pid"))
    assert out.failed
    assert "although nginx runs on this proxy" in out.result["msg"] and "playbooks/nginx.yml" in out.result["msg"]
    assert proxy["conf"].read_text() == upstream()
