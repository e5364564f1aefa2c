# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _nginx

# Real `nginx -V` output (stderr) of a build made with the role's default flags plus two extras.
V_1263 = """nginx version: nginx/1.26.3
built by gcc 12.2.0 (Debian 12.2.0-14+deb12u1)
built with OpenSSL 3.0.19 27 Jan 2026
TLS SNI support enabled
configure arguments: --prefix=/opt/nginx --user=www --group=www --with-pcre --with-http_stub_status_module \
--with-http_ssl_module --with-http_addition_module --with-http_realip_module --with-cc-opt='-O2 -g'
"""
ARGS_1263 = ["--prefix=/opt/nginx", "--user=www", "--group=www", "--with-pcre", "--with-http_stub_status_module",
             "--with-http_ssl_module", "--with-http_addition_module", "--with-http_realip_module",
             "--with-cc-opt=-O2 -g"]

# Debian's packaged nginx prints a vendor suffix and a long argument list.
V_DEBIAN = """nginx version: nginx/1.22.1
built with OpenSSL 3.0.11 19 Sep 2023
TLS SNI support enabled
configure arguments: --with-cc-opt='-g -O2 -ffile-prefix-map=/build/nginx-AoTv4W/nginx-1.22.1=. -fstack-protector-strong \
-Wformat -Werror=format-security -fPIC -Wdate-time -D_FORTIFY_SOURCE=2' --prefix=/usr/share/nginx --with-http_ssl_module \
--add-dynamic-module=/build/nginx-AoTv4W/nginx-1.22.1/debian/modules/http-geoip2
"""


class TestVersions:
    @pytest.mark.parametrize("value", ["1.26.3", "1.30.6", " 1.9.4 ", "10.0.0"])
    def test_valid(self, value):
        assert _nginx.validate_version(value) == value.strip()

    @pytest.mark.parametrize("value", [None, "", "1.26", "v1.26.3", "1.26.3a", "latest", 1.26])
    def test_invalid_names_the_variable(self, value):
        with pytest.raises(ValueError, match="nginx_version"):
            _nginx.validate_version(value)

    def test_compare(self):
        assert _nginx.version_at_least("1.25.1", "1.25.1")
        assert _nginx.version_at_least("1.26.3", "1.25.1")
        assert not _nginx.version_at_least("1.9.4", "1.15.1")
        assert _nginx.version_at_least("1.10.0", "1.9.9")


class TestParseNginxV:
    def test_real_output(self):
        parsed = _nginx.parse_nginx_v(V_1263)
        assert parsed.version == "1.26.3"
        assert parsed.configure_args == ARGS_1263

    def test_vendor_build_with_quoted_blanks_and_modules(self):
        parsed = _nginx.parse_nginx_v(V_DEBIAN)
        assert parsed.version == "1.22.1"
        assert parsed.configure_args[0].startswith("--with-cc-opt=-g -O2 -ffile-prefix-map")
        assert parsed.configure_args[-1].startswith("--add-dynamic-module=")
        assert len(parsed.configure_args) == 4

    def test_no_configure_line(self):
        parsed = _nginx.parse_nginx_v("nginx version: nginx/1.26.3\nbuilt by gcc 12\n")
        assert parsed.version == "1.26.3"
        assert parsed.configure_args == []

    def test_product_name_other_than_nginx(self):
        assert _nginx.parse_nginx_v("nginx version: openresty/1.25.3\n").version == "1.25.3"

    @pytest.mark.parametrize("text", [None, "", "bash: nginx: command not found", "nginx version: nginx/1.26\n"])
    def test_garbage(self, text):
        with pytest.raises(ValueError, match="nginx version"):
            _nginx.parse_nginx_v(text)

    def test_unbalanced_quote(self):
        with pytest.raises(ValueError, match="cannot split"):
            _nginx.parse_nginx_v("nginx version: nginx/1.26.3\nconfigure arguments: --with-cc-opt='-O2\n")


