# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import hashlib
import json
import os
import threading
import time

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _nginx_build_cache as cache

SHA = "69ee2b237744036e61d24b836668aad3040dda461fe6f570f1787eab570c75aa"
ARGS = ["--prefix=/opt/nginx", "--user=www", "--group=www", "--with-pcre", "--with-http_ssl_module"]


def recipe(**overrides):
    params = dict(version="1.26.3", source_sha256=SHA, configure_args=ARGS, distribution="Debian",
                  distribution_major_version="12", architecture="x86_64")
    params.update(overrides)
    return cache.build_recipe(**params)


def incoming_archive(cache_dir, content=b"archive bytes", name="a.tar.gz"):
    path = os.path.join(cache.prepare_dir(str(cache_dir)), name)
    with open(path, "wb") as handle:
        handle.write(content)
    return path, hashlib.sha256(content).hexdigest()


# --- recipes ---------------------------------------------------------------------------------


def test_recipe_is_canonical_and_readable():
    r = recipe()
    assert r["os"] == "debian-12" and r["architecture"] == "x86_64" and r["nginx_version"] == "1.26.3"
    assert cache.recipe_id(r).startswith("nginx-1.26.3-debian-12-x86_64-")
    assert json.loads(json.dumps(r)) == r
    assert cache.check_recipe(r) is r


def test_flag_order_and_duplicates_do_not_change_the_fingerprint():
    shuffled = ["--with-http_ssl_module", "--group=www", "--with-pcre", "--prefix=/opt/nginx", "--user=www",
                "--with-pcre"]
    assert cache.recipe_fingerprint(recipe(configure_args=shuffled)) == cache.recipe_fingerprint(recipe())


@pytest.mark.parametrize("change", [
    {"version": "1.22.1"},
    {"source_sha256": "9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31"},
    {"configure_args": ARGS + ["--with-http_v2_module"]},
    {"configure_args": ARGS[:-1] + ["--prefix=/usr/local/nginx"]},
    {"distribution_major_version": "13"},
    {"distribution": "RedHat"},
    {"architecture": "aarch64"},
])
def test_anything_that_makes_another_binary_makes_another_recipe(change):
    assert cache.recipe_fingerprint(recipe(**change)) != cache.recipe_fingerprint(recipe())
    assert cache.recipe_id(recipe(**change)) != cache.recipe_id(recipe())


@pytest.mark.parametrize("change, var", [
    ({"version": "latest"}, "nginx_version"),
    ({"source_sha256": "abc"}, "nginx_source_sha256"),
    ({"configure_args": []}, "configure arguments"),
    ({"configure_args": "--with-pcre"}, "configure arguments"),
    ({"distribution": ""}, "ansible_facts.distribution"),
    ({"architecture": None}, "ansible_facts.architecture"),
])
def test_bad_recipe_inputs_name_the_variable(change, var):
    with pytest.raises(ValueError, match=var):
        recipe(**change)


def test_check_recipe_refuses_hand_made_recipes():
    bad = dict(recipe(), configure_args=list(reversed(recipe()["configure_args"])))
    with pytest.raises(ValueError, match="canonical"):
        cache.check_recipe(bad)
    with pytest.raises(ValueError, match="exactly the keys"):
        cache.check_recipe({"nginx_version": "1.26.3"})
    with pytest.raises(ValueError, match="canonical"):
        cache.check_recipe(dict(recipe(), format=0))


# --- claim / publish / lookup / release --------------------------------------------------------


def test_first_claim_builds_then_publish_makes_it_cached(tmp_path):
    r = recipe()
    first = cache.claim(str(tmp_path), r, "proxy1/run1")
    assert first["state"] == "claimed" and os.path.exists(first["lock"])
    src, sha = incoming_archive(tmp_path)
    entry = cache.publish(str(tmp_path), r, src, sha, "proxy1/run1", {"built_by": "proxy1"})
    assert entry["published"] is True and entry["sha256"] == sha
    assert os.path.basename(entry["archive"]) == "%s.%s.tar.gz" % (cache.recipe_id(r), sha[:16])
    assert not os.path.exists(src) and not os.path.exists(first["lock"])
    found = cache.lookup(str(tmp_path), r)
    assert found["archive"] == entry["archive"] and found["index"]["built_by"] == "proxy1"
    assert found["index"]["size"] == len(b"archive bytes")
    again = cache.claim(str(tmp_path), r, "proxy2/run1")
    assert again["state"] == "cached" and again["sha256"] == sha


def test_publish_refuses_an_archive_whose_sha256_differs_and_releases(tmp_path):
    r = recipe()
    cache.claim(str(tmp_path), r, "p1")
    src, _sha = incoming_archive(tmp_path)
    with pytest.raises(ValueError, match="nothing was published"):
        cache.publish(str(tmp_path), r, src, "0" * 64, "p1")
    assert cache.lookup(str(tmp_path), r) is None
    assert not os.path.exists(src)
    assert cache.claim(str(tmp_path), r, "p2")["state"] == "claimed"


def test_publish_only_from_incoming(tmp_path):
    other = tmp_path / "elsewhere.tar.gz"
    other.write_bytes(b"x")
    with pytest.raises(ValueError, match=".incoming"):
        cache.publish(str(tmp_path), recipe(), str(other), hashlib.sha256(b"x").hexdigest(), "p1")
    assert other.exists()


