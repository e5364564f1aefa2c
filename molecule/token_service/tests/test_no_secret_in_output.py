"""No secret in a -vvv run of the token service's play (passwords, hashes, private keys)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import INVENTORY, PROJECT, PROXY, USERS


def test_vvv_run_of_the_token_play_shows_no_secret():
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(PROJECT / ".cache" / "collections"), ANSIBLE_FORCE_COLOR="0")
    playbook = str(Path(sys.executable).parent / "ansible-playbook")
    res = subprocess.run([playbook, "-vvv", "-i", str(Path(INVENTORY).parent), "--limit", PROXY,
                          str(PROJECT / "playbooks" / "token.yml")],
                         capture_output=True, text=True, env=env, cwd=PROJECT, timeout=900, check=False)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert "dockyard.registry.htpasswd" in out or "Write the users" in out  # the play really ran
    for password in USERS.values():
        assert password not in out
    assert "PRIVATE KEY" not in out
    assert "$2y$" not in out and "$2b$" not in out