class TestNeedsBuild:
    def test_not_installed(self):
        build, reason = _nginx.needs_build(None, "1.26.3", ARGS_1263)
        assert build is True
        assert "not installed" in reason

    def test_same_build_is_not_rebuilt(self):
        assert _nginx.needs_build(V_1263, "1.26.3", ARGS_1263) == (
            False, "nginx 1.26.3 is installed with the wanted configure arguments")

    def test_flag_order_and_duplicates_do_not_matter(self):
        shuffled = list(reversed(ARGS_1263)) + ["--with-pcre"]
        assert _nginx.needs_build(V_1263, "1.26.3", shuffled)[0] is False

    def test_version_bump(self):
        build, reason = _nginx.needs_build(V_1263, "1.30.6", ARGS_1263)
        assert build is True
        assert reason == "installed nginx 1.26.3, wanted 1.30.6"

    def test_downgrade_also_rebuilds(self):
        assert _nginx.needs_build(V_1263, "1.22.1", ARGS_1263)[0] is True

    def test_added_flag(self):
        build, reason = _nginx.needs_build(V_1263, "1.26.3", ARGS_1263 + ["--with-http_v2_module"])
        assert build is True
        assert "adds --with-http_v2_module" in reason

    def test_removed_flag(self):
        build, reason = _nginx.needs_build(V_1263, "1.26.3", [a for a in ARGS_1263 if "realip" not in a])
        assert build is True
        assert "drops --with-http_realip_module" in reason

    def test_changed_value(self):
        args = [a.replace("--user=www", "--user=nginx") for a in ARGS_1263]
        build, reason = _nginx.needs_build(V_1263, "1.26.3", args)
        assert build is True
        assert "--user 'www' -> 'nginx'" in reason

    def test_prefix_change(self):
        args = [a.replace("/opt/nginx", "/usr/local/nginx") for a in ARGS_1263]
        assert _nginx.needs_build(V_1263, "1.26.3", args)[0] is True

    def test_quoted_value_compares_equal(self):
        args = [a for a in ARGS_1263 if not a.startswith("--with-cc-opt")] + ["--with-cc-opt=-O2 -g"]
        assert _nginx.needs_build(V_1263, "1.26.3", args)[0] is False
        args[-1] = "--with-cc-opt=-O3"
        assert _nginx.needs_build(V_1263, "1.26.3", args)[0] is True

    def test_last_value_wins_like_configure(self):
        args = ARGS_1263 + ["--prefix=/srv/nginx", "--prefix=/opt/nginx"]
        assert _nginx.needs_build(V_1263, "1.26.3", args)[0] is False

    def test_module_order_matters(self):
        output = ("nginx version: nginx/1.26.3\nconfigure arguments: --prefix=/opt/nginx "
                  "--add-module=/src/a --add-module=/src/b\n")
        same = ["--prefix=/opt/nginx", "--add-module=/src/a", "--add-module=/src/b"]
        assert _nginx.needs_build(output, "1.26.3", same)[0] is False
        build, reason = _nginx.needs_build(output, "1.26.3", ["--prefix=/opt/nginx", "--add-module=/src/b",
                                                              "--add-module=/src/a"])
        assert build is True
        assert "module list" in reason

    def test_unreadable_binary_rebuilds(self):
        build, reason = _nginx.needs_build("exit code 127: error while loading shared libraries", "1.26.3", ARGS_1263)
        assert build is True
        assert reason.startswith("cannot read the installed nginx")

    def test_bad_wanted_version(self):
        with pytest.raises(ValueError, match="nginx_version"):
            _nginx.needs_build(V_1263, "1.26", ARGS_1263)


