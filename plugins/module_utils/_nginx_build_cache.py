# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: the controller-side cache of nginx builds ("build once, install everywhere").

This file is private to the dockyard.registry collection; other collections must not import it.
It imports nothing from Ansible and raises ``ValueError`` (naming the variable at fault) on bad
input. It owns:

* the **recipe** of a build and its **fingerprint** (:func:`build_recipe`, :func:`recipe_fingerprint`):
  two builds are interchangeable exactly when their nginx version, source tarball (sha256),
  configure arguments (compared the way ``configure`` reads them, see ``_nginx``), OS (distribution
  and major release: the libraries the binary links against) and CPU architecture are the same;
* the **layout** of the cache directory: ``<id>.json`` (the index of a recipe: archive name, its
  sha256, who built it), ``<id>.<sha256[:16]>.tar.gz`` (the archive, named by its own digest, never
  rewritten), ``<id>.lock`` (a build in progress) and ``.incoming/`` (fetched, not yet published);
* **claiming** a recipe for a build (:func:`claim`: the lock file is created with ``O_EXCL``; a run
  that finds another run's lock waits for that build instead of compiling the same recipe again, and
  takes over a lock older than ``lock_timeout``), **publishing** an archive (:func:`publish`: sha256
  checked, moved into place, index replaced with ``os.replace`` so readers see the old or the new
  index, never half of one) and **releasing** a claim (:func:`release`).

Several ansible-playbook runs may use one cache directory at the same moment (the lab's molecule
scenarios do): every write is a rename inside the directory, and a published archive never changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time

from ansible_collections.dockyard.registry.plugins.module_utils._nginx import (
    normalize_configure_args,
    validate_version,
)

# Bump when the archive layout or what a recipe covers changes: every old entry is then ignored.
ARTIFACT_FORMAT = 2  # 2: the index lists the builder's runtime library packages
INCOMING = ".incoming"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TOKEN = re.compile(r"^[a-z0-9][a-z0-9._+-]*$")
_RECIPE_KEYS = ("format", "nginx_version", "source_sha256", "configure_args", "os", "architecture")


def _token(value, var):
    """A lower-case file-name-safe token (``debian-12``, ``x86_64``)."""
    text = re.sub(r"[^a-z0-9._+-]+", "-", str(value if value is not None else "").strip().lower()).strip("-")
    if not text or not _TOKEN.match(text):
        raise ValueError("%s must be a non-empty name, got %r" % (var, value))
    return text


def canonical_configure_args(args):
    """The configure arguments as one list in a canonical order (see ``_nginx.normalize_configure_args``)."""
    values, flags, ordered = normalize_configure_args(args)
    return ["%s=%s" % (name, value) for name, value in values] + list(flags) + list(ordered)


def build_recipe(version, source_sha256, configure_args, distribution, distribution_major_version, architecture):
    """The recipe of an nginx build, as a plain dict (JSON-safe, canonical)."""
    sha = str(source_sha256 or "").strip().lower()
    if not _SHA256.match(sha):
        raise ValueError("nginx_source_sha256 must be 64 hex digits, got %r" % (source_sha256,))
    if isinstance(configure_args, (str, bytes)) or not isinstance(configure_args, (list, tuple)) or not configure_args:
        raise ValueError("the configure arguments must be a non-empty list, got %r" % (configure_args,))
    return {
        "format": ARTIFACT_FORMAT,
        "nginx_version": validate_version(version),
        "source_sha256": sha,
        "configure_args": canonical_configure_args([str(arg) for arg in configure_args]),
        "os": "%s-%s" % (_token(distribution, "ansible_facts.distribution"),
                         _token(distribution_major_version, "ansible_facts.distribution_major_version")),
        "architecture": _token(architecture, "ansible_facts.architecture"),
    }


