# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The htpasswd_user_problems filter: the module's user-name rule, for the roles' preflight checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.dockyard.registry.plugins.filter.htpasswd_user_problems import FilterModule
from ansible_collections.dockyard.registry.plugins.module_utils import _htpasswd as h
from ansible_collections.dockyard.registry.plugins.module_utils import _htpasswd_plan as hp

F = FilterModule().filters()["htpasswd_user_problems"]
ROLES = Path(__file__).resolve().parents[4] / "roles"
SECRET = "pw-never-in-a-message"


def test_good_list_has_no_problem():
    assert F([{"name": "ci", "password": SECRET}, {"name": "reader", "state": "absent"}], "nginx_users") == []
    assert F([], "nginx_users") == []


@pytest.mark.parametrize("name, says", [
    ("al:ice", "nginx_users[0]: user name 'al:ice' must not contain a colon"),
    ("al\nice", "nginx_users[0]: user name 'al\\nice' must not contain a newline"),
    ("al\x7fice", "nginx_users[0]: user name 'al\\x7fice' must not contain control characters"),
    ("#alice", "nginx_users[0]: user name '#alice' must not start with '#'"),
    (" alice", "nginx_users[0]: user name ' alice' must not start or end with whitespace"),
    ("", "nginx_users[0]: user name must not be empty"),
    (None, "nginx_users[0]: user name must be a string"),
])
def test_each_bad_name_is_named_and_the_password_never(name, says):
    problems = F([{"name": name, "password": SECRET}], "nginx_users")
    assert len(problems) == 1 and problems[0].startswith(says), problems
    assert SECRET not in problems[0]


def test_duplicates_missing_names_and_non_dicts_are_all_reported():
    users = [{"name": "ci", "password": SECRET}, {"password": SECRET}, "ci", {"name": "ci", "password": SECRET},
             {"name": "x", "passwd": SECRET}]
    problems = F(users, "registry_auth_htpasswd_users")
    assert problems == [
        "registry_auth_htpasswd_users[1] has no name",
        "registry_auth_htpasswd_users[2] must be a dictionary {name, password, state}",
        "registry_auth_htpasswd_users[3]: user 'ci' is listed more than once",
        "registry_auth_htpasswd_users[4]: unknown keys passwd",
    ]
    assert not any(SECRET in p for p in problems)


def test_not_a_list():
    assert F("ci:pw", "nginx_users") == ["nginx_users must be a list of {name, password, state} dictionaries"]


@pytest.mark.parametrize("users", [
    [{"name": "a:b", "password": SECRET}],
    [{"name": "ok", "password": SECRET}, {"name": "ok", "password": SECRET}],
    [{"name": "#x", "password": SECRET}],
])
def test_the_module_refuses_exactly_what_the_filter_reports(users):
    """One rule: whatever the filter reports, the module's user_specs refuses with the same words."""
    problems = F(users)
    assert problems
    with pytest.raises(h.HtpasswdError) as exc:
        hp.user_specs(users=users)
    assert str(exc.value) == "; ".join(problems)


@pytest.mark.parametrize("role, var", [("nginx", "nginx_users"), ("registry", "registry_auth_htpasswd_users")])
def test_roles_check_their_user_list_with_the_filter_in_preflight(role, var):
    text = (ROLES / role / "tasks" / "preflight.yml").read_text()
    assert "%s | dockyard.registry.htpasswd_user_problems('%s')" % (var, var) in text