class TestConfigureArgs:
    FLAGS = ["--with-pcre", "--with-http_stub_status_module", "--with-http_ssl_module",
             "--with-http_addition_module", "--with-http_realip_module"]

    def test_recipe_default(self):
        assert _nginx.configure_args("/opt/nginx", "www", "www", self.FLAGS) == [
            "--prefix=/opt/nginx", "--user=www", "--group=www"] + self.FLAGS

    def test_extra_and_required_are_appended_once(self):
        args = _nginx.configure_args("/opt/nginx/", "www", "www", self.FLAGS,
                                     ["--with-http_flv_module", "--with-pcre"], ["--with-http_v2_module"])
        assert args[0] == "--prefix=/opt/nginx"
        assert args.count("--with-pcre") == 1
        assert args[-2:] == ["--with-http_flv_module", "--with-http_v2_module"]

    def test_values_with_blanks_stay_one_argument(self):
        args = _nginx.configure_args("/opt/nginx", "www", "www", ["--with-cc-opt=-O2 -g"])
        assert args[-1] == "--with-cc-opt=-O2 -g"

    @pytest.mark.parametrize("flag", ["--prefix=/usr", "--user=root", "--group=root"])
    def test_derived_options_rejected(self, flag):
        with pytest.raises(ValueError, match="nginx_configure_flags: do not set"):
            _nginx.configure_args("/opt/nginx", "www", "www", [flag])

    @pytest.mark.parametrize("flag", ["with-pcre", "-j4", "--with-pcre; rm -rf /", "", "--"])
    def test_not_an_option(self, flag):
        with pytest.raises(ValueError, match="is not a configure option"):
            _nginx.configure_args("/opt/nginx", "www", "www", ["--with-pcre"], [flag])

    def test_string_instead_of_list(self):
        with pytest.raises(ValueError, match="nginx_configure_flags must be a list"):
            _nginx.configure_args("/opt/nginx", "www", "www", "--with-pcre")

    @pytest.mark.parametrize("prefix", ["opt/nginx", "", None])
    def test_relative_prefix(self, prefix):
        with pytest.raises(ValueError, match="nginx_prefix"):
            _nginx.configure_args(prefix, "www", "www", [])

    def test_bad_user(self):
        with pytest.raises(ValueError, match="nginx_group"):
            _nginx.configure_args("/opt/nginx", "www", "w w", [])


class TestValueSyntax:
    @pytest.mark.parametrize("value", ["10", "10s", "1m30s", "500ms", "1h", "7d", 30])
    def test_time(self, value):
        assert _nginx.is_nginx_time(value)

    @pytest.mark.parametrize("value", ["", "ten", "10 seconds", "-1s", True, None, "1.5s"])
    def test_not_time(self, value):
        assert not _nginx.is_nginx_time(value)

    @pytest.mark.parametrize("value", ["64k", "16k", "10m", "1g", "4096", 4096])
    def test_size(self, value):
        assert _nginx.is_nginx_size(value)

    @pytest.mark.parametrize("value", ["", "64kb", "1.5m", "-1", False, None])
    def test_not_size(self, value):
        assert not _nginx.is_nginx_size(value)


B1 = {"name": "backend1", "address": "10.0.0.11"}
B2 = {"name": "backend2", "address": "10.0.0.12"}


class TestBackendFromHostvars:
    def test_defaults(self):
        assert _nginx.backend_from_hostvars("backend1", {"ansible_host": "10.0.0.11"}) == {
            "name": "backend1", "address": "10.0.0.11", "port": 5000, "weight": 1, "down": False,
            "backup": False, "max_fails": 1, "fail_timeout": "10s"}

    def test_contract_variables(self):
        hostvars = {"ansible_host": "203.0.113.5", "dockyard_backend_address": "10.0.0.11", "dockyard_backend_port": 5001,
                    "dockyard_lb_weight": 2, "dockyard_lb_down": True, "dockyard_lb_backup": False,
                    "dockyard_lb_max_fails": 3, "dockyard_lb_fail_timeout": "30s"}
        assert _nginx.backend_from_hostvars("b", hostvars) == {
            "name": "b", "address": "10.0.0.11", "port": 5001, "weight": 2, "down": True, "backup": False,
            "max_fails": 3, "fail_timeout": "30s"}

    def test_inventory_name_fallback(self):
        assert _nginx.backend_from_hostvars("registry-1.internal", {})["address"] == "registry-1.internal"