def check_recipe(recipe):
    """Return ``recipe`` when it is a recipe :func:`build_recipe` made (for module input), else raise."""
    if not isinstance(recipe, dict) or sorted(recipe) != sorted(_RECIPE_KEYS):
        raise ValueError("recipe must be a dict with exactly the keys %s, got %r" % (", ".join(_RECIPE_KEYS), recipe))
    os_name, _sep, release = str(recipe["os"]).rpartition("-")
    rebuilt = build_recipe(recipe["nginx_version"], recipe["source_sha256"], recipe["configure_args"],
                           os_name, release, recipe["architecture"])
    if int(recipe["format"]) != ARTIFACT_FORMAT or rebuilt != recipe:
        raise ValueError("recipe is not in canonical form (format %s): %r" % (ARTIFACT_FORMAT, recipe))
    return recipe


def recipe_fingerprint(recipe):
    """sha256 of the recipe's canonical JSON."""
    text = json.dumps(recipe, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def recipe_id(recipe):
    """The file-name stem of a recipe's cache entries: readable, and unique through the fingerprint."""
    return "nginx-%s-%s-%s-%s" % (recipe["nginx_version"], recipe["os"], recipe["architecture"],
                                  recipe_fingerprint(recipe)[:16])


def describe(recipe):
    """``{"id", "fingerprint", "recipe"}``: what the role keeps about a recipe."""
    return {"id": recipe_id(recipe), "fingerprint": recipe_fingerprint(recipe), "recipe": recipe}


def sha256_file(path, chunk=1024 * 1024):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# The cache directory
# ---------------------------------------------------------------------------------------------


def _paths(cache_dir, recipe):
    stem = recipe_id(recipe)
    return {
        "index": os.path.join(cache_dir, stem + ".json"),
        "lock": os.path.join(cache_dir, stem + ".lock"),
        "stem": stem,
    }


def archive_path(cache_dir, recipe, sha256):
    return os.path.join(cache_dir, "%s.%s.tar.gz" % (recipe_id(recipe), sha256[:16]))


def prepare_dir(cache_dir):
    """Create the cache directory and its ``.incoming/`` (where fetched archives land first)."""
    if not cache_dir or not os.path.isabs(cache_dir):
        raise ValueError("nginx_build_cache_dir must be an absolute path on the controller, got %r" % (cache_dir,))
    os.makedirs(os.path.join(cache_dir, INCOMING), exist_ok=True)
    return os.path.join(cache_dir, INCOMING)


def _write_atomically(path, text):
    tmp = "%s.tmp.%d.%d" % (path, os.getpid(), time.monotonic_ns())
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def lookup(cache_dir, recipe):
    """The published entry of ``recipe``: ``{"archive", "sha256", "index"}``, or None when there is none.

    Raises ValueError when an index exists but does not describe this recipe or its archive is
    missing: a cache somebody edited by hand is reported, not silently rebuilt over.
    """
    paths = _paths(cache_dir, recipe)
    try:
        with open(paths["index"], encoding="utf-8") as handle:
            index = json.load(handle)
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise ValueError("%s is not valid JSON (%s); remove it to rebuild %s" % (paths["index"], exc, paths["stem"]))
    if not isinstance(index, dict) or index.get("fingerprint") != recipe_fingerprint(recipe) \
            or index.get("recipe") != recipe:
        raise ValueError("%s does not describe recipe %s; remove it to rebuild" % (paths["index"], paths["stem"]))
    sha = str(index.get("sha256", ""))
    archive = os.path.join(cache_dir, str(index.get("archive", "")))
    if not _SHA256.match(sha) or os.path.dirname(os.path.normpath(archive)) != os.path.normpath(cache_dir) \
            or archive != archive_path(cache_dir, recipe, sha):
        raise ValueError("%s names no valid archive (archive %r, sha256 %r); remove it to rebuild"
                         % (paths["index"], index.get("archive"), index.get("sha256")))
    if not os.path.isfile(archive):
        raise ValueError("%s names %s, which is missing; remove the index to rebuild" % (paths["index"], archive))
    return {"archive": archive, "sha256": sha, "index": index}


def _read_lock(path):
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _try_lock(path, owner, now):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"owner": owner, "created": now}, handle)
    return True


