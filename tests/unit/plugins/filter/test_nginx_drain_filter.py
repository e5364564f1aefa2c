# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.registry.plugins.filter.nginx_drain import FilterModule
from ansible_collections.dockyard.registry.plugins.module_utils import _nginx, _nginx_drain

F = FilterModule().filters()
SERVERS = _nginx.build_upstream([{"name": "b1", "address": "10.0.0.11"}, {"name": "b2", "address": "10.0.0.12"}])["servers"]


def test_registered_names():
    assert sorted(F) == ["nginx_drain_plan", "nginx_new_backends", "nginx_server_directive", "nginx_upstream_known",
                         "nginx_upstream_state", "nginx_upstream_state_load"]


def test_template_lines_are_what_the_module_writes():
    rendered = "\n".join(F["nginx_server_directive"](s["line"], s["name"], s["name"] == "b2") for s in SERVERS)
    plain = "\n".join(F["nginx_server_directive"](s["line"], s["name"]) for s in SERVERS)
    assert _nginx_drain.set_drained(plain, "b2", True)[0] == rendered
    with pytest.raises(AnsibleFilterError):
        F["nginx_server_directive"]("x;y", "b1")


def test_known_new_and_plan():
    conf = "\n".join(F["nginx_server_directive"](s["line"], s["name"], s["name"] == "b1") for s in SERVERS[:1])
    known = F["nginx_upstream_known"](conf)
    assert known == {"names": ["b1"], "endpoints": ["10.0.0.11:5000"], "drained": ["b1"]}
    assert F["nginx_upstream_known"]("") == {"names": [], "endpoints": [], "drained": []}
    assert [s["name"] for s in F["nginx_new_backends"](SERVERS, known)] == ["b2"]
    assert F["nginx_drain_plan"](SERVERS, {"b1": "rolling"}, known, {"b2": False}, []) == {"b1": "rolling", "b2": "pending"}
    assert F["nginx_drain_plan"](SERVERS, {}, known, {"b2": True}, ["b1"]) == {"b1": "absent"}


def test_state_text_round_trip():
    text = F["nginx_upstream_state"]({"b2": "pending"}, "/opt/nginx/conf/nginx.conf", "/opt/nginx/sbin/nginx",
                                     "/run/nginx.pid")
    assert json.loads(text)["drained"] == {"b2": "pending"}
    assert F["nginx_upstream_state_load"](text) == {"b2": "pending"}
    assert F["nginx_upstream_state_load"]("") == {}
    with pytest.raises(AnsibleFilterError):
        F["nginx_upstream_state_load"]("{")
    with pytest.raises(AnsibleFilterError):
        F["nginx_upstream_state"]({"b1": "why"}, "/c", "/b", "/p")
