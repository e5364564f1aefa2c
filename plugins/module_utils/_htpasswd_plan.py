# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the dockyard.registry collection. This is not a public API: other collections must
# not import it, and it may change in any release without notice.

"""Planning a change to an htpasswd file without Ansible: the rule for user names (shared by the
htpasswd module and the roles' preflight through the ``htpasswd_user_problems`` filter), the users
a caller manages, the update policy, and the plan (which lines to add, rewrite or drop, and why).

Hashing, verification and the file format are ``_htpasswd``. Pure Python; nothing here ever puts a
password or a hash in an exception message or a repr.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ansible_collections.dockyard.registry.plugins.module_utils._htpasswd import (
    BCRYPT, BCRYPT_DEFAULT_COST, BCRYPT_IDENT, DEFAULT_SCHEME, SHA256_CRYPT, SHA512_CRYPT, SHA_CRYPT_DEFAULT_ROUNDS,
    HashInfo, HtpasswdError, Line, MissingBackendError, hash_password, identify, require_bcrypt, serialize,
    validate_cost, validate_password, verify_password)


# --------------------------------------------------------------------------------------------
# User names
# --------------------------------------------------------------------------------------------

def validate_user_name(name):
    """Refuse names that cannot be stored unambiguously in an htpasswd file."""
    if not isinstance(name, str):
        raise HtpasswdError("user name must be a string")
    if name == "":
        raise HtpasswdError("user name must not be empty")
    if ":" in name:
        raise HtpasswdError("user name %r must not contain a colon (':')" % name)
    if "\n" in name or "\r" in name:
        raise HtpasswdError("user name %r must not contain a newline" % name)
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise HtpasswdError("user name %r must not contain control characters" % name)
    if name != name.strip():
        raise HtpasswdError("user name %r must not start or end with whitespace" % name)
    if name.startswith("#"):
        raise HtpasswdError("user name %r must not start with '#' (the line would be a comment)" % name)


def user_list_problems(users, var="users"):
    """Everything wrong with the names of a user list, as messages; an empty list when it is fine.

    ``users`` is a list of ``{name, password, state}`` dictionaries (the module's ``users`` option,
    a role's ``nginx_users``). The one rule for user names, shared by the module (through
    :func:`user_specs`) and the roles' preflight checks (the ``htpasswd_user_problems`` filter), so
    a name is refused before anything is built instead of by the module halfway through a run.
    Each message starts with ``var[index]`` and names the bad name (repr, so a newline or control
    character shows escaped); passwords never appear.
    """
    if not isinstance(users, (list, tuple)):
        return ["%s must be a list of {name, password, state} dictionaries" % var]
    problems = []
    seen = set()
    for index, entry in enumerate(users):
        where = "%s[%d]" % (var, index)
        if not isinstance(entry, dict):
            problems.append("%s must be a dictionary {name, password, state}" % where)
            continue
        unknown = sorted(str(k) for k in entry if k not in ("name", "password", "state"))
        if unknown:
            problems.append("%s: unknown keys %s" % (where, ", ".join(unknown)))
        if "name" not in entry:
            problems.append("%s has no name" % where)
            continue
        name = entry["name"]
        try:
            validate_user_name(name)
        except HtpasswdError as e:
            problems.append("%s: %s" % (where, e))
            continue
        if name in seen:
            problems.append("%s: user %r is listed more than once" % (where, name))
        seen.add(name)
    return problems


# --------------------------------------------------------------------------------------------
# Planning a change
# --------------------------------------------------------------------------------------------

PRESENT = "present"
ABSENT = "absent"
UPDATE_ALWAYS = "always"
UPDATE_ON_CREATE = "on_create"

#: Why a user's line is rewritten.
REASON_PASSWORD = "password"          # same scheme, the password does not verify
REASON_SCHEME = "scheme"              # stored scheme (or bcrypt $2a$/$2b$ identifier) differs
REASON_COST = "cost"                  # bcrypt cost differs from an explicit bcrypt_cost
REASON_ROUNDS = "rounds"              # sha*_crypt rounds differ from explicit rounds
REASON_UNKNOWN = "unknown_scheme"     # stored value is no hash format this module knows
REASON_DUPLICATE = "duplicate"        # the user had more than one line; the extra ones go
REASON_EXTRA_FIELD = "extra_field"    # "user:hash:comment": the hash is kept, the comment dropped


@dataclass(frozen=True)
class UserSpec(object):
    """A user the caller manages. ``password`` never appears in repr()."""

    name: str
    password: Optional[str] = field(default=None, repr=False)
    state: str = PRESENT


@dataclass(frozen=True)
class Policy(object):
    """How the caller wants the file: hash scheme, work factor, update and exclusive rules."""

    scheme: str = DEFAULT_SCHEME
    bcrypt_cost: Optional[int] = None
    rounds: Optional[int] = None
    update_password: str = UPDATE_ALWAYS
    exclusive: bool = False

    def validate(self):
        validate_cost(self.scheme, self.bcrypt_cost, self.rounds)
        if self.update_password not in (UPDATE_ALWAYS, UPDATE_ON_CREATE):
            raise HtpasswdError(
                "update_password must be %s or %s, got %r" % (UPDATE_ALWAYS, UPDATE_ON_CREATE, self.update_password)
            )

    @property
    def target(self):
        """:class:`HashInfo` of the hashes this policy writes."""
        if self.scheme == BCRYPT:
            cost = BCRYPT_DEFAULT_COST if self.bcrypt_cost is None else self.bcrypt_cost
            return HashInfo(BCRYPT, cost, BCRYPT_IDENT)
        if self.scheme in (SHA256_CRYPT, SHA512_CRYPT):
            return HashInfo(self.scheme, SHA_CRYPT_DEFAULT_ROUNDS if self.rounds is None else self.rounds)
        return HashInfo(self.scheme)

    def rehash_reason(self, info):
        """Why a stored hash must be replaced whatever the password is, or None.

        ``bcrypt_cost`` / ``rounds`` only force a rehash when they are set explicitly; left unset
        they only choose the work factor of new hashes.
        """
        if info.scheme is None:
            return REASON_UNKNOWN
        if info.scheme != self.scheme:
            return REASON_SCHEME
        if info.scheme == BCRYPT:
            if info.ident != BCRYPT_IDENT:
                return REASON_SCHEME
            if self.bcrypt_cost is not None and info.cost != self.bcrypt_cost:
                return REASON_COST
        if info.scheme in (SHA256_CRYPT, SHA512_CRYPT):
            if self.rounds is not None and info.cost != self.rounds:
                return REASON_ROUNDS
        return None


def user_specs(name=None, password=None, users=None, state=PRESENT):
    """Turn the module's ``name``/``password`` or ``users`` options into validated specs.

    A per-user ``state`` defaults to ``state``. Raises :class:`HtpasswdError` on bad input.
    """
    if state not in (PRESENT, ABSENT):
        raise HtpasswdError("state must be present or absent, got %r" % (state,))
    if name is not None and users is not None:
        raise HtpasswdError("name and users are mutually exclusive")
    if name is None and users is None:
        if password is not None:
            raise HtpasswdError("password needs name")
        raise HtpasswdError("one of name or users is required")
    if name is not None:
        validate_user_name(name)
        entries = [{"name": name, "password": password, "state": state}]
    else:
        if password is not None:
            raise HtpasswdError("password goes with name; with users give each user's password in the list")
        entries = users
    problems = user_list_problems(entries)
    if problems:
        raise HtpasswdError("; ".join(problems))
    specs = []
    for entry in entries:
        user = entry["name"]
        user_state = entry.get("state") or state
        if user_state not in (PRESENT, ABSENT):
            raise HtpasswdError("state of user %r must be present or absent, got %r" % (user, user_state))
        user_password = entry.get("password")
        if user_state == PRESENT and user_password is None:
            raise HtpasswdError("user %r: password is required when state is present" % user)
        specs.append(UserSpec(user, user_password, user_state))
    return specs


@dataclass
class Plan(object):
    """The change needed to bring a file to the wanted state; nothing secret in its results.

    ``lines`` are the resulting lines in order: kept lines unchanged, rewritten and new lines
    with ``hashed`` None until :meth:`render` hashes them.
    """

    policy: Policy
    lines: List[Line]
    added: List[str]
    removed: List[str]
    updated: List[Tuple[str, str]]
    before: List[str]
    after: List[str]
    _passwords: Dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def changed(self):
        return bool(self.added or self.removed or self.updated)

    @property
    def has_entries(self):
        return any(line.is_entry for line in self.lines)

    def missing_backend(self):
        """Why :meth:`render` would fail for lack of a library (a message), or None.

        Lets the caller refuse before writing anything, or only warn in check mode (where a
        package task earlier in the play did not really install the library).
        """
        if self._passwords and self.policy.scheme == BCRYPT:
            try:
                require_bcrypt()
            except MissingBackendError as e:
                return str(e)
        return None

    def render(self):
        """Hash what must be hashed and return the new file text."""
        policy = self.policy
        out = []
        for line in self.lines:
            if line.is_entry and line.hashed is None:
                hashed = hash_password(
                    self._passwords[line.user], policy.scheme, policy.bcrypt_cost, policy.rounds
                )
                line = Line("%s:%s" % (line.user, hashed), line.user, hashed, "", line.lineno)
            out.append(line)
        return serialize(out)

    def result(self):
        """Names and reasons only: users_added, users_removed, users_updated."""
        return {
            "users_added": list(self.added),
            "users_removed": list(self.removed),
            "users_updated": [{"name": n, "reason": r} for n, r in self.updated],
        }

    def summary(self):
        """One line naming the users added, removed and rewritten, e.g.
        ``1 added (ci), 1 removed (stale), 1 updated (reader: password)``; never a hash or password.
        """
        def part(count, what, names):
            return "%d %s%s" % (count, what, " (%s)" % ", ".join(names) if names else "")

        return ", ".join((
            part(len(self.added), "added", self.added),
            part(len(self.removed), "removed", self.removed),
            part(len(self.updated), "updated", ["%s: %s" % (n, r) for n, r in self.updated]),
        ))

    def diff(self, header=None):
        """``{"before": ..., "after": ...}``: one ``user (scheme)`` line per entry, never a hash."""
        result = {
            "before": "".join(x + "\n" for x in self.before),
            "after": "".join(x + "\n" for x in self.after),
        }
        if header is not None:
            result["before_header"] = header
            result["after_header"] = header
        return result


def plan(lines, users, policy):
    """Decide what to change in ``lines`` (from :func:`parse`) for ``users`` under ``policy``.

    Existing passwords are *verified* against the stored hash; salted hashes are never compared.
    Unmanaged entries and comments are kept (unmanaged entries are dropped with ``exclusive``;
    comments and blank lines always stay). The order of lines is kept; new users are appended in
    the order given. Read-only: nothing is hashed until :meth:`Plan.render`.
    """
    policy.validate()
    wanted = {}
    for spec in users:
        if spec.name in wanted:
            raise HtpasswdError("user %r is listed more than once" % spec.name)
        validate_user_name(spec.name)
        if spec.state == PRESENT:
            validate_password(spec.password, policy.scheme, spec.name)
        elif spec.state != ABSENT:
            raise HtpasswdError("state of user %r must be present or absent" % spec.name)
        wanted[spec.name] = spec

    out = []
    added, removed, updated = [], [], []
    passwords = {}
    seen = set()
    before = []
    after = []
    reasons = {}

    def remove(name):
        if name not in removed:
            removed.append(name)

    for line in lines:
        if not line.is_entry:
            out.append(line)
            continue
        before.append("%s (%s)" % (line.user, identify(line.hashed).label))
        spec = wanted.get(line.user)
        if spec is None:
            if policy.exclusive:
                remove(line.user)
            else:
                out.append(line)
            continue
        if spec.state == ABSENT:
            remove(line.user)
            continue
        if line.user in seen:
            # Apache and nginx use the first line of a user; later ones are dead weight.
            if line.user not in reasons:
                reasons[line.user] = REASON_DUPLICATE
                updated.append((line.user, REASON_DUPLICATE))
            continue
        seen.add(line.user)
        if policy.update_password == UPDATE_ON_CREATE:
            out.append(line)
            continue
        reason = policy.rehash_reason(identify(line.hashed))
        if reason is None and not verify_password(spec.password, line.hashed):
            reason = REASON_PASSWORD
        if reason is None and line.extra:
            # The hash is right, but `htpasswd -v` (and parsers that split at the first colon
            # only) would read "hash:comment" as the hash.
            reasons[line.user] = REASON_EXTRA_FIELD
            updated.append((line.user, REASON_EXTRA_FIELD))
            out.append(Line("%s:%s" % (line.user, line.hashed), line.user, line.hashed, "", line.lineno))
            continue
        if reason is None:
            out.append(line)
            continue
        reasons[line.user] = reason
        updated.append((line.user, reason))
        passwords[line.user] = spec.password
        out.append(Line(None, line.user, None, "", line.lineno))

    for spec in users:
        if spec.state == PRESENT and spec.name not in seen:
            added.append(spec.name)
            passwords[spec.name] = spec.password
            out.append(Line(None, spec.name))

    target = policy.target.label
    for line in out:
        if not line.is_entry:
            continue
        if line.hashed is not None:
            note = " [rewritten: %s]" % REASON_EXTRA_FIELD if reasons.get(line.user) == REASON_EXTRA_FIELD else ""
            after.append("%s (%s)%s" % (line.user, identify(line.hashed).label, note))
        elif line.user in reasons:
            after.append("%s (%s) [rehashed: %s]" % (line.user, target, reasons[line.user]))
        else:
            after.append("%s (%s)" % (line.user, target))

    return Plan(policy, out, added, removed, updated, before, after, passwords)
