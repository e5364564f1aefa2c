# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the ``nginx`` role's preflight for real with ansible-playbook, on this machine.

Only ``tasks_from: preflight`` and only in ``--check`` mode: preflight gathers facts, asserts and
reads (stat, ``nginx -V``); nothing is built or written. Proves that bad user names in
``nginx_users`` (default ``dockyard_registry_users``) stop the run in preflight, before anything
is built, with a message naming the variable and the bad name, never a password.
Runs ansible-playbook through tests/harness.py (``run_lab_playbook`` of test_ca_role_local).
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.dockyard.registry.tests.unit.roles.test_ca_role_local import make_lab, run_lab_playbook

pytestmark = pytest.mark.slow

INVENTORY = """
all:
  vars:
    dockyard_registry_name: registry.example.test
    dockyard_registry_port: 5043
    dockyard_tls_dir: {tmp}/tls
    nginx_prefix: {tmp}/nginx
    nginx_version: "1.26.3"
    nginx_source_path: {tmp}/nginx-1.26.3.tar.gz
    nginx_backends:
      - {{name: b1, address: 192.0.2.21, port: 5000}}
  children:
    registry_proxy:
      hosts:
        proxy1:
          ansible_connection: local
          ansible_host: 127.0.0.1
          ansible_python_interpreter: {python}
"""

PLAY = """
- name: nginx preflight only
  hosts: registry_proxy
  gather_facts: false
  tasks:
    - name: Run the preflight of dockyard.registry.nginx
      ansible.builtin.include_role:
        name: dockyard.registry.nginx
        tasks_from: preflight
"""

PASSWORD = "pw-never-shown-0123456789"


@pytest.fixture
def lab(tmp_path):
    return make_lab(tmp_path, INVENTORY, PLAY)


def preflight(lab, users, *extra):
    return run_lab_playbook(lab, "--check", "-e", json.dumps({"dockyard_registry_users": users}), *extra)


def test_good_users_pass_the_preflight(lab):
    proc = preflight(lab, [{"name": "ci", "password": PASSWORD}, {"name": "reader", "password": PASSWORD}])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert PASSWORD not in proc.stdout + proc.stderr
    assert not (lab / "nginx").exists()


BAD_NAMES = [
    # (name, what the message says about it)
    ("al:ice", "nginx_users[1]: user name 'al:ice' must not contain a colon"),
    ("al\nice", "nginx_users[2]: user name 'al\\nice' must not contain a newline"),
    ("al\tice", "nginx_users[3]: user name 'al\\tice' must not contain control characters"),
    ("#alice", "nginx_users[4]: user name '#alice' must not start with '#'"),
    (" alice", "nginx_users[5]: user name ' alice' must not start or end with whitespace"),
    ("", "nginx_users[6]: user name must not be empty"),
    ("ci", "nginx_users[7]: user 'ci' is listed more than once"),
]


def test_bad_user_names_stop_the_run_in_preflight(lab):
    users = [{"name": "ci", "password": PASSWORD}]
    users += [{"name": name, "password": "%s-%d" % (PASSWORD, i)} for i, (name, _says) in enumerate(BAD_NAMES)]
    proc = preflight(lab, users)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    failed_task = out.split("fatal: [proxy1]")[0].rsplit("TASK [", 1)[1].split("]")[0]
    assert failed_task == "dockyard.registry.nginx : Check the registry user names", out[-3000:]
    assert "nginx_users (default: dockyard_registry_users)" in out
    for _name, says in BAD_NAMES:
        assert says in out, (says, out[-3000:])
    assert PASSWORD not in out
    assert not (lab / "nginx").exists()
