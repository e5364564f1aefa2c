"""No secret in a -vvv run of the token service's play (passwords, hashes, private keys)."""

from __future__ import annotations

from conftest import PROJECT, PROXY, USERS, run_playbook


def test_vvv_run_of_the_token_play_shows_no_secret():
    res = run_playbook("-vvv", "--limit", PROXY, str(PROJECT / "playbooks" / "token.yml"))
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert "Write the users" in out  # the play really ran its tasks
    for password in USERS.values():
        assert password not in out
    assert "PRIVATE KEY" not in out
    assert "$2y$" not in out and "$2b$" not in out
