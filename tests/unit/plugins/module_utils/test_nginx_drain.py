# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _nginx, _nginx_drain


def upstream(*backends, drained=()):
    model = _nginx.build_upstream(list(backends))
    lines = ["    upstream registry {", "        zone registry 64k;"]
    for server in model["servers"]:
        lines.append("        " + _nginx_drain.server_directive(server["line"], server["name"], server["name"] in drained))
    lines += ["        keepalive 32;", "    }", ""]
    return "\n".join(lines)


B1 = {"name": "b1", "address": "10.0.0.11"}
B2 = {"name": "b2", "address": "10.0.0.12"}
B3 = {"name": "b3", "address": "10.0.0.13", "down": True}


def test_server_directive_active_and_drained():
    assert _nginx_drain.server_directive("10.0.0.11:5000 max_fails=1 fail_timeout=10s", "b1") == \
        "server 10.0.0.11:5000 max_fails=1 fail_timeout=10s;  # dockyard-backend=b1"
    assert _nginx_drain.server_directive("10.0.0.11:5000 max_fails=1", "b1", drained=True) == \
        "server 10.0.0.11:5000 max_fails=1 down;  # dockyard-backend=b1 drained"


def test_server_directive_keeps_an_inventory_down():
    assert _nginx_drain.server_directive("10.0.0.13:5000 down", "b3", drained=True) == \
        "server 10.0.0.13:5000 down;  # dockyard-backend=b3 drained-kept-down"


@pytest.mark.parametrize("line,name", [("", "b1"), ("10.0.0.1:5000;", "b1"), ("10.0.0.1:5000 # x", "b1"),
                                       ("10.0.0.1:5000", ""), ("10.0.0.1:5000", "bad name"), ("a", "b;c")])
def test_server_directive_refuses_what_would_break_the_file(line, name):
    with pytest.raises(ValueError):
        _nginx_drain.server_directive(line, name)


def test_drain_then_undrain_gives_back_the_same_text():
    conf = "http {\n" + upstream(B1, B2) + "}\n"
    drained, found = _nginx_drain.set_drained(conf, "b1", True)
    assert found
    assert drained == "http {\n" + upstream(B1, B2, drained=("b1",)) + "}\n"
    back, found = _nginx_drain.set_drained(drained, "b1", False)
    assert found and back == conf


def test_module_edit_equals_what_the_template_renders_for_every_combination():
    for names in ((), ("b1",), ("b2",), ("b1", "b3")):
        conf = upstream(B1, B2, B3)
        for name in names:
            conf, _ = _nginx_drain.set_drained(conf, name, True, allow_none_active=True)
        assert conf == upstream(B1, B2, B3, drained=names)


def test_inventory_down_stays_down_when_put_back():
    conf = upstream(B1, B3, drained=("b3",))
    back, _ = _nginx_drain.set_drained(conf, "b3", False)
    assert back == upstream(B1, B3)
    assert "10.0.0.13:5000 max_fails=1 fail_timeout=10s down;  # dockyard-backend=b3\n" in back


def test_drain_is_idempotent_and_unknown_names_are_reported():
    conf = upstream(B1, B2, drained=("b1",))
    again, found = _nginx_drain.set_drained(conf, "b1", True)
    assert found and again == conf
    same, found = _nginx_drain.set_drained(conf, "b9", True)
    assert not found and same == conf


def test_refuses_to_drain_the_last_backend_taking_traffic():
    conf = upstream(B1, B2, B3, drained=("b2",))
    with pytest.raises(ValueError) as err:
        _nginx_drain.set_drained(conf, "b1", True)
    assert "would leave no backend taking traffic" in str(err.value)
    assert "b2 (drained)" in str(err.value) and "b3 (down)" in str(err.value)
    forced, _ = _nginx_drain.set_drained(conf, "b1", True, allow_none_active=True)
    assert forced == upstream(B1, B2, B3, drained=("b1", "b2"))
    # already drained: no refusal, nothing to change
    alone = upstream(B1, drained=("b1",))
    assert _nginx_drain.set_drained(alone, "b1", True) == (alone, True)


def test_backup_servers_do_not_count_as_taking_traffic():
    conf = upstream(B1, {"name": "b4", "address": "10.0.0.14", "backup": True})
    with pytest.raises(ValueError):
        _nginx_drain.set_drained(conf, "b1", True)


