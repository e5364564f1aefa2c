# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""roles/keepalived/templates/keepalived-drain.sh.j2: the VIP holder drains before keepalived stops.

The script is rendered and run with fake ``ip``, ``nft``, ``ss`` and ``sleep`` first in PATH, which
record their calls: only the holder adds the drop rule (for new connections to the VIP, nothing
else), the wait ends when no connection is left or after keepalived_drain_time, ``end`` removes the
table, and nothing here can make systemd's stop fail.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import jinja2
import pytest

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = REPO / "roles" / "keepalived" / "templates" / "keepalived-drain.sh.j2"
VIP = "10.9.0.250"
TABLE = "dockyard_keepalived_drain"

FAKES = {
    # ip -4 -o addr show: the VIP is on eth0 when $HOLDER is 1
    "ip": """#!/bin/sh
echo "ip $*" >> "$LOG"
echo "2: eth0    inet 10.9.0.3/16 brd 10.9.255.255 scope global eth0"
[ "$HOLDER" = 1 ] && echo "2: eth0    inet %s/32 scope global eth0"
exit 0
""" % VIP,
    "nft": """#!/bin/sh
echo "nft $*" >> "$LOG"
[ "$1" = -f ] && cat > "$RULES"
exit "${NFT_RC:-0}"
""",
    # ss: one connection line for the first $OPEN calls, then none
    "ss": """#!/bin/sh
echo "ss $*" >> "$LOG"
n=$(cat "$SS_COUNT" 2>/dev/null || echo 0)
echo $((n + 1)) > "$SS_COUNT"
[ "$n" -lt "$OPEN" ] && echo "0 0 %s:443 10.9.0.7:40000"
exit 0
""" % VIP,
    "sleep": """#!/bin/sh
echo "sleep $*" >> "$LOG"
""",
}


def render(drain_time) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters.update(comment=lambda text: "# " + text, quote=shlex.quote)
    return env.from_string(TEMPLATE.read_text()).render(
        ansible_managed="Ansible managed", keepalived_vip=VIP, keepalived_follow_service="nginx",
        keepalived_drain_time=drain_time, __keepalived_drain_table=TABLE)


@pytest.fixture
def run(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in FAKES.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)

    def _run(action, drain_time=1, holder=True, open_for=0, nft_rc=0):
        script = tmp_path / "drain.sh"
        script.write_text(render(drain_time))
        script.chmod(0o755)
        env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", LOG=str(tmp_path / "log"),
                   RULES=str(tmp_path / "rules"), SS_COUNT=str(tmp_path / "ss-count"), OPEN=str(open_for),
                   HOLDER="1" if holder else "0", NFT_RC=str(nft_rc))
        for name in ("log", "rules", "ss-count"):
            (tmp_path / name).unlink(missing_ok=True)
        done = subprocess.run([str(script), action], env=env, capture_output=True, text=True, timeout=30)
        log = (tmp_path / "log").read_text().splitlines() if (tmp_path / "log").exists() else []
        rules = (tmp_path / "rules").read_text() if (tmp_path / "rules").exists() else ""
        return done, log, rules

    return _run


def test_the_holder_drops_only_new_connections_to_the_vip_and_waits_for_the_open_ones(run):
    done, log, rules = run("drain", open_for=3)
    assert done.returncode == 0, done.stderr
    assert f"table ip {TABLE}" in rules and "hook input" in rules
    assert f"ip daddr {VIP} tcp flags & (syn | ack) == syn drop" in rules
    assert rules.count("drop") == 1 and "policy accept" in rules
    # three polls see a connection (a sleep after each), the fourth sees none and ends the wait
    assert [line for line in log if line.startswith("sleep")] == ["sleep 0.1"] * 3
    assert f"ss -Htn state established state syn-recv src {VIP}" in log
    assert "draining:" in done.stdout and "drained: 0 connection(s)" in done.stdout


def test_the_wait_is_bounded_by_the_drain_time(run):
    done, log, _rules = run("drain", drain_time=1.5, open_for=1000)
    assert done.returncode == 0
    assert len([line for line in log if line.startswith("sleep")]) == 15
    assert "drained: 1 connection(s)" in done.stdout


def test_a_proxy_without_the_vip_stops_at_once(run):
    done, log, rules = run("drain", holder=False, open_for=5)
    assert done.returncode == 0
    assert rules == "" and not [line for line in log if line.startswith(("nft", "ss", "sleep"))]


def test_drain_time_zero_switches_it_off(run):
    done, log, rules = run("drain", drain_time=0)
    assert done.returncode == 0 and rules == "" and log == []


def test_a_failing_nft_never_blocks_the_stop(run):
    done, log, _rules = run("drain", nft_rc=1, open_for=5)
    assert done.returncode == 0
    assert "without draining" in done.stderr
    assert not [line for line in log if line.startswith("sleep")]


def test_end_removes_the_table_and_always_succeeds(run):
    for rc in (0, 1):
        done, log, _rules = run("end", nft_rc=rc)
        assert done.returncode == 0
        assert log == [f"nft delete table ip {TABLE}"]


def test_an_unknown_action_is_refused(run):
    done, _log, _rules = run("stop")
    assert done.returncode == 2 and "usage" in done.stderr
