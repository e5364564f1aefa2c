#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nginx_drain
short_description: Drain a registry backend out of the nginx upstream on a proxy, or put it back
version_added: 0.2.0
description:
  - Runs on a proxy managed by the dockyard.registry.nginx role. nginx open source has no API to
    change an upstream at run time, so a drain marks the backend's C(server) line C(down) in
    C(nginx.conf), tests the file with C(nginx -t), reloads nginx gracefully (HUP) and, with
    O(wait), waits until the worker processes from before the reload have exited. nginx sends new
    requests only to the new workers, which never pick a C(down) server, and the old ones exit once
    their requests in flight are done; so when this module returns, no request is on its way to the
    backend any more.
  - O(state=active) removes the C(down) the drain added (a backend the inventory marks
    C(dockyard_lb_down) stays down) and reloads; it never waits. Put a backend back only once it is
    healthy (the dockyard.registry.registry role probes it first).
  - The drained set and its reasons are kept in the upstream state file (O(state_file)), which the
    nginx role reads when it renders C(nginx.conf), so a rerun of the role keeps a drained backend
    drained. A name that has no line in C(nginx.conf) yet is only recorded there.
  - Refuses to drain the last backend taking traffic unless O(allow_none_active).
  - A proxy without O(state_file) where no nginx master runs (O(pid_file)) has not been deployed
    yet (backends set up before the proxies, as in the recipe), so nothing routes to any backend
    there and there is nothing to drain or put back. The module reports no change and
    RV(deployed=false). The nginx role renders a backend it has not seen healthy as down. A
    running nginx without the state file (deployed by an earlier version of this collection) is
    an error (run the nginx role on that proxy first).
author:
  - dockyard.registry maintainers (@dockyard)
attributes:
  check_mode:
    description: Reports what would change; writes nothing and reloads nothing.
    support: full
  diff_mode:
    description: Returns the drained backends before and after (names and reasons).
    support: full
  idempotent:
    description: A backend already in the requested state reports no change and causes no reload.
    support: full
options:
  name:
    description: Inventory name of the backend (the C(dockyard-backend=) tag of its C(server) line).
    type: str
    required: true
  state:
    description: V(drained) takes the backend out of the upstream; V(active) puts it back.
    type: str
    choices: [drained, active]
    default: drained
  reason:
    description:
      - Why the backend is drained, kept in the state file. V(rolling) (a rolling change),
        V(pending) (new, not healthy yet), V(absent) (being removed), V(manual).
    type: str
    choices: [rolling, pending, absent, manual]
    default: rolling
  state_file:
    description: The upstream state file the nginx role writes (it names C(nginx.conf), the binary and the PID file).
    type: path
    default: /etc/dockyard/nginx-upstream.json
  pid_file:
    description:
      - The nginx PID file looked at only when O(state_file) does not exist (otherwise the state
        file names it), to tell a proxy not deployed yet from one whose nginx predates the state file.
    type: path
    default: /run/nginx.pid
  reload:
    description: Reload nginx after a change (test the configuration, then HUP to the master).
    type: bool
    default: true
  wait:
    description: After a drain, wait until the worker processes from before the reload have exited.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the old worker processes. When they are still running then (a long
        transfer in flight), the module fails; the backend stays drained.
    type: int
    default: 300
  allow_none_active:
    description: Drain even when no other backend would take traffic (a single-backend deployment).
    type: bool
    default: false
seealso:
  - name: Controlling nginx
    description: How a reload replaces the worker processes gracefully.
    link: https://nginx.org/en/docs/control.html
"""

EXAMPLES = r"""
- name: Drain backend1 on every proxy and wait for its requests in flight
  dockyard.registry.nginx_drain:
    name: backend1
    state: drained
    timeout: 120
  delegate_to: "{{ item }}"
  loop: "{{ groups['registry_proxy'] }}"

- name: Put it back once healthy
  dockyard.registry.nginx_drain:
    name: backend1
    state: active
  delegate_to: "{{ item }}"
  loop: "{{ groups['registry_proxy'] }}"
"""

RETURN = r"""
deployed:
  description: Whether nginx is deployed on this proxy (V(false) - no state file and no running nginx, nothing was done).
  returned: always
  type: bool
drained:
  description: The drained backends after the run, name to reason.
  returned: always
  type: dict
  sample: {backend1: rolling}
in_upstream:
  description: Whether C(nginx.conf) has a line for the backend.
  returned: always
  type: bool
reloaded:
  description: Whether nginx was reloaded.
  returned: always
  type: bool
old_workers:
  description: How many worker processes from before the reload were waited for.
  returned: always
  type: int
waited:
  description: Seconds spent waiting for them.
  returned: always
  type: float
"""

import os
import signal
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dockyard.registry.plugins.module_utils import _nginx_drain

NEW_WORKER_TIMEOUT = 15


def read_processes():
    processes = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                processes.append(_nginx_drain.parse_proc_stat(handle.read()))
        except (OSError, ValueError, IndexError):
            continue
    return processes


def master_pid(pid_file):
    try:
        with open(pid_file) as handle:
            pid = int(handle.read().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def write_file(module, path, text, like=None):
    """Atomic write next to ``path``; keeps the mode and owner of ``like`` (or of ``path``)."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".dockyard-drain.", dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        reference = like or path
        if os.path.exists(reference):
            info = os.stat(reference)
            os.chmod(tmp, info.st_mode & 0o7777)
            os.chown(tmp, info.st_uid, info.st_gid)
        else:
            os.chmod(tmp, 0o644)
        return tmp
    except Exception:
        os.unlink(tmp)
        raise


