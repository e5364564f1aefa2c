# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.registry.plugins.filter.nginx_upstream import FilterModule

F = FilterModule().filters()

HOSTVARS = {
    "backend1": {"ansible_host": "172.18.0.11", "dockyard_lb_weight": 2, "unrelated": "x"},
    "backend2": {"ansible_host": "203.0.113.7", "dockyard_backend_address": "10.0.0.12", "dockyard_lb_down": True},
    "backend3": {"dockyard_lb_backup": True},
}


def test_registered_names():
    assert sorted(F) == ["nginx_backends", "nginx_build_recipe", "nginx_configure_args", "nginx_listen_problems",
                         "nginx_upstream", "nginx_upstream_problems"]


FACTS = {"distribution": "Debian", "distribution_major_version": "12", "architecture": "x86_64"}
SHA = "69ee2b237744036e61d24b836668aad3040dda461fe6f570f1787eab570c75aa"


def test_build_recipe_from_facts():
    args = ["--prefix=/opt/nginx", "--user=www", "--group=www", "--with-http_ssl_module"]
    got = F["nginx_build_recipe"]("1.26.3", SHA, args, FACTS)
    assert got["id"].startswith("nginx-1.26.3-debian-12-x86_64-") and len(got["fingerprint"]) == 64
    assert got["recipe"]["os"] == "debian-12"
    other = F["nginx_build_recipe"]("1.26.3", SHA, args, dict(FACTS, architecture="aarch64"))
    assert other["fingerprint"] != got["fingerprint"]


def test_build_recipe_errors_are_filter_errors():
    with pytest.raises(AnsibleFilterError, match="nginx_source_sha256"):
        F["nginx_build_recipe"]("1.26.3", "", ["--with-pcre"], FACTS)
    with pytest.raises(AnsibleFilterError, match="ansible_facts"):
        F["nginx_build_recipe"]("1.26.3", SHA, ["--with-pcre"], "not facts")


def test_backends_from_hostvars():
    backends = F["nginx_backends"](["backend1", "backend2", "backend3"], HOSTVARS)
    assert [(b["name"], b["address"], b["weight"], b["down"], b["backup"]) for b in backends] == [
        ("backend1", "172.18.0.11", 2, False, False),
        ("backend2", "10.0.0.12", 1, True, False),
        ("backend3", "backend3", 1, False, True),
    ]


def test_backends_defaults_argument():
    backends = F["nginx_backends"](["backend3"], HOSTVARS, {"dockyard_backend_port": 5001})
    assert backends[0]["port"] == 5001


def test_backends_empty_and_errors():
    assert F["nginx_backends"](None, HOSTVARS) == []
    assert F["nginx_backends"]([], HOSTVARS) == []
    with pytest.raises(AnsibleFilterError, match="not in the inventory"):
        F["nginx_backends"](["ghost"], HOSTVARS)
    with pytest.raises(AnsibleFilterError, match="list of inventory host names"):
        F["nginx_backends"]("backend1", HOSTVARS)


def test_upstream_end_to_end():
    backends = F["nginx_backends"](["backend1", "backend2", "backend3"], HOSTVARS)
    model = F["nginx_upstream"](backends, method="least_conn")
    assert model["directive"] == "least_conn"
    assert [s["line"] for s in model["servers"]] == [
        "172.18.0.11:5000 weight=2 max_fails=1 fail_timeout=10s",
        "10.0.0.12:5000 max_fails=1 fail_timeout=10s down",
        "backend3:5000 max_fails=1 fail_timeout=10s backup",
    ]


def test_upstream_error_is_a_filter_error():
    backends = F["nginx_backends"](["backend1", "backend3"], HOSTVARS)
    with pytest.raises(AnsibleFilterError, match="does not support backup servers"):
        F["nginx_upstream"](backends, method="ip_hash")
    assert F["nginx_upstream_problems"](backends, method="ip_hash")
    assert F["nginx_upstream_problems"](backends) == []
    assert "dockyard_backends_group" in F["nginx_upstream_problems"]([], group_var="dockyard_backends_group")[0]


def test_listen_problems():
    listeners = [{"var": "nginx_listen_port", "address": "*", "port": 443},
                 {"var": "nginx_status_port", "address": "127.0.0.1", "port": 443}]
    assert len(F["nginx_listen_problems"](listeners)) == 1
    assert F["nginx_listen_problems"](listeners[:1], None, None) == []


def test_configure_args():
    assert F["nginx_configure_args"](["--with-http_ssl_module"], "/opt/nginx", "www", "www",
                                     required_flags=["--with-http_v2_module"]) == [
        "--prefix=/opt/nginx", "--user=www", "--group=www", "--with-http_ssl_module", "--with-http_v2_module"]
    with pytest.raises(AnsibleFilterError, match="do not set --prefix"):
        F["nginx_configure_args"](["--prefix=/usr"], "/opt/nginx", "www", "www")
