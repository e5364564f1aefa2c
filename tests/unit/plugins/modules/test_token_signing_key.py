"""dockyard.registry.token_signing_key: key files, modes, rotation phases, check mode."""

from __future__ import annotations

import grp
import json
import os
import pwd

from ansible_collections.dockyard.registry.plugins.modules import token_signing_key
from ansible_collections.dockyard.registry.tests.unit.plugins.modules.utils import run_module

OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def run(args, check=False):
    return run_module(token_signing_key, check_mode=check or None, **dict({"owner": OWNER, "group": GROUP}, **args))


def test_first_run_makes_a_private_key_0600_and_a_certificate(tmp_path):
    path = tmp_path / "keys"
    res = run({"path": str(path)})
    assert not res.failed and res.result["changed"]
    kid = res.result["active"]
    assert (path / f"{kid}.key").stat().st_mode & 0o777 == 0o600
    assert path.stat().st_mode & 0o777 == 0o700
    assert len(res.result["certificates"]) == 1 and "BEGIN CERTIFICATE" in res.result["certificates"][0]
    assert "PRIVATE" not in json.dumps(res.result) and "PRIVATE" not in json.dumps(res.output)
    again = run({"path": str(path)})
    assert not again.result["changed"] and again.result["active"] == kid


def test_check_mode_writes_nothing(tmp_path):
    res = run({"path": str(tmp_path / "keys")}, check=True)
    assert res.result["changed"] and not (tmp_path / "keys").exists()


def test_rotation_in_two_phases(tmp_path):
    path = str(tmp_path / "keys")
    first = run({"path": path}).result["active"]
    prep = run({"path": path, "force_rotate": True}).result
    assert prep["changed"] and prep["active"] == first and prep["pending"]
    assert len(prep["certificates"]) == 2
    act = run({"path": path, "phase": "activate"}).result
    assert act["changed"] and act["active"] == prep["pending"] and act["pending"] is None
    assert len(act["certificates"]) == 2  # the old key stays trusted for the overlap
    assert not run({"path": path, "phase": "activate"}).result["changed"]


def test_loose_key_mode_is_repaired(tmp_path):
    path = tmp_path / "keys"
    kid = run({"path": str(path)}).result["active"]
    os.chmod(path / f"{kid}.key", 0o644)
    assert run({"path": str(path)}).result["changed"]
    assert (path / f"{kid}.key").stat().st_mode & 0o777 == 0o600


def test_certificate_days_must_exceed_rotate_days(tmp_path):
    res = run({"path": str(tmp_path), "rotate_days": 90, "certificate_days": 30})
    assert res.failed and "certificate_days" in res.result["msg"]