class TestUpstream:
    def test_round_robin_default(self):
        model = _nginx.build_upstream([B1, B2])
        assert model["method"] == "round_robin"
        assert model["directive"] == ""
        assert [s["line"] for s in model["servers"]] == [
            "10.0.0.11:5000 max_fails=1 fail_timeout=10s", "10.0.0.12:5000 max_fails=1 fail_timeout=10s"]

    def test_recipe_example(self):
        # upstream registry { ip_hash; server 192.168.1.101:5000 weight=2; server 192.168.1.102:5000 down; }
        model = _nginx.build_upstream([{"name": "r1", "address": "192.168.1.101", "weight": 2},
                                       {"name": "r2", "address": "192.168.1.102", "down": True}], method="ip_hash")
        assert model["directive"] == "ip_hash"
        assert model["servers"][0]["line"] == "192.168.1.101:5000 weight=2 max_fails=1 fail_timeout=10s"
        assert model["servers"][1]["line"] == "192.168.1.102:5000 max_fails=1 fail_timeout=10s down"

    @pytest.mark.parametrize("method,directive", [
        ("least_conn", "least_conn"), ("ip_hash", "ip_hash"), ("hash", "hash $request_uri consistent"),
        ("url_hash", "hash $request_uri consistent"), ("random", "random")])
    def test_methods(self, method, directive):
        assert _nginx.build_upstream([B1, B2], method=method)["directive"] == directive

    def test_hash_options(self):
        model = _nginx.build_upstream([B1], method="hash", hash_key="$remote_addr$request_uri", hash_consistent=False)
        assert model["directive"] == "hash $remote_addr$request_uri"
        assert _nginx.build_upstream([B1], method="random", random_two=True)["directive"] == "random two"

    @pytest.mark.parametrize("key", ["", "$uri; return 200", "{", None])
    def test_bad_hash_key(self, key):
        with pytest.raises(ValueError, match="nginx_lb_hash_key"):
            _nginx.build_upstream([B1], method="hash", hash_key=key)

    def test_backup_with_round_robin_and_least_conn(self):
        for method in ("round_robin", "least_conn"):
            model = _nginx.build_upstream([B1, dict(B2, backup=True)], method=method)
            assert model["servers"][1]["line"].endswith(" backup")

    @pytest.mark.parametrize("method", ["ip_hash", "hash", "url_hash", "random"])
    def test_backup_rejected(self, method):
        with pytest.raises(ValueError) as err:
            _nginx.build_upstream([B1, dict(B2, backup=True)], method=method)
        assert "dockyard_lb_backup is true on backend2" in str(err.value)
        assert "round_robin or least_conn" in str(err.value)

    def test_bad_method(self):
        with pytest.raises(ValueError) as err:
            _nginx.build_upstream([B1], method="fair")
        assert "nginx_lb_method='fair'" in str(err.value)
        assert "round_robin, least_conn, ip_hash, hash, url_hash, random" in str(err.value)

    def test_empty_group(self):
        with pytest.raises(ValueError, match="dockyard_backends_group is empty"):
            _nginx.build_upstream([], group_var="dockyard_backends_group")

    def test_method_needs_newer_nginx(self):
        with pytest.raises(ValueError, match="random needs nginx >= 1.15.1"):
            _nginx.build_upstream([B1], method="random", version="1.9.4")
        assert _nginx.build_upstream([B1], method="random", version="1.22.1")

    def test_all_down(self):
        with pytest.raises(ValueError, match="every backend is down or backup"):
            _nginx.build_upstream([dict(B1, down=True), dict(B2, backup=True)])

    def test_duplicates(self):
        with pytest.raises(ValueError, match="backend1 and backend2 both point at 10.0.0.11:5000"):
            _nginx.build_upstream([B1, dict(B2, address="10.0.0.11")])
        assert len(_nginx.build_upstream([B1, dict(B2, address="10.0.0.11", port=5001)])["servers"]) == 2

    def test_string_values_from_inventory(self):
        model = _nginx.build_upstream([B1, dict(B2, port="5001", weight="3", down="false", backup="yes",
                                                max_fails="0", fail_timeout="1m")])
        server = model["servers"][1]
        assert (server["port"], server["weight"], server["down"], server["backup"], server["max_fails"]) == (
            5001, 3, False, True, 0)
        assert server["line"] == "10.0.0.12:5001 weight=3 max_fails=0 fail_timeout=1m backup"

    @pytest.mark.parametrize("key,value,message", [
        ("weight", 0, "dockyard_lb_weight (backend1) must be at least 1"),
        ("weight", "heavy", "dockyard_lb_weight (backend1) must be an integer"),
        ("port", 70000, "dockyard_backend_port (backend1) must be at most 65535"),
        ("max_fails", -1, "dockyard_lb_max_fails (backend1) must be at least 0"),
        ("fail_timeout", "soon", "dockyard_lb_fail_timeout (backend1)='soon' is not an nginx time"),
        ("down", "maybe", "dockyard_lb_down (backend1) must be a boolean"),
        ("backup", 2, "dockyard_lb_backup (backend1) must be a boolean"),
        ("address", "10.0.0.1; evil", "dockyard_backend_address (backend1)"),
        ("address", "", "dockyard_backend_address (backend1) is empty"),
    ])
    def test_bad_backend_values(self, key, value, message):
        with pytest.raises(ValueError) as err:
            _nginx.build_upstream([dict(B1, **{key: value}), B2])
        assert message in str(err.value)

    def test_unknown_key(self):
        with pytest.raises(ValueError, match="unknown keys wieght"):
            _nginx.build_upstream([dict(B1, wieght=2)])

    def test_not_a_dict(self):
        with pytest.raises(ValueError, match="must be a dict"):
            _nginx.build_upstream(["10.0.0.1:5000"])

    def test_ipv6_and_hostname(self):
        model = _nginx.build_upstream([dict(B1, address="fd00::11"), dict(B2, address="[fd00::12]"),
                                       {"name": "b3", "address": "registry-3.internal"}])
        assert [s["endpoint"] for s in model["servers"]] == ["[fd00::11]:5000", "[fd00::12]:5000",
                                                             "registry-3.internal:5000"]

    def test_every_problem_is_reported_at_once(self):
        problems = _nginx.upstream_problems([dict(B1, weight=0), dict(B2, backup=True)], method="ip_hash")
        assert len(problems) == 2


