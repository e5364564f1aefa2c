# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the ``registry`` role's preflight for real with ansible-playbook, on this machine.

Only ``tasks_from: secret`` and ``tasks_from: preflight``: they decide the http.secret (given
here), assert and record digests; nothing is written. Proves that a bad ``registry_image`` or
``registry_version`` is reported by a task that shows its message (not first by a ``no_log`` task,
where ansible-core 2.17/2.18 print only "censored"), and that invalid values which may hold a
secret (notification headers, URLs and addresses with ``user:password@``) are named, never echoed.
Runs ansible-playbook through tests/harness.py (``run_lab_playbook`` of test_ca_role_local).
"""

from __future__ import annotations

import json
import sys

import pytest

from ansible_collections.dockyard.registry.tests.unit.roles.test_ca_role_local import make_lab, run_lab_playbook

pytestmark = pytest.mark.slow

INVENTORY = """
all:
  vars:
    dockyard_registry_name: registry.example.test
    registry_http_secret: lab-secret-0123456789abcdef
    # no backend certificate here (the ca role's job): the plain-HTTP opt-out
    dockyard_backend_tls: false
  children:
    registry_backends:
      hosts:
        backend1:
          ansible_connection: local
          ansible_python_interpreter: {python}
          dockyard_backend_address: 127.0.0.1
"""

PLAY = """
- name: registry preflight only
  hosts: registry_backends
  gather_facts: false
  tasks:
    - name: Decide the http.secret
      ansible.builtin.include_role:
        name: dockyard.registry.registry
        tasks_from: secret
    - name: Run the preflight of dockyard.registry.registry
      ansible.builtin.include_role:
        name: dockyard.registry.registry
        tasks_from: preflight
"""

TOKEN = "tok3n-never-shown-0123"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    return make_lab(tmp_path_factory.mktemp("registry_preflight"), INVENTORY, PLAY, python=sys.executable)


def failure(lab, variables):
    """(name of the failed task, whole output) of a preflight that must fail."""
    proc = run_lab_playbook(lab, "-e", json.dumps(variables))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    task = out.split("fatal: [backend1]")[0].rsplit("TASK [", 1)[1].split("]")[0]
    return task, out


@pytest.mark.parametrize("variables, says", [
    ({"registry_image": "registry:stable"},
     "registry_version: cannot derive the registry major version from the tag 'stable' of registry_image "
     "'registry:stable'"),
    ({"registry_version": "three"},
     "registry_version must be a registry release such as 2.8.3 or 3.0.0 (or just 2 or 3), got 'three'"),
])
def test_bad_image_or_version_gets_a_real_message(lab, variables, says):
    task, out = failure(lab, variables)
    assert task == "dockyard.registry.registry : Check registry_version (or the tag of registry_image)", out[-3000:]
    assert "censored" not in out, out[-3000:]
    assert says in " ".join(out.split()), out[-3000:]


def test_secrets_in_invalid_values_are_named_never_echoed(lab):
    variables = {
        "registry_notifications": {"endpoints": [
            {"name": "audit", "url": "https://hook:%s@audit.internal/events" % TOKEN,
             "headers": {"Authorization": {"value": "Bearer " + TOKEN}}},
        ]},
        "registry_storage_driver": "s3",
        "registry_storage_s3": {"accesskey": "AKID", "secretkey": TOKEN, "bucket": "registry",
                                "region": "us-east-1", "regionendpoint": "http://ak:%s@ceph store" % TOKEN},
        "registry_blobdescriptor_cache": "redis",
        "registry_redis_addrs": ["redis://:%s@cache:6379/0" % TOKEN],
    }
    task, out = failure(lab, variables)
    assert task == "dockyard.registry.registry : Check storage, versions, durations and addresses", out[-3000:]
    flat = " ".join(out.split())
    assert "registry_notifications.endpoints[0].headers[Authorization] must be a list of strings, got a dict" in flat
    assert ("registry_storage_s3.regionendpoint must be an http:// or https:// URL, got 'http://***@ceph store'"
            in flat), out[-3000:]
    assert "registry_redis_addrs[0] must be host:port, got 'redis://***@cache:6379/0'" in flat
    assert TOKEN not in out
    assert "censored" not in out
