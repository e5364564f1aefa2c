#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nginx_build_cache
short_description: Keep built nginx archives on the controller, one per build recipe
version_added: 0.2.0
description:
  - Manages a directory (normally on the controller, so run it with C(delegate_to=localhost)) that
    holds nginx builds as archives of their installed files, one per B(recipe) (nginx version, source
    tarball sha256, configure arguments, OS release and CPU architecture; see the
    C(dockyard.registry.nginx_build_recipe) filter). The dockyard.registry.nginx role builds a recipe on
    the first proxy that needs it and installs the archive on every other proxy.
  - O(state=query) reports whether the recipe is in the cache.
  - O(state=claim) returns the cached entry, or the right to build the recipe (a lock file created
    atomically). When another run holds the lock, it waits for that build instead of compiling the
    same recipe twice; a lock older than O(lock_timeout) seconds is taken over.
  - O(state=publish) checks the sha256 of an archive fetched into C(<path>/.incoming/), moves it into
    place under a name holding its digest and replaces the recipe's index atomically, then releases
    the claim. A recipe another run published meanwhile is kept.
  - O(state=release) drops a claim that will not be published (a failed build).
author:
  - dockyard.registry maintainers (@dockyard)
attributes:
  check_mode:
    description: O(state=query) runs normally; the other states change nothing and say so.
    support: full
  diff_mode:
    description: Nothing to diff; the cache holds archives and JSON indexes.
    support: none
  idempotent:
    description: Only O(state=publish) writes an entry, and only when the recipe has none.
    support: full
options:
  path:
    description: The cache directory (absolute); created when missing.
    type: path
    required: true
  recipe:
    description: The recipe, exactly as the C(recipe) key of C(dockyard.registry.nginx_build_recipe) returns it.
    type: dict
    required: true
  state:
    description: What to do.
    type: str
    choices: [query, claim, publish, release]
    default: query
  owner:
    description:
      - Who claims, publishes or releases (host and run); the lock records it and only its owner
        releases it. Required unless O(state=query).
    type: str
  lock_timeout:
    description: Seconds after which a lock counts as left behind by a dead run.
    type: int
    default: 900
  src:
    description: With O(state=publish), the fetched archive inside C(<path>/.incoming/); it is moved or removed.
    type: path
  sha256:
    description: With O(state=publish), the sha256 the build host computed for the archive.
    type: str
  metadata:
    description: With O(state=publish), more facts for the index (who built it, when, C(nginx -V)).
    type: dict
    default: {}
seealso:
  - module: dockyard.registry.nginx_build_info
notes:
  - Several runs may share one cache directory at the same moment; every write is a rename inside
    it and a published archive is never rewritten.
"""

EXAMPLES = r"""
- name: Claim the recipe for a build on this host, or get it from the cache
  dockyard.registry.nginx_build_cache:
    path: "{{ inventory_dir }}/.dockyard-nginx-builds"
    recipe: "{{ nginx_recipe.recipe }}"
    state: claim
    owner: "{{ inventory_hostname }}"
  delegate_to: localhost
  register: cache
"""

RETURN = r"""
id:
  description: The file-name stem of the recipe's entries.
  returned: always
  type: str
  sample: nginx-1.26.3-debian-12-x86_64-3f2a9c0d1e2b4a5f
fingerprint:
  description: sha256 of the recipe.
  returned: always
  type: str
cached:
  description: Whether the recipe is in the cache (after any wait).
  returned: always
  type: bool
claimed:
  description: With O(state=claim), whether the caller must build and publish (or release).
  returned: always
  type: bool
archive:
  description: Path of the recipe's archive, when cached.
  returned: when cached
  type: str
sha256:
  description: sha256 of the archive, when cached.
  returned: when cached
  type: str
index:
  description: The recipe's index (archive, sha256, size, recipe, who built it), when cached.
  returned: when cached
  type: dict
waited:
  description: Seconds spent waiting for another run's build.
  returned: with O(state=claim)
  type: float
released:
  description: With O(state=release), whether a lock of O(owner) was removed.
  returned: with O(state=release)
  type: bool
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dockyard.registry.plugins.module_utils import _nginx_build_cache as cache


def run_module(module):
    params = module.params
    path, state, owner = params["path"], params["state"], params["owner"]
    try:
        recipe = cache.check_recipe(params["recipe"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    result = {"changed": False, "id": cache.recipe_id(recipe), "fingerprint": cache.recipe_fingerprint(recipe),
              "cached": False, "claimed": False}
    if state != "query" and not owner:
        module.fail_json(msg="owner is required with state=%s" % state, **result)
    try:
        if state == "query" or module.check_mode:
            entry = cache.lookup(path, recipe) if os.path.isdir(path) else None
        elif state == "claim":
            entry = cache.claim(path, recipe, owner, lock_timeout=params["lock_timeout"])
            result["waited"] = entry.pop("waited")
            if entry["state"] == "claimed":
                result.update(claimed=True, lock=entry["lock"], took_over=entry["took_over"])
                entry = None
        elif state == "publish":
            if not params["src"] or not params["sha256"]:
                module.fail_json(msg="state=publish needs src and sha256", **result)
            entry = cache.publish(path, recipe, params["src"], params["sha256"], owner, params["metadata"])
            result["changed"] = entry.pop("published")
        else:
            result["released"] = cache.release(path, recipe, owner)
            entry = cache.lookup(path, recipe)
    except (ValueError, OSError) as exc:
        module.fail_json(msg=str(exc), **result)
    if entry is not None:
        result.update(cached=True, archive=entry["archive"], sha256=entry["sha256"], index=entry["index"])
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            recipe=dict(type="dict", required=True),
            state=dict(type="str", default="query", choices=["query", "claim", "publish", "release"]),
            owner=dict(type="str"),
            lock_timeout=dict(type="int", default=900),
            src=dict(type="path"),
            sha256=dict(type="str"),
            metadata=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    run_module(module)


if __name__ == "__main__":
    main()
