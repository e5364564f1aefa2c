# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The htpasswd files of the nginx and registry roles, written for real on this machine.

Runs the roles' own task files (nginx ``tasks_from: htpasswd``; registry ``secret`` then
``config``) with ``ansible_connection=local`` and every path under ``tmp_path``; the target Python
is the test's (it has bcrypt, so no package is installed). Proves that both files are managed
exclusively (a user missing from the list is removed) and that both roles report, by name, the
users they added, removed and rehashed, with no password or hash in the output.
Runs ansible-playbook through tests/harness.py (``run_lab_playbook`` of test_ca_role_local).
"""

from __future__ import annotations

import json
import os
import sys

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _htpasswd as h
from ansible_collections.dockyard.registry.tests.unit.roles.test_ca_role_local import make_lab, run_lab_playbook

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the roles write the files owned by root"),
]

INVENTORY = """
all:
  vars:
    dockyard_registry_name: registry.example.test
  children:
    registry_proxy:
      hosts:
        proxy1:
          ansible_connection: local
          ansible_python_interpreter: {python}
    registry_backends:
      hosts:
        backend1:
          ansible_connection: local
          dockyard_backend_address: 127.0.0.1
          ansible_python_interpreter: {python}
"""

PLAY = """
- name: The nginx role's htpasswd tasks
  hosts: registry_proxy
  gather_facts: false
  tasks:
    - name: Write the proxy's htpasswd file
      ansible.builtin.include_role:
        name: dockyard.registry.nginx
        tasks_from: htpasswd

- name: The registry role's config tasks (config.yml and the backend htpasswd)
  hosts: registry_backends
  gather_facts: false
  tasks:
    - name: Decide the http.secret
      ansible.builtin.include_role:
        name: dockyard.registry.registry
        tasks_from: secret
    - name: Write config.yml and the backend htpasswd file
      ansible.builtin.include_role:
        name: dockyard.registry.registry
        tasks_from: config
"""

SECRETS = ("pw-ci-0123456789", "pw-reader-0123456789", "pw-reader-changed-0123")
STALE_PASSWORD = "S3cret!"   # the {SHA} line below


@pytest.fixture
def lab(tmp_path):
    return make_lab(tmp_path, INVENTORY, PLAY, python=sys.executable)


def test_both_files_are_exclusive_and_report_names_only(lab):
    nginx_file = lab / "nginx" / "conf" / ".htpasswd"
    backend_file = lab / "registry" / "htpasswd"
    nginx_file.parent.mkdir(parents=True)
    backend_file.parent.mkdir(parents=True, mode=0o700)
    # Left over from earlier runs: "stale" (no longer listed) and "reader" with an old password.
    seeded = "stale:{SHA}n8Ks1GswRpcwwDkajhTBCdNCZjg=\nreader:%s\n"
    nginx_file.write_text(seeded % h.hash_password("old-reader", h.SHA512_CRYPT))
    backend_file.write_text(seeded % h.hash_password("old-reader", h.BCRYPT, bcrypt_cost=4))
    users = [{"name": "ci", "password": SECRETS[0]}, {"name": "reader", "password": SECRETS[1]}]
    extra = {
        "dockyard_registry_users": users,
        "nginx_prefix": str(lab / "nginx"),
        "nginx_group": "root",
        "registry_config_dir": str(lab / "registry"),
        "registry_filesystem_host_dir": str(lab / "storage"),
        "registry_http_secret": "lab-secret-0123456789abcdef",
        "registry_auth_htpasswd_enabled": True,
    }
    proc = run_lab_playbook(lab, "-e", json.dumps(extra))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]

    for path, label in ((nginx_file, "proxy"), (backend_file, "backend")):
        lines = {x.user: x.hashed for x in h.parse(path.read_text()) if x.is_entry}
        assert sorted(lines) == ["ci", "reader"], (label, sorted(lines))
        assert h.verify_password(SECRETS[1], lines["reader"]), label
    flat = " ".join(out.split())   # the YAML callback wraps long messages
    for path in (nginx_file, backend_file):
        assert "%s: 1 added (ci), 1 removed (stale), 1 updated (reader: password)" % path in flat, out[-4000:]

    for secret in SECRETS + (STALE_PASSWORD, "old-reader", "$6$", "$2y$", "n8Ks1Gsw"):
        assert secret not in out, secret
