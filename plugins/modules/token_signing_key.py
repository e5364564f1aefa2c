#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: token_signing_key
short_description: Keep the token service's ES256 signing keys and rotate them with an overlap
version_added: 0.2.0
description:
  - Runs on the host of the token service. Keys are EC P-256 keys made there (mode C(0600), owned
    by O(owner)) that never leave it; each has a self-signed certificate that carries its public
    key to the registries (C(auth.token.rootcertbundle)).
  - The key directory's C(state.json) names the I(active) key (it signs tokens), an optional
    I(pending) key (trusted by the registries, not used yet) and I(retired) keys (no longer
    signing, still trusted until every token they signed has expired).
  - O(phase=prepare) creates the first key (active at once), starts a rotation when the active key
    is O(rotate_days) old or O(force_rotate) is set (a pending key), and forgets retired keys older
    than O(overlap) seconds. O(phase=activate) makes a pending key the active one; run it only
    after every registry's bundle holds RV(certificates).
author:
  - dockyard.registry maintainers (@dockyard)
attributes:
  check_mode:
    description: Reports what would change; writes nothing.
    support: full
  diff_mode:
    description: Shows the key ids and their roles before and after (never key material).
    support: full
  idempotent:
    description: A second run with the same arguments reports no change (until a key is due).
    support: full
options:
  path:
    description: The key directory (created, mode C(0700), owned by O(owner)).
    type: path
    required: true
  phase:
    description: C(prepare) or C(activate) (see the description).
    type: str
    choices: [prepare, activate]
    default: prepare
  owner:
    description: User that owns the directory and the key files (the service user).
    type: str
    required: true
  group:
    description: Group of the directory and files.
    type: str
    required: true
  common_name:
    description: Subject common name of new certificates.
    type: str
    default: dockyard token signer
  certificate_days:
    description: Validity of new certificates, in days. Must exceed O(rotate_days).
    type: int
    default: 730
  rotate_days:
    description: Start a rotation when the active key has been signing for this many days.
    type: int
    default: 90
  overlap:
    description: Seconds a retired key stays trusted (at least the token lifetime plus the registries' 60 s leeway).
    type: int
    default: 900
  force_rotate:
    description: Start a rotation now (O(phase=prepare)), whatever the key's age.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Ensure a signing key (and start a rotation when due)
  dockyard.registry.token_signing_key:
    path: /etc/dockyard/token/keys
    owner: dockyard-token
    group: dockyard-token
  register: keys

# ... every registry's rootcertbundle gets keys.certificates, the registries restart ...

- name: Sign with the new key once the registries trust it
  dockyard.registry.token_signing_key:
    path: /etc/dockyard/token/keys
    owner: dockyard-token
    group: dockyard-token
    phase: activate
"""

RETURN = r"""
active:
  description: Id of the key that signs tokens after this run.
  type: str
  returned: success
  sample: 3f1c0de29a7b4410
pending:
  description: Id of a key waiting for activation, or null.
  type: str
  returned: success
certificates:
  description: PEM certificates of every key the registries must trust (active, pending, retired).
  type: list
  elements: str
  returned: success
reasons:
  description: Why something changed.
  type: list
  elements: str
  returned: success
"""

import json
import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dockyard.registry.plugins.module_utils import _token_keys


def _read_state(path):
    try:
        with open(os.path.join(path, "state.json"), encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return _token_keys.empty_state()


def _summary(state):
    return {"active": state.get("active"), "pending": state.get("pending"),
            "retired": sorted(k for k, v in state["keys"].items() if v.get("retired") is not None)}


def _write(module, path, content, mode, uid, gid):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
        os.write(fd, content.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def run_module(module):
    p = module.params
    import grp
    import pwd
    try:
        uid = pwd.getpwnam(p["owner"]).pw_uid
        gid = grp.getgrnam(p["group"]).gr_gid
    except KeyError:
        if not module.check_mode:
            module.fail_json(msg="owner %r or group %r does not exist on this host" % (p["owner"], p["group"]))
        uid = gid = -1
    if p["certificate_days"] <= p["rotate_days"]:
        module.fail_json(msg="certificate_days (%d) must exceed rotate_days (%d)" % (p["certificate_days"], p["rotate_days"]))
    path = p["path"]
    try:
        state = _read_state(path)
        now = int(time.time())
        plan = _token_keys.plan(state, now, phase=p["phase"], rotate_days=p["rotate_days"], overlap=p["overlap"],
                                force_rotate=p["force_rotate"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    changed = plan.changed
    new_state = state
    if not module.check_mode:
        if not os.path.isdir(path):
            os.makedirs(path, mode=0o700)
            changed = True
        st = os.stat(path)
        if (st.st_uid, st.st_gid, st.st_mode & 0o7777) != (uid, gid, 0o700):
            os.chown(path, uid, gid)
            os.chmod(path, 0o700)
            changed = True
        new_kid = None
        if plan.create:
            new_kid, key_pem, cert_pem = _token_keys.new_key(p["common_name"], p["certificate_days"])
            _write(module, os.path.join(path, new_kid + ".key"), key_pem, 0o600, uid, gid)
            _write(module, os.path.join(path, new_kid + ".crt"), cert_pem, 0o644, uid, gid)
        new_state = _token_keys.apply(state, plan, now, new_kid)
        if plan.changed:
            _write(module, os.path.join(path, "state.json"), json.dumps(new_state, indent=2, sort_keys=True) + "\n",
                   0o644, uid, gid)
        for kid in plan.remove:
            for ext in (".key", ".crt"):
                try:
                    os.unlink(os.path.join(path, kid + ext))
                except FileNotFoundError:
                    pass
        for kid in new_state["keys"]:
            key_file = os.path.join(path, kid + ".key")
            st = os.stat(key_file)
            if (st.st_uid, st.st_gid, st.st_mode & 0o7777) != (uid, gid, 0o600):
                os.chown(key_file, uid, gid)
                os.chmod(key_file, 0o600)
                changed = True
    certificates = []
    for kid in _token_keys.published(new_state):
        try:
            with open(os.path.join(path, kid + ".crt"), encoding="ascii") as fh:
                certificates.append(fh.read())
        except FileNotFoundError:
            if not module.check_mode:
                module.fail_json(msg="certificate of key %s is missing in %s" % (kid, path))
    result = {
        "changed": changed,
        "active": new_state.get("active"),
        "pending": new_state.get("pending"),
        "certificates": certificates,
        "reasons": plan.reasons,
    }
    if module._diff:
        result["diff"] = {"before": _summary(state), "after": _summary(new_state) if not plan.create or not module.check_mode
                          else dict(_summary(state), new_key=plan.create_as)}
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            phase=dict(type="str", choices=list(_token_keys.PHASES), default="prepare"),
            owner=dict(type="str", required=True),
            group=dict(type="str", required=True),
            common_name=dict(type="str", default="dockyard token signer"),
            certificate_days=dict(type="int", default=730),
            rotate_days=dict(type="int", default=90),
            overlap=dict(type="int", default=900),
            force_rotate=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    run_module(module)


if __name__ == "__main__":
    main()
