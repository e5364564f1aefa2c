"""Recreation only on change.

Records: the first converge keeps one on each lab host (converge.yml, never overwritten);
side_effect.yml writes one per phase on the controller around its converges.
"""

from __future__ import annotations

import json

import pytest
from conftest import BACKENDS, RECORDS, lab_host

PHASES = ["before", "changed", "changed_again", "reverted"]
IDENTITY = ("id", "created", "started_at")


@pytest.fixture(scope="module")
def records() -> dict:
    found = {}
    for phase in PHASES:
        path = RECORDS / f"containers-{phase}.json"
        assert path.is_file(), f"{path} missing: run the side_effect step first"
        found[phase] = json.loads(path.read_text())
        assert sorted(found[phase]) == sorted(BACKENDS)
        assert all(found[phase][h]["exists"] for h in BACKENDS)
    return found


def same(a: dict, b: dict) -> bool:
    return all(a[k] == b[k] for k in IDENTITY)


@pytest.mark.parametrize("name", BACKENDS)
def test_unchanged_rerun_keeps_the_container(records, name):
    """The idempotence converge neither recreated nor restarted the container of the first converge."""
    first = json.loads(lab_host(name).file("/var/lib/dockyard-lab/registry-first-converge.json").content_string)
    assert first["id"] and first["created"] and first["started_at"]
    assert same(first, records["before"][name]), (first, records["before"][name])
    assert first["config_sha256"] == records["before"][name]["config_sha256"]


def test_config_change_recreates_exactly_that_container(records):
    before, changed = records["before"], records["changed"]
    assert not same(before["reg-b1"], changed["reg-b1"])
    assert changed["reg-b1"]["config_sha256"] != before["reg-b1"]["config_sha256"]
    assert changed["reg-b1"]["created"] > before["reg-b1"]["created"]
    for name in ("reg-b2", "reg-fs"):
        assert same(before[name], changed[name]), name
        assert changed[name]["config_sha256"] == before[name]["config_sha256"]


def test_config_change_recreates_once(records):
    """The same changed inventory converged again does not recreate anything a second time."""
    for name in BACKENDS:
        assert same(records["changed"][name], records["changed_again"][name]), name


def test_revert_restores_the_configuration(records):
    before, reverted = records["before"], records["reverted"]
    assert reverted["reg-b1"]["config_sha256"] == before["reg-b1"]["config_sha256"]
    assert not same(reverted["reg-b1"], records["changed_again"]["reg-b1"])
    for name in ("reg-b2", "reg-fs"):
        assert same(before[name], reverted[name]), name