def test_a_second_publish_keeps_the_first_entry(tmp_path):
    r = recipe()
    src, sha = incoming_archive(tmp_path, b"first")
    first = cache.publish(str(tmp_path), r, src, sha, "p1")
    src2, sha2 = incoming_archive(tmp_path, b"second", "b.tar.gz")
    second = cache.publish(str(tmp_path), r, src2, sha2, "p2")
    assert second["published"] is False and second["sha256"] == first["sha256"] == sha
    assert not os.path.exists(src2)


def test_release_only_by_the_owner(tmp_path):
    r = recipe()
    claimed = cache.claim(str(tmp_path), r, "p1")
    assert cache.release(str(tmp_path), r, "p2") is False
    assert os.path.exists(claimed["lock"])
    assert cache.release(str(tmp_path), r, "p1") is True
    assert cache.release(str(tmp_path), r, "p1") is False


def test_a_waiter_gets_the_other_runs_build_instead_of_compiling(tmp_path):
    r = recipe()
    assert cache.claim(str(tmp_path), r, "run-a")["state"] == "claimed"
    results = {}

    def waiter():
        results["b"] = cache.claim(str(tmp_path), r, "run-b", lock_timeout=60, poll=0.02)

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.1)
    assert thread.is_alive(), "run-b must wait while run-a builds"
    src, sha = incoming_archive(tmp_path)
    cache.publish(str(tmp_path), r, src, sha, "run-a")
    thread.join(5)
    assert results["b"]["state"] == "cached" and results["b"]["sha256"] == sha
    assert results["b"]["waited"] >= 0.1


def test_a_released_claim_lets_the_waiter_build(tmp_path):
    r = recipe()
    cache.claim(str(tmp_path), r, "run-a")
    results = {}
    thread = threading.Thread(target=lambda: results.update(b=cache.claim(str(tmp_path), r, "run-b", poll=0.02)))
    thread.start()
    time.sleep(0.1)
    cache.release(str(tmp_path), r, "run-a")  # run-a's build failed
    thread.join(5)
    assert results["b"]["state"] == "claimed" and results["b"]["took_over"] is False


def test_a_stale_lock_is_taken_over(tmp_path):
    r = recipe()
    lock = cache.claim(str(tmp_path), r, "dead-run")["lock"]
    old = time.time() - 1000
    os.utime(lock, (old, old))
    sleeps = []
    taken = cache.claim(str(tmp_path), r, "new-run", lock_timeout=900, sleep=sleeps.append)
    assert taken["state"] == "claimed" and taken["took_over"] is True and sleeps == []
    assert json.loads(open(lock).read())["owner"] == "new-run"
    assert [p for p in os.listdir(tmp_path) if ".stale." in p] == []


def test_a_fresh_lock_is_waited_for_until_it_is_stale(tmp_path):
    r = recipe()
    cache.claim(str(tmp_path), r, "slow-run")
    now = [time.time()]
    waits = []

    def fake_sleep(seconds):
        waits.append(seconds)
        now[0] += seconds

    taken = cache.claim(str(tmp_path), r, "new-run", lock_timeout=5, poll=1.0, clock=lambda: now[0], sleep=fake_sleep)
    assert taken["state"] == "claimed" and taken["took_over"] is True
    assert 5 <= len(waits) <= 7


def test_many_concurrent_claimers_build_once(tmp_path):
    r = recipe()
    outcomes = []
    lock = threading.Lock()

    def run(name):
        got = cache.claim(str(tmp_path), r, name, poll=0.01)
        if got["state"] == "claimed":
            time.sleep(0.05)
            src, sha = incoming_archive(tmp_path, b"built by " + name.encode(), name + ".tar.gz")
            got = dict(cache.publish(str(tmp_path), r, src, sha, name), state="built")
        with lock:
            outcomes.append((name, got["state"], got["sha256"]))

    threads = [threading.Thread(target=run, args=("run-%d" % i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(state for _n, state, _s in outcomes) == ["built"] + ["cached"] * 5
    assert len({sha for _n, _s, sha in outcomes}) == 1
    assert sorted(os.listdir(tmp_path / cache.INCOMING)) == []


def test_a_broken_index_is_reported_not_rebuilt_over(tmp_path):
    r = recipe()
    src, sha = incoming_archive(tmp_path)
    entry = cache.publish(str(tmp_path), r, src, sha, "p1")
    index_path = os.path.join(str(tmp_path), cache.recipe_id(r) + ".json")
    os.unlink(entry["archive"])
    with pytest.raises(ValueError, match="missing"):
        cache.lookup(str(tmp_path), r)
    with open(index_path, "w") as handle:
        handle.write("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        cache.lookup(str(tmp_path), r)
    with open(index_path, "w") as handle:
        json.dump({"fingerprint": cache.recipe_fingerprint(r), "recipe": r, "archive": "../../etc/passwd",
                   "sha256": sha}, handle)
    with pytest.raises(ValueError, match="no valid archive"):
        cache.lookup(str(tmp_path), r)
    with open(index_path, "w") as handle:
        json.dump({"fingerprint": "0" * 64, "recipe": r}, handle)
    with pytest.raises(ValueError, match="does not describe"):
        cache.lookup(str(tmp_path), r)


def test_the_cache_dir_must_be_absolute():
    with pytest.raises(ValueError, match="nginx_build_cache_dir"):
        cache.claim("relative/dir", recipe(), "p1")


def test_claim_needs_an_owner_and_a_positive_timeout(tmp_path):
    with pytest.raises(ValueError, match="owner"):
        cache.claim(str(tmp_path), recipe(), "")
    with pytest.raises(ValueError, match="nginx_build_cache_lock_timeout"):
        cache.claim(str(tmp_path), recipe(), "p1", lock_timeout=0)
