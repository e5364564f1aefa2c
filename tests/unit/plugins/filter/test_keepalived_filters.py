# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.registry.plugins.filter.keepalived import FilterModule

F = FilterModule().filters()
HOSTVARS = {
    "p1": {"ansible_facts": {"default_ipv4": {"address": "10.0.0.11"}}},
    "p2": {"ansible_default_ipv4": {"address": "10.0.0.12"}},
}


def test_registered_names():
    assert sorted(F) == ["keepalived_auth_problems", "keepalived_config", "keepalived_peers"]


def test_peers_and_config():
    peers = F["keepalived_peers"](["p1", "p2"], HOSTVARS)
    assert [p["address"] for p in peers] == ["10.0.0.11", "10.0.0.12"]
    text = F["keepalived_config"]("p2", peers, vip="10.0.0.100", interface="eth0", virtual_router_id=7,
                                  vrrp_version=3, script="/etc/keepalived/check")
    assert "unicast_src_ip 10.0.0.12" in text and "virtual_router_id 7" in text and "authentication" not in text


def test_errors_are_filter_errors():
    with pytest.raises(AnsibleFilterError, match="not in the inventory"):
        F["keepalived_peers"](["p1", "p9"], HOSTVARS)
    with pytest.raises(AnsibleFilterError, match="list of inventory host names"):
        F["keepalived_peers"]("p1", HOSTVARS)
    peers = F["keepalived_peers"](["p1", "p2"], HOSTVARS)
    with pytest.raises(AnsibleFilterError, match="keepalived_vip"):
        F["keepalived_config"]("p1", peers, vip="", interface="eth0", virtual_router_id=7, vrrp_version=3,
                               script="/x")
    with pytest.raises(AnsibleFilterError, match="unexpected keyword|got an unexpected"):
        F["keepalived_config"]("p1", peers, vip="10.0.0.100", interface="eth0", virtual_router_id=7, bogus=1)


def test_auth_problems_never_show_the_password():
    assert F["keepalived_auth_problems"]("abcd1234", 2) == []
    problems = F["keepalived_auth_problems"]("much-too-long-secret", 2)
    assert problems and "much-too-long-secret" not in problems[0]
    assert F["keepalived_auth_problems"]("", 3) == []
    assert F["keepalived_auth_problems"]("x", 3)
