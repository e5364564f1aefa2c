# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import hashlib
import os

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _nginx_build_cache as cache
from ansible_collections.dockyard.registry.plugins.modules import nginx_build_cache
from ansible_collections.dockyard.registry.tests.unit.plugins.modules.utils import run_module

RECIPE = cache.build_recipe("1.26.3", "69ee2b237744036e61d24b836668aad3040dda461fe6f570f1787eab570c75aa",
                            ["--prefix=/opt/nginx", "--user=www", "--group=www", "--with-http_ssl_module"],
                            "Debian", "12", "x86_64")


def run(check_mode=None, **params):
    params.setdefault("recipe", RECIPE)
    return run_module(nginx_build_cache, check_mode=check_mode, **params)


def test_query_an_empty_cache_changes_nothing(tmp_path):
    out = run(path=str(tmp_path / "cache"))
    assert not out.failed
    assert out.result["cached"] is False and out.result["changed"] is False
    assert out.result["id"] == cache.recipe_id(RECIPE)
    assert not (tmp_path / "cache").exists()


def test_claim_publish_query_release(tmp_path):
    path = str(tmp_path)
    claimed = run(path=path, state="claim", owner="proxy1/1")
    assert claimed.result["claimed"] is True and claimed.result["cached"] is False
    assert claimed.result["changed"] is False
    src = os.path.join(path, cache.INCOMING, "fetched.tar.gz")
    with open(src, "wb") as handle:
        handle.write(b"nginx")
    sha = hashlib.sha256(b"nginx").hexdigest()
    published = run(path=path, state="publish", owner="proxy1/1", src=src, sha256=sha,
                    metadata={"built_by": "proxy1"})
    assert published.result["changed"] is True and published.result["cached"] is True
    assert published.result["sha256"] == sha and published.result["index"]["built_by"] == "proxy1"
    queried = run(path=path)
    assert queried.result["cached"] is True and queried.result["archive"] == published.result["archive"]
    claimed_again = run(path=path, state="claim", owner="proxy2/1")
    assert claimed_again.result["cached"] is True and claimed_again.result["claimed"] is False
    released = run(path=path, state="release", owner="proxy2/1")
    assert released.result["released"] is False and released.result["cached"] is True


def test_check_mode_claims_nothing(tmp_path):
    out = run(check_mode=True, path=str(tmp_path), state="claim", owner="p1")
    assert out.result["claimed"] is False and out.result["cached"] is False
    assert not os.path.exists(os.path.join(str(tmp_path), cache.recipe_id(RECIPE) + ".lock"))


def test_publish_of_a_corrupted_fetch_fails(tmp_path):
    path = str(tmp_path)
    run(path=path, state="claim", owner="p1")
    src = os.path.join(path, cache.INCOMING, "fetched.tar.gz")
    with open(src, "wb") as handle:
        handle.write(b"truncated")
    out = run(path=path, state="publish", owner="p1", src=src, sha256=hashlib.sha256(b"nginx").hexdigest())
    assert out.failed and "nothing was published" in out.result["msg"]
    assert run(path=path).result["cached"] is False


@pytest.mark.parametrize("params, message", [
    ({"state": "claim"}, "owner is required"),
    ({"state": "publish", "owner": "p1"}, "needs src and sha256"),
    ({"recipe": {"nginx_version": "1.26.3"}}, "exactly the keys"),
])
def test_bad_parameters_fail_clearly(tmp_path, params, message):
    out = run(path=str(tmp_path), **params)
    assert out.failed and message in out.result["msg"]