def test_upstream_members_and_endpoints():
    conf = upstream(B1, B2, B3, drained=("b2",)) + "    upstream other {\n        server 127.0.0.1:9000;\n    }\n"
    members = _nginx_drain.upstream_members(conf)
    assert [(m["name"], m["endpoint"], m["drained"], m["down"]) for m in members] == [
        ("b1", "10.0.0.11:5000", False, False), ("b2", "10.0.0.12:5000", True, True),
        ("b3", "10.0.0.13:5000", False, True)]
    assert members[1]["line"] == "10.0.0.12:5000 max_fails=1 fail_timeout=10s"
    assert _nginx_drain.server_endpoints(conf) == ["10.0.0.11:5000", "10.0.0.12:5000", "10.0.0.13:5000",
                                                   "127.0.0.1:9000"]


def test_state_file_round_trip_and_validation():
    state = _nginx_drain.new_state("/opt/nginx/conf/nginx.conf", "/opt/nginx/sbin/nginx", "/run/nginx.pid",
                                   {"b2": "pending"})
    text = _nginx_drain.dump_state(state)
    assert text.endswith("\n")
    assert json.loads(text)["drained"] == {"b2": "pending"}
    assert _nginx_drain.load_state(text) == state
    assert _nginx_drain.dump_state(_nginx_drain.load_state(text)) == text
    for bad in ("not json", "[]", '{"version": 2}', '{"version": 1, "conf": "/c", "binary": "/b", '
                '"pid_file": "/p", "drained": {"b1": "because"}}', '{"version": 1, "conf": "rel", "binary": "/b", '
                '"pid_file": "/p"}'):
        with pytest.raises(ValueError):
            _nginx_drain.load_state(bad)


def test_plan_drained():
    servers = [{"name": "b1", "endpoint": "10.0.0.11:5000"}, {"name": "b2", "endpoint": "10.0.0.12:5000"},
               {"name": "b3", "endpoint": "10.0.0.13:5000"}, {"name": "b4", "endpoint": "10.0.0.14:5000"}]
    plan = _nginx_drain.plan_drained(
        previous={"b1": "rolling", "gone": "rolling"}, backends=servers, known_names=["b1", "b2"],
        known_endpoints=["10.0.0.11:5000", "10.0.0.12:5000"], healthy={"b4": True}, absent=["b2"])
    # b1 stays drained, b2 is leaving, b3 is new and unhealthy, b4 is new and healthy, "gone" is forgotten
    assert plan == {"b1": "rolling", "b2": "absent", "b3": "pending"}


def test_first_deployment_everything_pending_and_old_configs_known_by_endpoint():
    servers = [{"name": "b1", "endpoint": "10.0.0.11:5000"}, {"name": "b2", "endpoint": "10.0.0.12:5000"}]
    assert _nginx_drain.plan_drained({}, servers) == {"b1": "pending", "b2": "pending"}
    # a configuration written before the tags existed: the endpoint is known, nothing is pending
    assert _nginx_drain.plan_drained({}, servers, known_endpoints=["10.0.0.11:5000", "10.0.0.12:5000"]) == {}
    assert _nginx_drain.new_backends(servers, ["b1"], []) == ["b2"]


def test_worker_processes():
    stat = "4242 (nginx) S 4200 4200 4200 0 -1 4194624 1 0 0 0 0 0 0 0 20 0 1 0 777 1000 100"
    assert _nginx_drain.parse_proc_stat(stat) == (4242, 4200, 777)
    assert _nginx_drain.parse_proc_stat("17 (a b) c) R 1 17 17 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0") == (17, 1, 55)
    with pytest.raises(ValueError):
        _nginx_drain.parse_proc_stat("garbage")
    procs = [(1, 0, 1), (100, 1, 10), (101, 100, 11), (102, 100, 12), (103, 101, 13)]
    before = _nginx_drain.children(procs, 100)
    assert before == [(101, 11), (102, 12)]
    after = [(100, 1, 10), (102, 100, 12), (104, 100, 40)]
    now = _nginx_drain.children(after, 100)
    assert _nginx_drain.old_workers_left(before, now) == [(102, 12)]
    assert _nginx_drain.new_workers(before, now) == [(104, 40)]
    # a reused PID with another start time is not the old worker
    assert _nginx_drain.old_workers_left([(102, 12)], [(102, 99)]) == []
