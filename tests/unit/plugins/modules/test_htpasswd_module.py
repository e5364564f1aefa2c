# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run-path tests of the dockyard.registry.htpasswd module: main() with patched module args."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible.module_utils import basic

from ansible_collections.dockyard.registry.plugins.module_utils import _htpasswd as h
from ansible_collections.dockyard.registry.plugins.modules import htpasswd
from ansible_collections.dockyard.registry.tests.unit.plugins.modules.utils import run_module

SECRETS = ("pw-alice", "pw-bob", "pw-carol", "new-alice")

EXISTING = (
    "# managed by dockyard, plus one hand-made entry\n"
    "alice:$apr1$3sin79HZ$KXZrRUUOLKM9CHKmSbCfl1\n"     # htpasswd -nbm alice 'S3cret!'
    "handmade:{SHA}n8Ks1GswRpcwwDkajhTBCdNCZjg=\n"      # htpasswd -nbs handmade 'S3cret!'
)


@pytest.fixture
def remote_tmp(tmp_path):
    d = tmp_path / "remote_tmp"
    d.mkdir()
    return str(d)


def run(remote_tmp, check=False, diff=False, **params):
    params.update(_ansible_check_mode=check, _ansible_diff=diff, _ansible_remote_tmp=remote_tmp,
                  _ansible_keep_remote_files=False)
    out = run_module(htpasswd, **params)
    dumped = json.dumps(out.result, default=str)
    for secret in SECRETS:
        assert secret not in dumped, "a password leaked into the result"
    assert "$apr1$" not in dumped and "$2y$" not in dumped and "$6$" not in dumped, "a hash leaked"
    return out


def snapshot(path):
    st = os.stat(path)
    with open(path, "rb") as f:
        return f.read(), st.st_mtime_ns, st.st_ino


def entries(path):
    with open(path) as f:
        return {x.user: x.hashed for x in h.parse(f.read()) if x.is_entry}


USERS = [{"name": "alice", "password": "pw-alice"}, {"name": "bob", "password": "pw-bob"}]