def test_config(module, binary, candidate):
    rc, out, err = module.run_command([binary, "-t", "-q", "-c", candidate])
    if rc != 0:
        return (out + err).strip() or "nginx -t failed with exit code %d" % rc
    return None


def wait_for_workers(module, pid, before, timeout):
    """Wait for new workers to start, then for every old one to exit. Returns seconds waited."""
    start = time.monotonic()
    deadline = start + max(0, timeout)
    seen_new = False
    while True:
        now = _nginx_drain.children(read_processes(), pid)
        seen_new = seen_new or bool(_nginx_drain.new_workers(before, now))
        left = _nginx_drain.old_workers_left(before, now)
        if seen_new and not left:
            return time.monotonic() - start
        elapsed = time.monotonic() - start
        if not seen_new and elapsed > NEW_WORKER_TIMEOUT:
            module.fail_json(msg="nginx (master %d) started no new worker process within %ds of the reload; "
                                 "see its error log" % (pid, NEW_WORKER_TIMEOUT), changed=True, reloaded=True)
        if time.monotonic() > deadline:
            module.fail_json(
                msg="%d nginx worker process(es) from before the reload still run after %ds: requests are still "
                    "in flight (long transfers). The backend stays drained. Raise the timeout (registry_drain_timeout) "
                    "or rerun later." % (len(left), timeout),
                changed=True, reloaded=True, old_workers=len(before), waited=round(elapsed, 1))
        time.sleep(0.2)


def run_module(module):
    params = module.params
    name, wanted = params["name"], params["state"]
    drained = wanted == "drained"
    if not os.path.exists(params["state_file"]) and master_pid(params["pid_file"]) is None:
        module.exit_json(changed=False, deployed=False, drained={}, in_upstream=False, reloaded=False,
                         old_workers=0, waited=0.0,
                         msg="no nginx deployed on this proxy yet (no %s, no nginx master in %s): nothing routes "
                             "to %s here" % (params["state_file"], params["pid_file"], name))
    try:
        with open(params["state_file"]) as handle:
            state = _nginx_drain.load_state(handle.read())
    except OSError as exc:
        module.fail_json(msg="cannot read the upstream state file %s (%s) although nginx runs on this proxy: run "
                             "the dockyard.registry.nginx role (playbooks/nginx.yml) on it first"
                             % (params["state_file"], exc.strerror))
    except ValueError as exc:
        module.fail_json(msg="%s: %s" % (params["state_file"], exc))
    conf_path, binary = state["conf"], state["binary"]
    try:
        with open(conf_path) as handle:
            conf = handle.read()
    except OSError as exc:
        module.fail_json(msg="cannot read %s: %s" % (conf_path, exc.strerror))

    try:
        new_conf, found = _nginx_drain.set_drained(conf, name, drained, params["allow_none_active"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    before = dict(state["drained"])
    after = dict(before)
    if drained:
        after[name] = params["reason"]
    else:
        after.pop(name, None)
    conf_changed = new_conf != conf
    state_changed = after != before
    result = {"changed": conf_changed or state_changed, "deployed": True, "drained": after, "in_upstream": found,
              "reloaded": False, "old_workers": 0, "waited": 0.0,
              "diff": {"before": {"drained": before}, "after": {"drained": after}}}
    if not found:
        module.warn("%s has no server line in %s; %s" % (name, conf_path, "recorded as drained, the nginx role will "
                    "render it down" if drained else "nothing to put back"))
    if module.check_mode or not result["changed"]:
        module.exit_json(**result)

    if conf_changed:
        candidate = write_file(module, conf_path, new_conf)
        try:
            problem = test_config(module, binary, candidate)
            if problem:
                module.fail_json(msg="nginx -t refused the configuration with %s %s: %s"
                                     % (name, wanted, problem), changed=False)
            state["drained"] = after
            state_tmp = write_file(module, params["state_file"], _nginx_drain.dump_state(state))
            # the state first: if we stop between the two, the nginx role still renders it drained
            os.replace(state_tmp, params["state_file"])
            os.replace(candidate, conf_path)
            candidate = None
        finally:
            if candidate and os.path.exists(candidate):
                os.unlink(candidate)
    else:
        state["drained"] = after
        state_tmp = write_file(module, params["state_file"], _nginx_drain.dump_state(state))
        os.replace(state_tmp, params["state_file"])

    if not (conf_changed and params["reload"]):
        module.exit_json(**result)
    pid = master_pid(state["pid_file"])
    if pid is None:
        module.warn("nginx is not running (no live master in %s): nothing to reload" % state["pid_file"])
        module.exit_json(**result)
    old = _nginx_drain.children(read_processes(), pid)
    os.kill(pid, signal.SIGHUP)
    result["reloaded"] = True
    if drained and params["wait"]:
        result["old_workers"] = len(old)
        result["waited"] = round(wait_for_workers(module, pid, old, params["timeout"]), 1)
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["drained", "active"], default="drained"),
            reason=dict(type="str", choices=list(_nginx_drain.REASONS), default="rolling"),
            state_file=dict(type="path", default=_nginx_drain.STATE_FILE),
            reload=dict(type="bool", default=True),
            wait=dict(type="bool", default=True),
            timeout=dict(type="int", default=300),
            allow_none_active=dict(type="bool", default=False),
            pid_file=dict(type="path", default="/run/nginx.pid"),
        ),
        supports_check_mode=True,
    )
    run_module(module)


if __name__ == "__main__":
    main()
