# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The nginx_size / nginx_time Jinja tests, and the nginx role's preflight check that uses them.

The preflight task is taken from roles/nginx/tasks/preflight.yml as it is and run alone on
localhost with the role's defaults, so a value the role must refuse is tried for real.
"""

from __future__ import annotations

import json

import pytest
import yaml

from ansible_collections.dockyard.registry.plugins.module_utils import _nginx
from ansible_collections.dockyard.registry.plugins.test import nginx_values
from ansible_collections.dockyard.registry.tests.harness import REPO, run_playbook

TASK = "Check nginx size and time values"


def test_the_tests_are_the_module_utils_rule():
    assert nginx_values.TestModule().tests() == {"nginx_size": _nginx.is_nginx_size, "nginx_time": _nginx.is_nginx_time}


@pytest.fixture(scope="module")
def preflight_play(tmp_path_factory):
    tasks = yaml.safe_load((REPO / "roles" / "nginx" / "tasks" / "preflight.yml").read_text())
    task = next(t for t in tasks if t.get("name") == TASK)
    defaults = yaml.safe_load((REPO / "roles" / "nginx" / "defaults" / "main.yml").read_text())
    play = [{"name": "nginx value syntax", "hosts": "localhost", "connection": "local", "gather_facts": False,
             "vars": {k: v for k, v in defaults.items() if k.startswith("nginx_")}, "tasks": [task]}]
    path = tmp_path_factory.mktemp("nginx_values") / "play.yml"
    path.write_text(yaml.safe_dump(play))
    return path


def run(play, **extra):
    return run_playbook("-i", "localhost,", play, "-e", json.dumps(extra), timeout=120)


@pytest.mark.slow
def test_the_role_defaults_pass(preflight_play):
    res = run(preflight_play)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]


BAD = [
    ("nginx_client_max_body_size", "1.5g", "size"),
    ("nginx_proxy_buffer_size", "64kb", "size"),
    ("nginx_proxy_read_timeout", "soon", "time"),
    ("nginx_blob_cache_inactive", "-1d", "time"),
]


@pytest.mark.slow
def test_bad_values_are_refused_naming_the_variable(preflight_play):
    """One run: the assert loops over every value and reports each bad one."""
    res = run(preflight_play, **{var: value for var, value, _kind in BAD})
    assert res.returncode != 0
    for var, value, kind in BAD:
        assert "%s=%s is not a valid nginx %s" % (var, json.dumps(value), kind) in res.stdout, var
