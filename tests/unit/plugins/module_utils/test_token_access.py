"""Scope grammar, access rules and claims of the token service (module_utils/_token_access.py)."""

from __future__ import annotations

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _token_access as ta
from ansible_collections.dockyard.registry.plugins.module_utils._token_access import Scope


@pytest.mark.parametrize("text, expected", [
    ("repository:team-a/app:pull", Scope("repository", "team-a/app", ["pull"])),
    ("repository:team-a/app:pull,push", Scope("repository", "team-a/app", ["pull", "push"])),
    ("repository:team-a/app:push,pull,push", Scope("repository", "team-a/app", ["push", "pull"])),
    ("repository(plugin):a/b:pull", Scope("repository", "a/b", ["pull"])),
    ("repository:localhost:5000/a/b:pull", Scope("repository", "localhost:5000/a/b", ["pull"])),
    ("registry:catalog:*", Scope("registry", "catalog", ["*"])),
    ("repository:a__b.c-d/e:*", Scope("repository", "a__b.c-d/e", ["*"])),
])
def test_valid_scopes_parse(text, expected):
    assert ta.parse_scope(text) == expected


@pytest.mark.parametrize("text", [
    "", "repository", "repository:a", "repository::pull", "Repository:a:pull", "repository:a/B:pull",
    "repository:a/:pull", "repository:/a:pull", "repository:a//b:pull", "repository:a:pu-ll",
    "repository:a:PULL", "repository:a b:pull", "repository:a\n:pull", "repository:a:pull;rm",
    "repository:" + "a" * 300 + ":pull", "repository:a" + "/b" * 600 + ":pull",
    "repository:-a:pull", "repository:a\x00:pull", "repository:../etc:pull",
])
def test_malformed_scopes_are_refused(text):
    with pytest.raises(ValueError):
        ta.parse_scope(text)


def test_scope_parameters_split_on_spaces_and_are_bounded():
    scopes = ta.parse_scopes(["repository:a:pull repository:b:pull,push", "registry:catalog:*"])
    assert [s.name for s in scopes] == ["a", "b", "catalog"]
    with pytest.raises(ValueError):
        ta.parse_scopes(["repository:a:pull"] * (ta.MAX_SCOPES + 1))
    with pytest.raises(ValueError):
        ta.parse_scopes(["x" * (ta.MAX_SCOPE_LENGTH * ta.MAX_SCOPES + 1)])
    assert ta.parse_scopes([]) == [] and ta.parse_scopes(None) == []


@pytest.mark.parametrize("pattern, matches, misses", [
    ("team-a/*", ["team-a/app", "team-a/x.y"], ["team-a", "team-a/x/y", "team-b/app", "xteam-a/app"]),
    ("team-a/**", ["team-a/app", "team-a/x/y"], ["team-a", "team-ab/app", "team-b/app"]),
    ("**", ["a", "a/b/c"], []),
    ("**/base", ["base", "x/base", "x/y/base"], ["x/base2", "base/x"]),
    ("a/**/z", ["a/z", "a/b/z", "a/b/c/z"], ["a/b/zz", "b/z"]),
    ("app-?", ["app-1", "app-x"], ["app-12", "app-/"]),
    ("library/nginx", ["library/nginx"], ["library/nginx2", "library/ngin"]),
    ("a.b", ["a.b"], ["axb"]),
])
def test_patterns_match_path_components(pattern, matches, misses):
    rx = ta.compile_pattern(pattern)
    for name in matches:
        assert rx.match(name), (pattern, name)
    for name in misses:
        assert not rx.match(name), (pattern, name)


@pytest.mark.parametrize("pattern", ["", "/a", "a/", "a//b", "A/b", "a b", "***", "a**", "a/**b", "a/b!", 7, None,
                                     "x" * 300])
def test_bad_patterns_are_refused(pattern):
    assert ta.pattern_problem(pattern)
    with pytest.raises(ValueError):
        ta.compile_pattern(pattern)


RULES = {
    "anonymous_pull": ["public/**"],
    "users": [
        {"name": "reader", "rules": [{"repositories": ["**"], "actions": ["pull"]}]},
        {"name": "alice", "rules": [{"repositories": ["team-a/*"], "actions": ["pull", "push", "delete"]},
                                    {"repositories": ["shared/**"], "actions": ["pull"]}]},
        {"name": "nocat", "rules": [{"repositories": ["x/*"], "actions": ["pull"]}], "catalog": False},
    ],
}


@pytest.fixture
def policy():
    return ta.Policy(ta.normalize_access(RULES, ["reader", "alice", "nocat", "ci"]))


def test_valid_rules_have_no_problems():
    assert ta.access_problems(RULES, ["reader", "alice", "nocat"]) == []
    assert ta.access_problems(None) == []
    assert ta.access_problems({}) == []