def test_check_mode_on_a_fresh_host_then_create_then_idempotent(tmp_path, remote_tmp):
    path = str(tmp_path / "htpasswd")
    out = run(remote_tmp, check=True, diff=True, path=path, users=USERS, hash_scheme="sha512_crypt")
    assert not out.failed and out.result["changed"] is True
    assert out.result["users_added"] == ["alice", "bob"]
    assert out.result["diff"]["after"] == "alice (sha512_crypt, rounds=5000)\nbob (sha512_crypt, rounds=5000)\n"
    assert not os.path.exists(path)

    out = run(remote_tmp, path=path, users=USERS, hash_scheme="sha512_crypt")
    assert out.result["changed"] is True and out.result["users_added"] == ["alice", "bob"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600       # hashes are not world-readable
    stored = entries(path)
    assert h.verify_password("pw-alice", stored["alice"]) and h.verify_password("pw-bob", stored["bob"])
    before = snapshot(path)

    for check in (True, False):
        out = run(remote_tmp, check=check, diff=True, path=path, users=USERS, hash_scheme="sha512_crypt")
        assert out.result["changed"] is False
        assert out.result["users_added"] == out.result["users_removed"] == out.result["users_updated"] == []
        assert "diff" not in out.result
        assert snapshot(path) == before                           # byte-for-byte, not even rewritten


def test_single_user_bcrypt_writes_2y(tmp_path, remote_tmp):
    path = str(tmp_path / "htpasswd")
    out = run(remote_tmp, path=path, name="alice", password="pw-alice", bcrypt_cost=4)
    assert out.result["changed"] is True
    assert entries(path)["alice"].startswith("$2y$04$")
    out = run(remote_tmp, path=path, name="alice", password="pw-alice", bcrypt_cost=4)
    assert out.result["changed"] is False


def test_check_mode_and_diff_on_an_existing_file(tmp_path, remote_tmp):
    path = tmp_path / "htpasswd"
    path.write_text(EXISTING)
    before = snapshot(str(path))
    users = [{"name": "alice", "password": "new-alice"}, {"name": "carol", "password": "pw-carol"},
             {"name": "handmade", "state": "absent"}]
    out = run(remote_tmp, check=True, diff=True, path=str(path), users=users, hash_scheme="apr_md5_crypt")
    assert out.result["changed"] is True
    assert out.result["users_added"] == ["carol"]
    assert out.result["users_removed"] == ["handmade"]
    assert out.result["users_updated"] == [{"name": "alice", "reason": "password"}]
    assert out.result["diff"] == {
        "before": "alice (apr_md5_crypt)\nhandmade (ldap_sha1)\n",
        "after": "alice (apr_md5_crypt) [rehashed: password]\ncarol (apr_md5_crypt)\n",
        "before_header": str(path),
        "after_header": str(path),
    }
    assert snapshot(str(path)) == before                          # check mode wrote nothing

    out = run(remote_tmp, diff=True, path=str(path), users=users, hash_scheme="apr_md5_crypt")
    assert out.result["changed"] is True
    text = path.read_text()
    assert text.startswith("# managed by dockyard, plus one hand-made entry\n")
    stored = entries(str(path))
    assert list(stored) == ["alice", "carol"]
    assert h.verify_password("new-alice", stored["alice"]) and h.verify_password("pw-carol", stored["carol"])


def test_scheme_change_rehashes_with_reason(tmp_path, remote_tmp):
    path = tmp_path / "htpasswd"
    path.write_text(EXISTING)
    out = run(remote_tmp, path=str(path), name="alice", password="S3cret!", hash_scheme="sha256_crypt")
    assert out.result["users_updated"] == [{"name": "alice", "reason": "scheme"}]
    assert h.identify(entries(str(path))["alice"]).scheme == "sha256_crypt"
    assert "handmade:{SHA}n8Ks1GswRpcwwDkajhTBCdNCZjg=\n" in path.read_text()   # unmanaged: untouched


def test_exclusive_removes_unlisted_users_keeps_comments(tmp_path, remote_tmp):
    path = tmp_path / "htpasswd"
    path.write_text(EXISTING)
    out = run(remote_tmp, diff=True, path=str(path), users=[{"name": "alice", "password": "S3cret!"}],
              exclusive=True, hash_scheme="apr_md5_crypt")
    assert out.result["changed"] is True
    assert out.result["users_removed"] == ["handmade"] and out.result["users_updated"] == []
    assert out.result["msg"] == "0 added, 1 removed (handmade), 0 updated"   # roles print it
    assert path.read_text() == (
        "# managed by dockyard, plus one hand-made entry\n"
        "alice:$apr1$3sin79HZ$KXZrRUUOLKM9CHKmSbCfl1\n"
    )
    assert out.result["diff"]["after"] == "alice (apr_md5_crypt)\n"


def test_parse_failure_leaves_the_file_untouched(tmp_path, remote_tmp):
    path = tmp_path / "htpasswd"
    path.write_text("alice:$apr1$3sin79HZ$KXZrRUUOLKM9CHKmSbCfl1\n# fine\nthis line has no colon\n")
    before = snapshot(str(path))
    out = run(remote_tmp, path=str(path), users=[], exclusive=True)
    assert out.failed
    assert "line 3" in out.result["msg"] and "left untouched" in out.result["msg"]
    assert out.result["lineno"] == 3
    assert "this line" not in out.result["msg"]
    assert snapshot(str(path)) == before


def test_backup(tmp_path, remote_tmp):
    path = tmp_path / "htpasswd"
    path.write_text(EXISTING)
    out = run(remote_tmp, path=str(path), name="handmade", state="absent", backup=True)
    assert out.result["changed"] is True
    backup = out.result["backup_file"]
    assert backup and os.path.dirname(backup) == str(tmp_path)
    with open(backup) as f:
        assert f.read() == EXISTING
    out = run(remote_tmp, path=str(path), name="handmade", state="absent", backup=True)
    assert out.result["changed"] is False and "backup_file" not in out.result


def test_file_attributes_and_mode(tmp_path, remote_tmp):
    path = tmp_path / "htpasswd"
    out = run(remote_tmp, path=str(path), users=USERS, hash_scheme="apr_md5_crypt", mode="0640")
    assert out.result["changed"] is True
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o640
    before = snapshot(str(path))
    out = run(remote_tmp, check=True, path=str(path), users=USERS, hash_scheme="apr_md5_crypt", mode="0644")
    assert out.result["changed"] is True and snapshot(str(path)) == before   # mode change predicted
    out = run(remote_tmp, path=str(path), users=USERS, hash_scheme="apr_md5_crypt", mode="0644")
    assert out.result["changed"] is True and out.result["users_added"] == []
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o644
    assert snapshot(str(path))[0] == before[0]


def test_symlink_is_followed(tmp_path, remote_tmp):
    target = tmp_path / "real"
    target.write_text(EXISTING)
    link = tmp_path / "link"
    link.symlink_to(target)
    run(remote_tmp, path=str(link), name="bob", password="pw-bob", hash_scheme="apr_md5_crypt")
    assert link.is_symlink()
    assert "bob" in entries(str(target))


def test_missing_file_without_create(tmp_path, remote_tmp):
    path = str(tmp_path / "htpasswd")
    out = run(remote_tmp, path=path, name="alice", password="pw-alice", create=False)
    assert out.failed and "does not exist and create=false" in out.result["msg"]
    out = run(remote_tmp, path=path, name="alice", state="absent", create=False)
    assert not out.failed and out.result["changed"] is False
    assert not os.path.exists(path)


def test_missing_directory_fails_before_hashing_and_only_warns_in_check_mode(tmp_path, remote_tmp):
    path = str(tmp_path / "no-such-dir" / "htpasswd")
    out = run(remote_tmp, path=path, name="alice", password="pw-alice", hash_scheme="sha512_crypt")
    assert out.failed and "does not exist" in out.result["msg"] and "no-such-dir" in out.result["msg"]
    out = run(remote_tmp, check=True, path=path, name="alice", password="pw-alice", hash_scheme="sha512_crypt")
    assert not out.failed
    assert not os.path.exists(os.path.dirname(path))


def test_nothing_to_add_does_not_create_the_file(tmp_path, remote_tmp):
    path = str(tmp_path / "htpasswd")
    out = run(remote_tmp, path=path, users=[], exclusive=True)
    assert out.result["changed"] is False and not os.path.exists(path)


@pytest.mark.parametrize("params, message", [
    ({"name": "al:ice", "password": "pw-alice"}, "colon"),
    ({"name": "", "password": "pw-alice"}, "must not be empty"),
    ({"name": "alice", "password": "pw\nalice"}, "newline"),
    ({"name": "alice", "password": "a" * 73}, "bcrypt uses at most 72 bytes"),
    ({"name": "alice"}, "password is required"),
    ({"users": [{"name": "bob", "password": "pw-bob"}, {"name": "bob", "password": "pw-bob"}]}, "more than once"),
    ({"name": "alice", "password": "pw-alice", "hash_scheme": "md5"}, "value of hash_scheme must be one of"),
    ({"name": "alice", "password": "pw-alice", "bcrypt_cost": 40}, "bcrypt_cost must be between"),
    ({"name": "alice", "password": "pw-alice", "users": []}, "mutually exclusive"),
    ({"password": "pw-alice"}, "one of the following is required"),
])
def test_bad_input_is_refused(tmp_path, remote_tmp, params, message):
    path = str(tmp_path / "htpasswd")
    out = run(remote_tmp, path=path, **params)
    assert out.failed and message in out.result["msg"]
    assert not os.path.exists(path)


def test_directory_is_refused(tmp_path, remote_tmp):
    out = run(remote_tmp, path=str(tmp_path), name="alice", password="pw-alice")
    assert out.failed and "is a directory" in out.result["msg"]


def test_missing_bcrypt_warns_in_check_mode_and_fails_before_writing(tmp_path, remote_tmp, monkeypatch):
    monkeypatch.setattr(h, "_bcrypt_lib", None)
    monkeypatch.setattr(h, "_bcrypt_backend", _raise_missing)
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, msg: warnings.append(msg))
    path = tmp_path / "f"
    # a fresh host in check mode: the package task before this one did not really install it
    out = run(remote_tmp, check=True, path=str(path), name="alice", password="pw-alice")
    assert not out.failed and out.result["changed"] is True
    assert len(warnings) == 1 and "python3-bcrypt" in warnings[0] and "real run will fail" in warnings[0]
    out = run(remote_tmp, path=str(path), name="alice", password="pw-alice")
    assert out.failed and "python3-bcrypt" in out.result["msg"]
    assert not path.exists()
    # an existing file is not touched either
    path.write_text(EXISTING)
    before = snapshot(str(path))
    out = run(remote_tmp, path=str(path), name="bob", password="pw-bob")
    assert out.failed and snapshot(str(path)) == before
    # other schemes do not need the library
    out = run(remote_tmp, path=str(path), name="bob", password="pw-bob", hash_scheme="sha256_crypt")
    assert not out.failed and out.result["users_added"] == ["bob"]


