#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: htpasswd
short_description: Manage users in an htpasswd file (nginx, Apache, Distribution registry)
version_added: 0.1.0
description:
  - Add, update and remove users in an Apache-style htpasswd file, for example the
    C(auth_basic_user_file) that nginx checks in front of the registry.
  - Idempotent by B(verifying) each given password against the stored hash; salted hashes are never
    compared. A stored hash in another scheme than O(hash_scheme) (or, when set, another
    O(bcrypt_cost) or O(rounds)) is rehashed. A second run with the same input reports no change
    and does not touch the file.
  - Lines the module does not manage (other users, comments, blank lines) are kept byte for byte and
    in order; new users are appended. Lines of listed users are written as plain C(user:hash), without
    a trailing C(:comment) field, and a user listed several times keeps only the first line (the one
    nginx and Apache use; Distribution would use the last). With O(exclusive=true) users that are not listed are removed
    (comments and blank lines still stay).
  - A file that cannot be parsed makes the module fail with the line number; it is never rewritten.
    Writes are atomic (a temporary file renamed over the old one).
  - Nothing secret is returned. The diff lists one line per user with its name and hash scheme,
    never a hash or a password.
  - Replaces C(htpasswd -cb) / C(htpasswd -D). Compared with M(community.general.htpasswd) it needs no
    passlib, writes bcrypt as C($2y$) as Apache expects, detects scheme changes, supports exclusive
    user lists and many users in one task, and has diff mode.
author:
  - dockyard.registry maintainers (@dockyard)
requirements:
  - Python 3.9 or later on the target
  - for O(hash_scheme=bcrypt) only, the Python C(bcrypt) library on the target (C(python3-bcrypt) on
    Debian, Ubuntu and RHEL); passlib or libpass with a bcrypt backend is used if it is missing;
    without either the module fails before writing (in check mode it warns)
