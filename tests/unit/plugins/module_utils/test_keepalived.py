# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import re

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _keepalived as ka

HOSTVARS = {
    "proxy1": {"ansible_facts": {"default_ipv4": {"address": "10.0.0.11", "interface": "eth0"}}},
    "proxy2": {"ansible_facts": {"default_ipv4": {"address": "10.0.0.12", "interface": "eth0"}}},
    "proxy3": {"ansible_facts": {"default_ipv4": {"address": "10.0.0.13", "interface": "eth0"},
                                 "eth1": {"ipv4": {"address": "192.168.5.13"}}},
               "keepalived_interface": "eth1", "keepalived_priority": 200},
}
OPTIONS = dict(vip="10.0.0.100", interface="eth0", virtual_router_id=51,
               auth_file="/etc/keepalived/dockyard-auth.conf", script="/etc/keepalived/dockyard-check-nginx")


def peers(names=("proxy1", "proxy2")):
    return ka.vrrp_peers(list(names), HOSTVARS)


def render(me="proxy1", names=("proxy1", "proxy2"), **overrides):
    options = dict(OPTIONS, **overrides)
    return ka.render_config(ka.build_config(me, peers(names), **options))


def test_peers_come_from_facts_and_inventory_in_group_order():
    got = peers(("proxy1", "proxy2", "proxy3"))
    assert got == [
        {"name": "proxy1", "address": "10.0.0.11", "priority": 150},
        {"name": "proxy2", "address": "10.0.0.12", "priority": 149},
        {"name": "proxy3", "address": "192.168.5.13", "priority": 200},
    ]


def test_an_explicit_unicast_address_wins():
    hostvars = dict(HOSTVARS, proxy2={"keepalived_unicast_address": "10.9.9.9"})
    assert ka.vrrp_peers(["proxy1", "proxy2"], hostvars)[1]["address"] == "10.9.9.9"


@pytest.mark.parametrize("hosts, hostvars, message", [
    (["proxy1"], HOSTVARS, "at least two proxies"),
    (["proxy1", "proxy2"], dict(HOSTVARS, proxy2={}), "gather facts"),
    (["proxy1", "proxy2"], dict(HOSTVARS, proxy2={"keepalived_interface": "eth7", "ansible_facts": {}}), "eth7"),
    (["proxy1", "proxy2"], dict(HOSTVARS, proxy2={"keepalived_unicast_address": "10.0.0.11"}), "both speak VRRP"),
    (["proxy1", "proxy2"], dict(HOSTVARS, proxy2={"keepalived_unicast_address": "fe80::1"}), "IPv4"),
    (["proxy1", "proxy2"], dict(HOSTVARS, proxy2=dict(HOSTVARS["proxy2"], keepalived_priority=255)), "keepalived_priority"),
])
def test_peer_problems_name_the_variable(hosts, hostvars, message):
    with pytest.raises(ValueError, match=message):
        ka.vrrp_peers(hosts, hostvars)


def test_the_config_of_each_peer_points_at_the_others():
    first, second = render("proxy1"), render("proxy2")
    assert "unicast_src_ip 10.0.0.11" in first and re.search(r"unicast_peer \{\s+10\.0\.0\.12\s+\}", first)
    assert "unicast_src_ip 10.0.0.12" in second and re.search(r"unicast_peer \{\s+10\.0\.0\.11\s+\}", second)
    assert "priority 150" in first and "priority 149" in second
    for text in (first, second):
        assert "state BACKUP" in text and "nopreempt" in text and "check_unicast_src" in text
        assert "10.0.0.100/32 dev eth0" in text
        assert "virtual_router_id 51" in text and "version 2" in text
        assert "include /etc/keepalived/dockyard-auth.conf" in text
        assert "enable_script_security" in text and "script_user keepalived_script" in text


def test_preemption_is_off_unless_asked():
    assert "nopreempt" in render()
    text = render(preempt=True, preempt_delay=30)
    assert "nopreempt" not in text and "preempt_delay 30" in text


def test_vrrp3_has_no_authentication_block():
    text = render(vrrp_version=3, auth_file="")
    assert "version 3" in text and "authentication" not in text


def test_the_script_lines_are_marked_for_the_validation_wrapper():
    text = render(check_interval=2, check_timeout=3, check_fall=4, check_rise=5)
    without = re.sub(r"[ ]*%s.*?%s\n" % (re.escape(ka.SCRIPT_BEGIN), re.escape(ka.SCRIPT_END)), "", text, flags=re.S)
    assert "vrrp_script" not in without and "track_script" not in without and ka.SCRIPT not in without
    assert "vrrp_instance dockyard_registry {" in without and without.count("{") == without.count("}")
    assert "interval 2" in text and "timeout 4" in text and "fall 4" in text and "rise 5" in text
    assert text.count("{") == text.count("}")


@pytest.mark.parametrize("overrides, message", [
    ({"vip": "10.0.0.11"}, "address of proxy1"),
    ({"vip": "not-an-ip"}, "keepalived_vip"),
    ({"vip": "127.0.0.5"}, "loopback"),
    ({"interface": "eth0; rm -rf"}, "keepalived_interface"),
    ({"virtual_router_id": 0}, "keepalived_virtual_router_id"),
    ({"virtual_router_id": "x"}, "keepalived_virtual_router_id"),
    ({"vip_prefix": 33}, "keepalived_vip_prefix"),
    ({"auth_file": ""}, "keepalived_auth_pass"),
    ({"vrrp_version": 3}, "no authentication"),
    ({"vrrp_version": 4}, "keepalived_vrrp_version"),
    ({"preempt": "maybe"}, "keepalived_preempt"),
    ({"script": "relative.sh"}, "absolute path"),
    ({"check_fall": 0}, "keepalived_check_fall"),
    ({"script_user": "bad user"}, "keepalived_script_user"),
])
def test_bad_settings_name_the_variable(overrides, message):
    with pytest.raises(ValueError, match=message):
        render(**overrides)


def test_a_host_outside_the_peers_is_refused():
    with pytest.raises(ValueError, match="not one of the VRRP peers"):
        ka.build_config("proxy9", peers(), **OPTIONS)


@pytest.mark.parametrize("secret", ["s3cr3t", "12345678", "a+b=c@d%"])
def test_good_auth_passwords(secret):
    assert ka.check_auth_pass(secret, 2) == secret


@pytest.mark.parametrize("secret", ["", "123456789", "with space", "has#hash", 'quo"te', "brace}"])
def test_bad_auth_passwords_are_refused_without_being_shown(secret):
    with pytest.raises(ValueError) as caught:
        ka.check_auth_pass(secret, 2)
    assert "keepalived_auth_pass" in str(caught.value)
    if secret:
        assert secret not in str(caught.value)


def test_vrrp3_refuses_a_password():
    assert ka.check_auth_pass("", 3) == ""
    with pytest.raises(ValueError, match="VRRPv3 has no authentication"):
        ka.check_auth_pass("secret", 3)
