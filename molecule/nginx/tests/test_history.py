"""What the converge, the idempotence run and the side effects saw (their ledger entries).

Each run records on the controller (lab_tasks/ledger.yml) the role's build decision (nginx_build_info),
the binary's checksum/mtime/inode, the previous binary (sbin/nginx.old), the master PID, and for
runs under load the request loop's summary. Entries of earlier lab hosts are ignored (the
start time of the proxy's PID 1 tells them apart).
Expected sequence (molecule.yml test_sequence):
converge, converge (idempotence), upgrade, upgrade (again), flags-interrupted + flags (one side
effect: a run that dies after make install, then a normal run), broken-snippet.
"""

from __future__ import annotations

import json

import pytest
from conftest import EPHEMERAL, boot_instance

LEDGER = EPHEMERAL / "ngx-lab-ledger"


@pytest.fixture(scope="module")
def history(proxy) -> dict:
    instance = boot_instance(proxy.check_output("cat /proc/1/stat"))
    entries = [json.loads(p.read_text()) for p in sorted(LEDGER.glob("*.json"))]
    mine = [e for e in entries if e["instance"] == instance and e["host"] == "ngx-proxy"]
    stages = [e["stage"] for e in mine]
    assert stages == ["converge", "converge", "upgrade", "upgrade", "flags-interrupted", "flags",
                      "broken-snippet"], stages
    return {
        "converge": mine[0], "idempotence": mine[1], "upgrade": mine[2], "upgrade_again": mine[3],
        "flags_interrupted": mine[4], "flags": mine[5], "broken": mine[6],
    }


def _same_binary(a: dict, b: dict) -> bool:
    return all(a[k] == b[k] for k in ("binary_sha256", "binary_mtime", "binary_inode"))


def test_first_converge_built_1_22_1_from_the_lab_tarball(history):
    run = history["converge"]
    assert run["role_decision"]["needs_build"] is True
    assert run["after"]["version"] == "1.22.1"
    assert "--with-http_flv_module" not in run["after"]["configure_arguments"]


def test_idempotence_run_built_nothing(history):
    first, second = history["converge"], history["idempotence"]
    assert second["role_decision"]["needs_build"] is False, second["role_decision"]
    assert _same_binary(first["after"], second["after"])
    assert first["after"]["master_pid"] == second["after"]["master_pid"]


def test_version_change_rebuilt_exactly_once_without_failed_requests(history):
    run = history["upgrade"]
    assert run["role_decision"]["needs_build"] is True
    assert "1.22.1" in run["role_decision"]["reason"] and "1.26.3" in run["role_decision"]["reason"]
    assert run["before"]["version"] == "1.22.1" and run["after"]["version"] == "1.26.3"
    assert run["built"] is True and run["single_install"] is True
    assert run["left_to_build"] is False
    assert run["after"]["master_pid"] != run["before"]["master_pid"]
    assert run["after"]["master_exe"] == "/opt/nginx/sbin/nginx"
    assert run["loop"]["failures"] == 0 and run["loop"]["requests"] >= 20, run["loop"]
    assert run["loop_covered_role"] is True
    assert run["loop_ok_during_handlers"] > 0  # answers while the binary upgrade ran
    assert _same_binary(history["idempotence"]["after"], run["before"])


def test_same_upgrade_again_builds_nothing(history):
    first, again = history["upgrade"], history["upgrade_again"]
    assert again["role_decision"]["needs_build"] is False, again["role_decision"]
    assert again["built"] is False
    assert _same_binary(first["after"], again["after"])
    assert again["after"]["master_pid"] == first["after"]["master_pid"]
    assert again["loop"]["failures"] == 0


def test_configure_flag_change_installed_once_by_a_run_that_died_before_its_handlers(history):
    run = history["flags_interrupted"]
    assert run["role_decision"]["needs_build"] is True
    assert "--with-http_flv_module" in run["role_decision"]["reason"]
    assert run["failed"] and "Manage the registry users" in run["failed"]["task"]
    assert run["built"] is True and run["single_install"] is True and run["left_to_build"] is False
    assert run["before"]["version"] == run["after"]["version"] == "1.26.3"
    assert "--with-http_flv_module" in run["after"]["configure_arguments"]
    # the new binary is installed, but the master is the one from before, on the old binary
    assert run["after"]["master_pid"] == run["before"]["master_pid"]
    assert run["after"]["master_exe"] != "/opt/nginx/sbin/nginx"
    assert _same_binary(history["upgrade_again"]["after"], run["before"])


def test_next_run_upgraded_the_master_without_building_or_failed_requests(history):
    died, run = history["flags_interrupted"], history["flags"]
    assert run["role_decision"]["needs_build"] is False, run["role_decision"]
    assert run["built"] is False and run["left_to_build"] is False
    assert _same_binary(died["after"], run["before"]) and _same_binary(run["before"], run["after"])
    assert run["before"]["master_pid"] == died["before"]["master_pid"]
    assert run["after"]["master_pid"] != run["before"]["master_pid"]
    assert run["after"]["master_exe"] == "/opt/nginx/sbin/nginx"
    assert "--with-http_flv_module" in run["after"]["configure_arguments"]
    assert run["loop"]["failures"] == 0 and run["loop_covered_role"] is True
    assert run["loop_ok_during_handlers"] > 0


@pytest.mark.parametrize("snippet", ["server", "http"])
def test_broken_snippet_was_rejected_and_nginx_kept_serving(history, snippet):
    result = {r["name"]: r for r in history["broken"]["snippets"]}[snippet]
    assert result["rejected"] is not None
    assert "Write nginx.conf" in result["rejected"]["task"]
    assert "[emerg]" in result["rejected"]["message"]
    assert result["conf_unchanged"] and result["master_unchanged"] and result["binary_unchanged"]
    assert result["live_config_valid"]
    assert result["requests"]["failures"] == 0 and result["requests"]["ok"] == 10


def test_live_configuration_has_no_broken_snippet(proxy):
    conf = proxy.file("/opt/nginx/conf/nginx.conf").content_string
    assert "dockyard_no_such_directive" not in conf
    assert "proxy_buffering perhaps" not in conf
    # and no validation copies were left next to it
    assert proxy.run("ls /opt/nginx/conf/.nginx.conf.dockyard-validate.* 2>/dev/null").stdout.strip() == ""