def _raise_missing():
    raise h.MissingBackendError("hash scheme bcrypt needs the Python 'bcrypt' library (python3-bcrypt)")


def test_passwords_are_no_log(tmp_path, remote_tmp):
    spec = htpasswd.argument_spec()
    assert spec["password"]["no_log"] is True
    assert spec["users"]["options"]["password"]["no_log"] is True


LONG = "L" * 512   # libxcrypt refuses SHA-crypt passphrases of 512 bytes or more


@pytest.mark.parametrize("scheme", ["sha256_crypt", "sha512_crypt"])
def test_sha_crypt_password_of_512_bytes_is_refused(tmp_path, remote_tmp, scheme):
    path = tmp_path / "htpasswd"
    out = run(remote_tmp, path=str(path), users=[{"name": "alice", "password": LONG}], hash_scheme=scheme)
    assert out.failed
    assert "alice" in out.result["msg"] and "511 bytes" in out.result["msg"]
    assert LONG[:32] not in json.dumps(out.result, default=str)
    assert not path.exists()


def test_existing_overlong_sha_crypt_entry_is_not_reported_ok(tmp_path, remote_tmp):
    # A line written before the limit was enforced verifies in Python but never in nginx: the run
    # must fail instead of saying "ok" for a user who cannot log in, and leave the file alone.
    path = tmp_path / "htpasswd"
    path.write_text("alice:$6$salt$%s\n" % h._sha_crypt_checksum(LONG.encode(), b"salt", 5000, h.SHA512_CRYPT))
    before = snapshot(str(path))
    out = run(remote_tmp, path=str(path), users=[{"name": "alice", "password": LONG}], hash_scheme="sha512_crypt")
    assert out.failed and "alice" in out.result["msg"]
    assert snapshot(str(path)) == before