options:
  path:
    description:
      - Path of the htpasswd file.
      - If it is a symbolic link, the file it points to is updated.
    type: path
    required: true
    aliases: [dest, destfile]
  name:
    description:
      - Name of a single user to manage. Mutually exclusive with O(users).
      - Must not be empty, contain a colon, a newline or other control characters, start with
        C(#) or start or end with whitespace.
    type: str
    aliases: [username, user]
  password:
    description:
      - Password of O(name). Required when O(state=present).
      - Must not be empty or contain a newline or NUL. With O(hash_scheme=bcrypt) it must be at most
        72 bytes long (UTF-8), because bcrypt ignores the rest.
      - With O(hash_scheme=sha256_crypt) or O(hash_scheme=sha512_crypt) it must be at most 511 bytes
        long (UTF-8), because libxcrypt, which nginx and Apache call to verify these hashes, refuses
        512 bytes or more, so the user could never log in. V(apr_md5_crypt) has no such limit.
    type: str
  users:
    description:
      - Several users in one task. Mutually exclusive with O(name).
      - An empty list together with O(exclusive=true) removes every user.
    type: list
    elements: dict
    suboptions:
      name:
        description: User name, with the same rules as O(name).
        type: str
        required: true
      password:
        description: Password, with the same rules as O(password). Required when the user's state is V(present).
        type: str
      state:
        description: Whether this user should be in the file. Defaults to O(state).
        type: str
        choices: [present, absent]
  state:
    description:
      - V(present) adds or updates O(name) (or the O(users) without their own state), V(absent)
        removes them.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - Remove every user that is not listed in O(name) or O(users).
      - Comments and blank lines are kept.
    type: bool
    default: false
  update_password:
    description:
      - V(always) verifies the password of every listed user and rehashes it when it does not
        match, or when the stored hash does not match O(hash_scheme), O(bcrypt_cost) or O(rounds).
      - V(on_create) only sets passwords of users that are not in the file yet; existing entries of
        listed users are left exactly as they are.
    type: str
    choices: [always, on_create]
    default: always
  hash_scheme:
    description:
      - Scheme of the hashes the module writes.
      - V(bcrypt) is written as C($2y$), which Apache, nginx (libxcrypt) and the Distribution
        registry's own htpasswd authentication all accept. It is the only scheme Distribution accepts.
      - V(apr_md5_crypt) (C($apr1$)), V(sha256_crypt) (C($5$)) and V(sha512_crypt) (C($6$)) work with
        nginx and Apache; they are much cheaper to verify, which matters because nginx verifies the
        password on every request.
      - Existing C($2a$)/C($2b$) bcrypt, C($1$) MD5-crypt, C({SHA}), C({SSHA}) and C({PLAIN}) entries
        of listed users are verified and rewritten in this scheme. Entries in formats the module does
        not know are rewritten for listed users and kept untouched for the others.
    type: str
    choices: [bcrypt, apr_md5_crypt, sha256_crypt, sha512_crypt]
    default: bcrypt
    aliases: [crypt_scheme]
  bcrypt_cost:
    description:
      - bcrypt cost (log2 of the number of rounds), 4 to 31. Only used with O(hash_scheme=bcrypt).
      - When not set, new hashes use cost 10 and existing bcrypt hashes are kept whatever their cost.
        When set, existing bcrypt hashes with another cost are rehashed.
    type: int
  rounds:
    description:
      - Rounds for O(hash_scheme=sha256_crypt) or O(hash_scheme=sha512_crypt), 1000 to 999999999.
      - When not set, new hashes use 5000 rounds (the SHA-crypt default) and existing hashes are kept
        whatever their rounds. When set, existing hashes with other rounds are rehashed.
    type: int
  create:
    description:
      - Create the file if it does not exist. With V(false) a missing file is an error when users
        have to be added.
      - A new file gets mode C(0600) unless O(mode) is given (it holds password hashes); nginx reads
        the file as its worker user, so give O(group) and O(mode) (for example C(0640)) as needed.
      - The file is not created when there is no user to write.
      - Its directory is not created; a missing directory is an error before anything is hashed
        (in check mode a warning, because the task that creates it may not really have run).
    type: bool
    default: true
  backup:
    description:
      - Keep a timestamped copy of the old file next to it when the module changes it.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.files
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff lists one line per user (name and hash scheme) before and after.
      - Hashes and passwords never appear in it.
  platform:
    platforms: posix
  safe_file_operations:
    description: Uses Ansible's strict file operation functions to ensure proper permissions and avoid data corruption.
    support: full
  idempotent:
    description: When run twice in a row with the same arguments, the second run reports no change.
    support: full
notes:
  - C(apr_md5_crypt), C(sha256_crypt) and C(sha512_crypt) are implemented with the Python standard
    library only (not with the C(crypt) module, which is deprecated and gone in Python 3.13), so they
    work on any target Python without extra packages.
  - The module verifies passwords, so a run costs one hash verification per listed user (about
    0.1 s per user with bcrypt cost 10). Hashing only happens for users that change.
  - Whatever the generic O(mode) description says, a file created by this module without O(mode) gets
    mode C(0600), not a mode derived from the umask.
seealso:
  - module: community.general.htpasswd
  - name: nginx auth_basic_user_file
    description: The file format and hash schemes nginx accepts.
    link: https://nginx.org/en/docs/http/ngx_http_auth_basic_module.html#auth_basic_user_file
  - name: Distribution htpasswd authentication
    description: The registry's own basic auth accepts bcrypt only.
    link: https://distribution.github.io/distribution/about/configuration/#htpasswd
"""

EXAMPLES = r"""
- name: Add or update one user (bcrypt, readable by nginx)
  dockyard.registry.htpasswd:
    path: /etc/nginx/registry.htpasswd
    name: ci
    password: "{{ vault_registry_ci_password }}"
    owner: root
    group: www-data
    mode: "0640"

- name: Exactly these users, nothing else; cheap to verify on every request
  dockyard.registry.htpasswd:
    path: /etc/nginx/registry.htpasswd
    users: "{{ dockyard_registry_users }}"   # [{name, password, state}], passwords vaulted
    exclusive: true
    hash_scheme: sha512_crypt
    rounds: 5000
    backup: true
    group: www-data
    mode: "0640"
  no_log: "{{ dockyard_no_log | default(true) }}"

- name: Remove a user
  dockyard.registry.htpasswd:
    path: /etc/nginx/registry.htpasswd
    name: former-colleague
    state: absent

- name: Set initial passwords only; users may change theirs later
  dockyard.registry.htpasswd:
    path: /srv/registry/auth/htpasswd
    users:
      - name: alice
        password: "{{ vault_alice_initial }}"
      - name: bob
        password: "{{ vault_bob_initial }}"
      - name: mallory
        state: absent
    update_password: on_create
    bcrypt_cost: 12
  no_log: true
"""

RETURN = r"""
users_added:
  description: Users that were (or in check mode would be) added.
  returned: always
  type: list
  elements: str
  sample: [ci]
users_removed:
  description: Users that were (or would be) removed.
  returned: always
  type: list
  elements: str
  sample: [former-colleague]
users_updated:
  description: Users whose line was (or would be) rewritten, with the reason.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: User name.
      type: str
      returned: always
      sample: alice
    reason:
      description:
        - V(password) the password did not verify;
          V(scheme) the stored hash used another scheme (or bcrypt C($2a$)/C($2b$) instead of C($2y$));
          V(cost) another bcrypt cost than O(bcrypt_cost);
          V(rounds) other SHA-crypt rounds than O(rounds);
          V(unknown_scheme) the stored value was no known hash format;
          V(duplicate) later lines of the same user were dropped;
          V(extra_field) the line had a C(:comment) after the hash, which C(htpasswd -v) and other
          parsers that split at the first colon only take as part of the hash; the line is rewritten
          as C(user:hash) with the same hash.
      type: str
      returned: always
      sample: scheme
  sample: [{name: alice, reason: scheme}]
backup_file:
  description: Name of the backup file.
  returned: when O(backup=true) and the file was changed
  type: str
  sample: /etc/nginx/registry.htpasswd.12345.2025-01-01@12:00:00~
msg:
  description:
    - Summary of the change, naming the users added, removed and updated (with the reason); never a
      password or a hash. Roles print it so a run shows whose access changed.
  returned: always
  type: str
  sample: "1 added (ci), 1 removed (former-colleague), 1 updated (alice: password)"
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.dockyard.registry.plugins.module_utils._htpasswd import (
    DEFAULT_SCHEME,
    WRITE_SCHEMES,
    HtpasswdError,
    HtpasswdParseError,
    parse,
)
from ansible_collections.dockyard.registry.plugins.module_utils._htpasswd_plan import (
    Policy,
    plan,
    user_specs,
)


def argument_spec():
    return dict(
        path=dict(type="path", required=True, aliases=["dest", "destfile"]),
        name=dict(type="str", aliases=["username", "user"]),
        password=dict(type="str", no_log=True),
        users=dict(
            type="list",
            elements="dict",
            options=dict(
                name=dict(type="str", required=True),
                password=dict(type="str", no_log=True),
                state=dict(type="str", choices=["present", "absent"]),
            ),
        ),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        exclusive=dict(type="bool", default=False),
        update_password=dict(type="str", default="always", choices=["always", "on_create"], no_log=False),
        hash_scheme=dict(type="str", default=DEFAULT_SCHEME, choices=list(WRITE_SCHEMES), aliases=["crypt_scheme"]),
        bcrypt_cost=dict(type="int"),
        rounds=dict(type="int"),
        create=dict(type="bool", default=True),
        backup=dict(type="bool", default=False),
    )


def read_lines(module, path):
    """Return the parsed lines of ``path`` (None when it does not exist), or fail."""
    if not os.path.exists(path):
        return None
    if os.path.isdir(path):
        module.fail_json(msg="%s is a directory" % path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except (IOError, OSError) as e:
        module.fail_json(msg="cannot read %s: %s" % (path, to_native(e)))
    try:
        return parse(data.decode("utf-8", "surrogateescape"))
    except HtpasswdParseError as e:
        module.fail_json(msg="%s is not a valid htpasswd file, left untouched: %s" % (path, to_native(e)),
                         lineno=e.lineno)


def write_file(module, path, text, creating):
    """Write ``text`` to ``path`` atomically (temporary file + rename)."""
    fd, tmp = tempfile.mkstemp(prefix=".htpasswd-", dir=module.tmpdir)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8", "surrogateescape"))
            f.flush()
            os.fsync(f.fileno())
        # atomic_move gives a new file 0666 & ~umask; keep it private until the file attributes
        # are applied, so the hashes are never readable by everybody, not even for a moment.
        old_umask = os.umask(0o077) if creating else None
        try:
            module.atomic_move(tmp, path, unsafe_writes=module.params["unsafe_writes"])
        finally:
            if old_umask is not None:
                os.umask(old_umask)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def run_module(module):
    p = module.params
    path = p["path"]
    if os.path.islink(path):
        path = os.path.realpath(path)

    try:
        specs = user_specs(p["name"], p["password"], p["users"], p["state"])
        policy = Policy(
            scheme=p["hash_scheme"],
            bcrypt_cost=p["bcrypt_cost"],
            rounds=p["rounds"],
            update_password=p["update_password"],
            exclusive=p["exclusive"],
        )
        lines = read_lines(module, path)
        exists = lines is not None
        the_plan = plan(lines or [], specs, policy)
    except HtpasswdError as e:
        module.fail_json(msg=to_native(e))

    result = dict(changed=False)
    result.update(the_plan.result())
    if not exists and not the_plan.has_entries:
        # Nothing to add: do not create an empty file.
        result["msg"] = "%s does not exist and no user has to be added" % path
        module.exit_json(**result)
    if not exists and not p["create"]:
        module.fail_json(msg="%s does not exist and create=false" % path, **result)
    if not exists:
        # Say so before hashing anything, instead of atomic_move's "Could not replace ... with
        # <remote tmp file>" after it. In check mode only warn: on a fresh host the task that creates
        # the directory has not really run.
        parent = os.path.dirname(path) or "."
        if not os.path.isdir(parent):
            missing_dir = "cannot create %s: directory %s does not exist" % (path, parent)
            if module.check_mode:
                module.warn("%s; the real run will fail unless it is created by then" % missing_dir)
            else:
                module.fail_json(msg=missing_dir, **result)

    changed = the_plan.changed or not exists
    missing = the_plan.missing_backend() if changed else None
    if missing and module.check_mode:
        # On a fresh host the task that installs python3-bcrypt did not really run in check mode.
        module.warn("%s; the real run will fail unless it is installed by then" % missing)
    elif missing:
        module.fail_json(msg=missing, **result)
    if changed and not module.check_mode:
        try:
            text = the_plan.render()
        except HtpasswdError as e:
            module.fail_json(msg=to_native(e))
        if exists and p["backup"]:
            result["backup_file"] = module.backup_local(path)
        write_file(module, path, text, creating=not exists)

    diffs = []
    if module._diff and changed:
        diffs.append(the_plan.diff(header=path))

    if exists or not module.check_mode:
        file_args = module.load_file_common_arguments(module.params, path=path)
        if not exists and file_args.get("mode") is None:
            file_args["mode"] = 0o600
        attr_diff = dict(before=dict(path=path), after=dict(path=path))
        changed = module.set_fs_attributes_if_different(file_args, changed, diff=attr_diff)
        if module._diff and len(attr_diff["before"]) > 1:
            diffs.append(attr_diff)

    result["changed"] = changed
    result["msg"] = the_plan.summary()
    if diffs:
        result["diff"] = diffs if len(diffs) > 1 else diffs[0]
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[["name", "users"]],
        required_one_of=[["name", "users"]],
        required_by={"password": "name"},
        add_file_common_args=True,
        supports_check_mode=True,
    )
    run_module(module)


if __name__ == "__main__":
    main()
