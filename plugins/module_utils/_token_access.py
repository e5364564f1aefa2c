# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: who may do what in the registry, for the dockyard.registry token service.

This file is private to the dockyard.registry collection; other collections must not import it.
It imports only the standard library, raises ``ValueError`` on bad input, and runs both on the
controller (preflight filters, unit tests) and on the proxy hosts, where the token_service role
copies it next to the service (one source for the decisions). It owns:

* the Docker token protocol's scope grammar (``parse_scopes``): ``type[(class)]:name:action,...``,
  several scopes separated by spaces, names that may carry ``host:port``;
* the access rules of the inventory (``dockyard_registry_access``): their validation
  (``access_problems``, messages naming the variable) and normal form (``normalize_access``);
* the decision: which of the requested actions a user (or an anonymous client) gets
  (``Policy.grant``), whether a user may list the catalog and which repositories it shows
  (``Policy.catalog_filter``);
* the JWT claims of a token (``build_claims``) that Distribution 2.8 and 3.x accept.

Repository patterns: ``*`` matches within one path component (no ``/``), ``**`` matches any
number of components (``team-a/**`` is everything below ``team-a``; ``**`` alone is everything),
``?`` one character other than ``/``. Everything else is literal and must be valid in a
repository name (lower case letters, digits, ``._-/``).
"""

from __future__ import annotations

import re

ACTIONS = ("pull", "push", "delete")
#: Distribution's catalog scope: ``registry:catalog:*``.
CATALOG = ("registry", "catalog", "*")
MAX_SCOPE_LENGTH = 1024
MAX_SCOPES = 16
MAX_NAME_LENGTH = 255
MAX_PATTERNS = 256

# Scope grammar (distribution docs/spec/auth/scope.md); a resource name is a repository path that
# may start with host[:port]/.
_TYPE = r"[a-z0-9]+(?:\([a-z0-9]+\))?"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?"
_REPOSITORY_RE = re.compile(r"^(?:" + _HOST + r"/)?" + _COMPONENT + r"(?:/" + _COMPONENT + r")*$")
_SCOPE_RE = re.compile(r"^(" + _TYPE + r"):(.+):([a-z*]*(?:,[a-z*]*)*)$")
_PATTERN_CHARS = re.compile(r"^[a-z0-9._\-/*?]+$")
_USER_RE = re.compile(r"^[^:\s]{1,255}$")


class Scope(object):
    """One requested resource scope: type (class stripped), name and the requested actions."""

    __slots__ = ("type", "name", "actions")

    def __init__(self, type_, name, actions):
        self.type = type_
        self.name = name
        self.actions = tuple(actions)

    def __repr__(self):
        return "%s:%s:%s" % (self.type, self.name, ",".join(self.actions))

    def __eq__(self, other):
        return isinstance(other, Scope) and (self.type, self.name, self.actions) == (other.type, other.name, other.actions)

    def __hash__(self):
        return hash((self.type, self.name, self.actions))


def is_repository_name(name):
    """True for a valid repository name (Distribution's reference grammar, at most 255 chars)."""
    return isinstance(name, str) and 0 < len(name) <= MAX_NAME_LENGTH and bool(_REPOSITORY_RE.match(name))


def parse_scope(text):
    """Parse ONE resource scope (``repository:team-a/app:pull,push``). Raises ValueError.

    The name may contain ``:`` (a ``host:port`` prefix), so the type is everything before the
    first colon and the actions everything after the last one. A class (``repository(plugin)``)
    is accepted and dropped: Distribution ignores it. Actions keep their order, duplicates go.
    """
    if not isinstance(text, str) or not text or len(text) > MAX_SCOPE_LENGTH:
        raise ValueError("scope must be a non-empty string of at most %d characters" % MAX_SCOPE_LENGTH)
    m = _SCOPE_RE.match(text)
    if not m:
        raise ValueError("malformed scope (expected type:name:action[,action...])")
    type_, name, actions = m.group(1), m.group(2), m.group(3)
    type_ = type_.split("(", 1)[0]
    seen = []
    for action in actions.split(","):
        if action and action not in seen:
            seen.append(action)
    if type_ == "repository":
        if not is_repository_name(name):
            raise ValueError("malformed scope: invalid repository name")
    elif len(name) > MAX_NAME_LENGTH or not re.match(r"^[a-z0-9._\-/]+$", name):
        raise ValueError("malformed scope: invalid resource name")
    return Scope(type_, name, seen)


def parse_scopes(values):
    """Parse the ``scope`` parameters of a token request (GET: one per scope, each may hold
    several separated by spaces; POST: one, space separated). Raises ValueError on any malformed
    scope or on more than MAX_SCOPES scopes."""
    scopes = []
    for value in values or ():
        if not isinstance(value, str) or len(value) > MAX_SCOPE_LENGTH * MAX_SCOPES:
            raise ValueError("scope parameter too long")
        for part in value.split(" "):
            if part:
                scopes.append(parse_scope(part))
                if len(scopes) > MAX_SCOPES:
                    raise ValueError("too many scopes (at most %d)" % MAX_SCOPES)
    return scopes


# --------------------------------------------------------------------------------------------
# Repository patterns


def pattern_problem(pattern):
    """None when ``pattern`` is a valid repository pattern, else why not (no ValueError)."""
    if not isinstance(pattern, str) or not pattern:
        return "must be a non-empty string"
    if len(pattern) > MAX_NAME_LENGTH:
        return "is longer than %d characters" % MAX_NAME_LENGTH
    if not _PATTERN_CHARS.match(pattern):
        return "may contain only lower-case letters, digits, '.', '_', '-', '/', '*' and '?'"
    if pattern.startswith("/") or pattern.endswith("/") or "//" in pattern:
        return "must not start or end with '/' nor contain '//'"
    if "***" in pattern:
        return "'***' is not a pattern: use '*' (one path component) or '**' (any depth)"
    for part in pattern.split("/"):
        if "**" in part and part != "**":
            return "'**' must be a whole path component (e.g. 'team-a/**')"
    return None


def compile_pattern(pattern):
    """A compiled regular expression for a repository pattern. Raises ValueError."""
    problem = pattern_problem(pattern)
    if problem:
        raise ValueError("repository pattern %r %s" % (pattern, problem))
    parts = pattern.split("/")
    out = ""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            # any number of components, including none: "a/**" matches "a/x", "a/x/y" (not "a");
            # "**/b" matches "b" and "x/b"; "**" matches everything.
            if last:
                out += ".+" if i == 0 else "/.+"
            else:
                out += "(?:[^/]+/)*" if i == 0 else "/(?:[^/]+/)*"
            continue
        if i > 0 and parts[i - 1] != "**":
            out += "/"
        out += "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in part)
    return re.compile("^" + out + "$")


# --------------------------------------------------------------------------------------------
# Access rules (inventory) and the policy


def _list_of_strings(value):
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


def access_problems(access, user_names=None, var="dockyard_registry_access"):
    """Every problem with the access rules, as messages naming ``var`` (empty list: valid).

    ``access`` is ``{users: [{name, rules: [{repositories: [...], actions: [...]}], catalog}],
    anonymous_pull: [...]}`` (both keys optional). ``user_names``, when given, are the users of
    ``dockyard_registry_users``: rules for a user that does not exist are refused too.
    """
    problems = []
    if access is None:
        return problems
    if not isinstance(access, dict):
        return ["%s must be a dict with the keys users and anonymous_pull, got %s" % (var, type(access).__name__)]
    unknown = sorted(set(access) - {"users", "anonymous_pull"})
    if unknown:
        problems.append("%s: unknown key(s) %s (valid: users, anonymous_pull)" % (var, ", ".join(unknown)))
    anonymous = access.get("anonymous_pull", [])
    if not _list_of_strings(anonymous):
        problems.append("%s.anonymous_pull must be a list of repository patterns" % var)
    else:
        for pattern in anonymous:
            problem = pattern_problem(pattern)
            if problem:
                problems.append("%s.anonymous_pull: pattern %r %s" % (var, pattern, problem))
    users = access.get("users", [])
    if not isinstance(users, (list, tuple)):
        return problems + ["%s.users must be a list of {name, rules, catalog}" % var]
    seen = set()
    for index, user in enumerate(users):
        where = "%s.users[%d]" % (var, index)
        if not isinstance(user, dict):
            problems.append("%s must be a dict {name, rules, catalog}" % where)
            continue
        name = user.get("name")
        if not isinstance(name, str) or not _USER_RE.match(name):
            problems.append("%s.name must be a user name (no ':' or spaces)" % where)
            continue
        where = "%s (%s)" % (where, name)
        if name in seen:
            problems.append("%s: duplicate user %r (list each user once)" % (where, name))
        seen.add(name)
        if user_names is not None and name not in user_names:
            problems.append("%s: %r is not in dockyard_registry_users" % (where, name))
        extra = sorted(set(user) - {"name", "rules", "catalog"})
        if extra:
            problems.append("%s: unknown key(s) %s (valid: name, rules, catalog)" % (where, ", ".join(extra)))
        if "catalog" in user and not isinstance(user["catalog"], bool):
            problems.append("%s.catalog must be true or false" % where)
        rules = user.get("rules")
        if not isinstance(rules, (list, tuple)):
            problems.append("%s.rules must be a list of {repositories, actions} (a user without rules may do "
                            "everything: leave the user out of %s instead)" % (where, var))
            continue
        for r_index, rule in enumerate(rules):
            r_where = "%s.rules[%d]" % (where, r_index)
            if not isinstance(rule, dict):
                problems.append("%s must be a dict {repositories, actions}" % r_where)
                continue
            extra = sorted(set(rule) - {"repositories", "actions"})
            if extra:
                problems.append("%s: unknown key(s) %s (valid: repositories, actions)" % (r_where, ", ".join(extra)))
            repos = rule.get("repositories")
            if not _list_of_strings(repos) or not repos:
                problems.append("%s.repositories must be a non-empty list of patterns" % r_where)
            else:
                if len(repos) > MAX_PATTERNS:
                    problems.append("%s.repositories: at most %d patterns" % (r_where, MAX_PATTERNS))
                for pattern in repos:
                    problem = pattern_problem(pattern)
                    if problem:
                        problems.append("%s.repositories: pattern %r %s" % (r_where, pattern, problem))
            actions = rule.get("actions")
            if not _list_of_strings(actions) or not actions:
                problems.append("%s.actions must be a non-empty list of %s" % (r_where, ", ".join(ACTIONS)))
            else:
                bad = [a for a in actions if a not in ACTIONS]
                if bad:
                    problems.append("%s.actions: unknown action(s) %s (valid: %s)"
                                    % (r_where, ", ".join(repr(b) for b in bad), ", ".join(ACTIONS)))
    return problems


def normalize_access(access, user_names=None, var="dockyard_registry_access"):
    """The access rules in the form the service reads (JSON-ready). Raises ValueError."""
    problems = access_problems(access, user_names, var)
    if problems:
        raise ValueError("; ".join(problems))
    access = access or {}
    users = {}
    for user in access.get("users", []):
        users[user["name"]] = {
            "rules": [{"repositories": list(r["repositories"]),
                       "actions": [a for a in ACTIONS if a in r["actions"]]} for r in user["rules"]],
            "catalog": bool(user.get("catalog", True)),
        }
    return {"version": 1, "users": users, "anonymous_pull": list(access.get("anonymous_pull", []))}


class Policy(object):
    """The access rules of the service, compiled. Users not listed may do everything."""

    def __init__(self, normalized):
        if not isinstance(normalized, dict) or normalized.get("version") != 1:
            raise ValueError("access policy: unknown format (version 1 expected)")
        self.users = {}
        for name, user in normalized.get("users", {}).items():
            rules = [([compile_pattern(p) for p in r["repositories"]], frozenset(r["actions"])) for r in user["rules"]]
            self.users[name] = (rules, bool(user.get("catalog", True)))
        self.anonymous = [compile_pattern(p) for p in normalized.get("anonymous_pull", [])]

    def restricted(self, user):
        return user in self.users

    def allowed_actions(self, user, repository):
        """The actions ``user`` (None: anonymous) may do on ``repository``, in ACTIONS order."""
        got = set()
        if user is not None and user not in self.users:
            got.update(ACTIONS)
        elif user is not None:
            for patterns, actions in self.users[user][0]:
                if any(p.match(repository) for p in patterns):
                    got.update(actions)
        if "pull" not in got and any(p.match(repository) for p in self.anonymous):
            got.add("pull")
        return [a for a in ACTIONS if a in got]

    def may_list_catalog(self, user):
        if user is None:
            return False
        return user not in self.users or self.users[user][1]

    def grant(self, user, scopes):
        """The ``access`` claim for ``user`` (None: anonymous) asking for ``scopes`` (Scope list):
        per scope, the requested actions the user has (``*`` stands for all of them). Scopes of
        other types than repository and the catalog get nothing. Empty grants are left out."""
        out = []
        for scope in scopes:
            if scope.type == "repository":
                allowed = self.allowed_actions(user, scope.name)
                wanted = ACTIONS if "*" in scope.actions else scope.actions
                actions = [a for a in allowed if a in wanted]
            elif (scope.type, scope.name) == CATALOG[:2] and self.may_list_catalog(user):
                actions = ["*"] if "*" in scope.actions else []
            else:
                actions = []
            if actions:
                for entry in out:
                    if (entry["type"], entry["name"]) == (scope.type, scope.name):
                        entry["actions"] = [a for a in ACTIONS + ("*",) if a in set(entry["actions"]) | set(actions)]
                        break
                else:
                    out.append({"type": scope.type, "name": scope.name, "actions": actions})
        return out

    def catalog_filter(self, user, repositories):
        """The repositories of a catalog page ``user`` may see: those it may pull."""
        if user is not None and user not in self.users:
            return list(repositories)
        return [r for r in repositories if "pull" in self.allowed_actions(user, r)]


def has_access(claims_access, type_, name, action):
    """Whether a verified token's ``access`` claim allows ``action`` on ``type_:name``."""
    for entry in claims_access or ():
        if isinstance(entry, dict) and entry.get("type") == type_ and entry.get("name") == name:
            actions = entry.get("actions") or ()
            if action in actions:
                return True
    return False


def build_claims(issuer, audience, subject, access, now, lifetime, jti):
    """The JWT claims Distribution verifies. ``aud`` is a plain string: 2.8 refuses a list."""
    now = int(now)
    return {
        "iss": issuer,
        "sub": subject or "",
        "aud": audience,
        "exp": now + int(lifetime),
        "nbf": now - 1,
        "iat": now,
        "jti": jti,
        "access": access,
    }