def _take_over_stale(path, lock_timeout, now):
    """Move a lock older than ``lock_timeout`` aside (only one of several waiters wins the rename)."""
    try:
        age = now - os.stat(path).st_mtime
    except FileNotFoundError:
        return True
    if age <= lock_timeout:
        return False
    aside = "%s.stale.%d.%d" % (path, os.getpid(), time.monotonic_ns())
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return True
    os.unlink(aside)
    return True


def claim(cache_dir, recipe, owner, lock_timeout=900, poll=1.0, clock=time.time, sleep=time.sleep):
    """Get ``recipe`` from the cache, or the right to build it.

    Returns ``{"state": "cached", "archive", "sha256", "index", "waited"}`` when the recipe is
    published (perhaps after waiting for another run's build), or ``{"state": "claimed", "lock",
    "waited", "took_over": bool}`` when the caller must build it and then :func:`publish` or
    :func:`release`. A lock whose file is older than ``lock_timeout`` seconds belongs to a run that
    died: it is taken over. Waiting never lasts longer than ``lock_timeout`` plus one poll.
    """
    if not owner or not str(owner).strip():
        raise ValueError("owner must name the host and run that builds")
    if int(lock_timeout) <= 0:
        raise ValueError("nginx_build_cache_lock_timeout must be a positive number of seconds, got %r" % (lock_timeout,))
    prepare_dir(cache_dir)
    paths = _paths(cache_dir, recipe)
    start = clock()
    took_over = False
    while True:
        entry = lookup(cache_dir, recipe)
        if entry is not None:
            entry.update(state="cached", waited=round(clock() - start, 1))
            return entry
        now = clock()
        if _try_lock(paths["lock"], str(owner), now):
            # Another run may have published between the lookup and the lock.
            entry = lookup(cache_dir, recipe)
            if entry is not None:
                release(cache_dir, recipe, owner)
                entry.update(state="cached", waited=round(clock() - start, 1))
                return entry
            return {"state": "claimed", "lock": paths["lock"], "waited": round(clock() - start, 1),
                    "took_over": took_over}
        if _take_over_stale(paths["lock"], int(lock_timeout), now):
            took_over = True
            continue
        sleep(poll)


def release(cache_dir, recipe, owner):
    """Remove the lock of ``recipe`` if ``owner`` holds it. Returns True when a lock was removed."""
    path = _paths(cache_dir, recipe)["lock"]
    if _read_lock(path).get("owner") != str(owner):
        return False
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def publish(cache_dir, recipe, src, expected_sha256, owner, metadata=None):
    """Move the fetched archive ``src`` (inside ``<cache_dir>/.incoming``) into the cache.

    The archive's sha256 must be ``expected_sha256`` (what the build host computed). When another
    run published the recipe meanwhile, its entry is kept and ``src`` discarded. Returns
    ``{"archive", "sha256", "index", "published": bool}``; the claim of ``owner`` is released.
    """
    expected = str(expected_sha256 or "").strip().lower()
    if not _SHA256.match(expected):
        raise ValueError("the build host's sha256 of the archive must be 64 hex digits, got %r" % (expected_sha256,))
    incoming = prepare_dir(cache_dir)
    if os.path.dirname(os.path.abspath(src)) != os.path.abspath(incoming):
        raise ValueError("the archive to publish must be in %s, got %s" % (incoming, src))
    try:
        actual = sha256_file(src)
        if actual != expected:
            raise ValueError("the fetched archive %s has sha256 %s, the build host computed %s; nothing was published"
                             % (src, actual, expected))
        existing = lookup(cache_dir, recipe)
        if existing is not None:
            existing["published"] = False
            return existing
        target = archive_path(cache_dir, recipe, actual)
        os.replace(src, target)
        index = dict(metadata or {})
        index.update({"fingerprint": recipe_fingerprint(recipe), "recipe": recipe, "id": recipe_id(recipe),
                      "archive": os.path.basename(target), "sha256": actual, "size": os.path.getsize(target)})
        _write_atomically(_paths(cache_dir, recipe)["index"], json.dumps(index, indent=2, sort_keys=True) + "\n")
        return {"archive": target, "sha256": actual, "index": index, "published": True}
    finally:
        if os.path.exists(src):
            os.unlink(src)
        release(cache_dir, recipe, owner)
