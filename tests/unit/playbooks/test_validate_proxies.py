# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/validate.yml with several proxies: every proxy equal, one VIP, never a password shown.

Only the first play (on the controller, no connection to the inventory's hosts) runs: ``--limit
localhost`` with localhost in the inventory.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.dockyard.registry.tests.harness import run_playbook

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]


def run_validate(tmp_path, proxies, extra_vars=None):
    inventory = {"all": {
        "vars": dict({"dockyard_registry_name": "registry.example.test",
                      "dockyard_registry_users": [{"name": "ci", "password": "shared-secret-1"}]},
                     **(extra_vars or {})),
        "children": {
            "registry_proxy": {"hosts": proxies},
            "registry_backends": {"hosts": {"b1": {}}},
            "controller": {"hosts": {"localhost": {"ansible_connection": "local",
                                                   "ansible_python_interpreter": sys.executable}}},
        }}}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    return run_playbook("-i", str(path), "--limit", "localhost", str(REPO / "playbooks" / "validate.yml"), timeout=300)


def test_two_equal_proxies_with_one_vip_pass(tmp_path):
    res = run_validate(tmp_path, {"p1": {}, "p2": {}}, {"dockyard_registry_vip": "192.0.2.100"})
    assert res.returncode == 0, res.stdout + res.stderr


def test_proxies_with_different_users_are_refused_without_showing_passwords(tmp_path):
    res = run_validate(tmp_path, {"p1": {}, "p2": {"dockyard_registry_users": [{"name": "ci", "password": "other-secret-2"}]}})
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "dockyard_registry_users differs between the proxies (p1, p2)" in out
    assert "shared-secret-1" not in out and "other-secret-2" not in out


def test_two_vips_are_refused(tmp_path):
    res = run_validate(tmp_path, {"p1": {"dockyard_registry_vip": "192.0.2.100"},
                                  "p2": {"dockyard_registry_vip": "192.0.2.101"}})
    assert res.returncode != 0 and "dockyard_registry_vip must be set once" in res.stdout + res.stderr


def test_a_vip_needs_two_proxies(tmp_path):
    res = run_validate(tmp_path, {"p1": {}}, {"dockyard_registry_vip": "192.0.2.100"})
    assert res.returncode != 0 and "needs at" in res.stdout + res.stderr