class TestListenProblems:
    def test_no_clash(self):
        listeners = [{"var": "nginx_listen_port", "address": "*", "port": 443},
                     {"var": "nginx_status_port", "address": "127.0.0.1", "port": 8080}]
        assert _nginx.listen_problems(listeners, [B1, B2], ["proxy"]) == []

    def test_tls_port_equals_status_port(self):
        listeners = [{"var": "nginx_listen_port", "address": "*", "port": 443},
                     {"var": "nginx_status_port", "address": "127.0.0.1", "port": "443"}]
        assert _nginx.listen_problems(listeners) == [
            "nginx_listen_port and nginx_status_port are both 443; give each listener its own port"]

    def test_distinct_addresses_do_not_clash(self):
        listeners = [{"var": "a", "address": "127.0.0.1", "port": 8080}, {"var": "b", "address": "10.0.0.1", "port": 8080}]
        assert _nginx.listen_problems(listeners) == []
        listeners[1]["address"] = "[::]"
        assert len(_nginx.listen_problems(listeners)) == 1

    def test_backend_on_proxy_host(self):
        listeners = [{"var": "nginx_listen_port", "address": "*", "port": 5000}]
        local = dict(B1, address="127.0.0.1")
        problems = _nginx.listen_problems(listeners, [local, B2], ["proxy"])
        assert len(problems) == 1
        assert "backend backend1 (127.0.0.1:5000) runs on the proxy host on port 5000" in problems[0]
        by_name = dict(B2, name="proxy")
        assert len(_nginx.listen_problems(listeners, [by_name], ["proxy"])) == 1
        assert _nginx.listen_problems(listeners, [B2], ["proxy"]) == []

    def test_bad_port(self):
        assert "nginx_status_port must be at most 65535" in _nginx.listen_problems(
            [{"var": "nginx_status_port", "address": "*", "port": 99999}])[0]


@pytest.mark.parametrize("hostvars,expected", [
    ({"dockyard_backend_address": "10.0.0.5", "ansible_host": "192.0.2.1"}, "10.0.0.5"),
    ({"ansible_host": "192.0.2.1", "ansible_default_ipv4": {"address": "10.0.0.6"}}, "192.0.2.1"),
    ({"ansible_host": "b1.example.com", "ansible_default_ipv4": {"address": "10.0.0.6"}}, "10.0.0.6"),
    ({"ansible_host": "b1.example.com"}, "b1.example.com"),
    ({}, "backend1"),
])
def test_backend_address_defaults_match_the_registry_listen_address(hostvars, expected):
    assert _nginx.backend_from_hostvars("backend1", hostvars)["address"] == expected