@pytest.mark.parametrize("access, fragment", [
    ({"users": [{"name": "a", "rules": [{"repositories": ["x"], "actions": ["read"]}]}]}, "unknown action(s) 'read'"),
    ({"users": [{"name": "a", "rules": [{"repositories": ["X/*"], "actions": ["pull"]}]}]}, "pattern 'X/*'"),
    ({"users": [{"name": "a", "rules": []}, {"name": "a", "rules": []}]}, "duplicate user 'a'"),
    ({"users": [{"name": "ghost", "rules": []}]}, "'ghost' is not in dockyard_registry_users"),
    ({"users": [{"name": "a"}]}, "users[0] (a).rules must be a list"),
    ({"users": [{"name": "a", "rules": [{"repositories": [], "actions": ["pull"]}]}]}, "non-empty list of patterns"),
    ({"users": [{"name": "a", "rules": [{"repositories": ["x"], "actions": []}]}]}, "actions must be a non-empty"),
    ({"users": [{"name": "a", "rules": [], "catalog": "yes"}]}, "catalog must be true or false"),
    ({"users": [{"name": "a", "rules": [], "admin": True}]}, "unknown key(s) admin"),
    ({"anonymous_pull": ["Public/*"]}, "anonymous_pull: pattern 'Public/*'"),
    ({"anonymous_pull": "public/*"}, "anonymous_pull must be a list"),
    ({"everyone": True}, "unknown key(s) everyone"),
    ("all", "must be a dict"),
])
def test_invalid_rules_are_refused_naming_the_variable(access, fragment):
    problems = ta.access_problems(access, ["a"])
    assert problems, access
    text = "; ".join(problems)
    assert fragment in text
    assert "dockyard_registry_access" in text
    with pytest.raises(ValueError):
        ta.normalize_access(access, ["a"])


def test_users_without_rules_may_do_everything(policy):
    scopes = ta.parse_scopes(["repository:any/thing:pull,push,delete", "registry:catalog:*"])
    assert policy.grant("ci", scopes) == [
        {"type": "repository", "name": "any/thing", "actions": ["pull", "push", "delete"]},
        {"type": "registry", "name": "catalog", "actions": ["*"]}]


def test_pull_only_user_gets_pull_and_nothing_more(policy):
    assert policy.grant("reader", ta.parse_scopes(["repository:team-b/app:pull,push"])) == [
        {"type": "repository", "name": "team-b/app", "actions": ["pull"]}]


def test_team_user_is_limited_to_its_patterns(policy):
    grant = policy.grant("alice", ta.parse_scopes(["repository:team-a/app:pull,push",
                                                  "repository:team-b/app:pull",
                                                  "repository:shared/base/img:pull,push",
                                                  "repository:team-a/deep/app:pull"]))
    assert grant == [{"type": "repository", "name": "team-a/app", "actions": ["pull", "push"]},
                     {"type": "repository", "name": "shared/base/img", "actions": ["pull"]}]


def test_star_action_means_every_allowed_action(policy):
    assert policy.grant("alice", ta.parse_scopes(["repository:team-a/app:*"])) == [
        {"type": "repository", "name": "team-a/app", "actions": ["pull", "push", "delete"]}]


def test_anonymous_gets_pull_on_public_patterns_only(policy):
    scopes = ta.parse_scopes(["repository:public/app:pull,push", "repository:team-a/app:pull", "registry:catalog:*"])
    assert policy.grant(None, scopes) == [{"type": "repository", "name": "public/app", "actions": ["pull"]}]
    # a restricted user also gets the anonymous patterns
    assert policy.allowed_actions("alice", "public/x") == ["pull"]


def test_unknown_resource_types_get_nothing(policy):
    assert policy.grant("ci", [Scope("admin", "everything", ["*"])]) == []


def test_catalog_is_filtered_and_can_be_refused(policy):
    repos = ["public/app", "shared/x", "team-a/app", "team-b/app", "x/y"]
    assert policy.catalog_filter("alice", repos) == ["public/app", "shared/x", "team-a/app"]
    assert policy.catalog_filter("ci", repos) == repos
    assert policy.may_list_catalog("alice") and policy.may_list_catalog("ci")
    assert not policy.may_list_catalog("nocat") and not policy.may_list_catalog(None)
    assert policy.grant("nocat", ta.parse_scopes(["registry:catalog:*"])) == []


def test_repeated_scopes_merge(policy):
    assert policy.grant("ci", ta.parse_scopes(["repository:a:pull", "repository:a:push"])) == [
        {"type": "repository", "name": "a", "actions": ["pull", "push"]}]


def test_has_access_reads_a_verified_claim():
    access = [{"type": "repository", "name": "a", "actions": ["pull"]}, "garbage"]
    assert ta.has_access(access, "repository", "a", "pull")
    assert not ta.has_access(access, "repository", "a", "push")
    assert not ta.has_access(access, "repository", "b", "pull")
    assert not ta.has_access(None, "repository", "a", "pull")


def test_claims_have_a_string_audience_and_the_lifetime():
    claims = ta.build_claims("iss", "registry.example.com", "alice", [], 1000, 300, "j1")
    assert claims == {"iss": "iss", "sub": "alice", "aud": "registry.example.com", "exp": 1300, "nbf": 999,
                      "iat": 1000, "jti": "j1", "access": []}
    assert ta.build_claims("iss", "s", None, [], 1, 1, "j")["sub"] == ""


def test_policy_refuses_an_unknown_format():
    with pytest.raises(ValueError):
        ta.Policy({"users": {}})
