"""`--check` on a fresh host: the role plans everything, fails nowhere and changes nothing."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import LABCTL, PROJECT, SCENARIO  # puts .cache/collections on sys.path

from ansible_collections.dockyard.registry.tests.harness import run_playbook  # noqa: E402

FRESH = "ngx-fresh"


def _docker_exec(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "exec", FRESH, *cmd], text=True, capture_output=True, check=False)


def test_check_mode_on_a_fresh_host(tmp_path):
    # a leftover from an interrupted run would not be fresh
    subprocess.run([sys.executable, str(LABCTL), "rm-host", FRESH], check=True, capture_output=True)
    try:
        subprocess.run([sys.executable, str(LABCTL), "run-host", FRESH, "--image", "systemd"],
                       check=True, capture_output=True, text=True)
        inventory = tmp_path / "inventory.ini"
        inventory.write_text(f"[ngx_fresh]\n{FRESH} ansible_connection=community.docker.docker\n")
        run = run_playbook("--check", "-i", inventory, SCENARIO / "playbooks" / "check_fresh.yml",
                           env={"MOLECULE_PROJECT_DIRECTORY": PROJECT})
        output = run.stdout + run.stderr
        assert run.returncode == 0, output[-6000:]
        recap = re.search(rf"^{FRESH}\s*:.*$", run.stdout, re.MULTILINE).group(0)
        assert "failed=0" in recap and "unreachable=0" in recap, recap
        assert "changed=0" not in recap, recap  # check mode predicts the installation
        assert "Would build nginx 1.26.3" in output
        assert "Would write 1 user(s) to /opt/nginx/conf/.htpasswd" in output
        assert "Would enable nginx and make it started" in output
        # the whole-file configs are planned (changed) even though nothing exists to validate them with
        for task in ("Write nginx.conf", "Install the configuration test wrapper", "Install the systemd unit"):
            planned = re.search(rf"TASK \[dockyard\.registry\.nginx : {task}[^\n]*\n(?:[^\n]*\n)*?(changed|ok|skipping): \[{FRESH}\]",
                                output)
            assert planned and planned.group(1) == "changed", f"{task}: {planned and planned.group(1)}"
        # check mode changed nothing on the host
        for path in ("/opt/nginx", "/etc/systemd/system/nginx.service", "/etc/logrotate.d/nginx"):
            assert _docker_exec("test", "-e", path).returncode != 0, f"{path} exists after --check"
        assert _docker_exec("getent", "passwd", "www").returncode != 0
    finally:
        subprocess.run([sys.executable, str(LABCTL), "rm-host", FRESH], check=False, capture_output=True)
