"""Unit tests for lab/labctl.py, the command line: what other code imports from it still resolves."""

from __future__ import annotations

import labctl
from dockyard_lab import common, hosts, images


def test_names_other_code_imports_from_labctl_are_the_package_ones():
    # tests/lab and the molecule verifiers use these through `import labctl`
    assert labctl.s3_facts is images.s3_facts
    assert labctl.create_host is hosts.create_host
    assert labctl.network_lock_path is hosts.network_lock_path
    assert labctl.docker is common.docker
    assert labctl.NETWORK == common.NETWORK
    assert set(labctl.__all__) <= set(vars(labctl))


def test_cli_parser_knows_every_command(capsys):
    for command in ("build", "create", "destroy", "run-host", "rm-host", "run-args", "summary", "address",
                    "artifacts", "state", "clean"):
        try:
            labctl.main([command, "--help"])
        except SystemExit as exc:
            assert exc.code == 0
        assert "usage: labctl" in capsys.readouterr().out


REPORT = {
    "registry": "https://registry.lab.test:5043", "user": "ci", "image": "registry.lab.test:5043/dockyard/verify:t",
    "manifest_digest": "sha256:abc", "controller_checks_passed": ["auth", "push", "pull"],
    "clients_checks_passed": {"client": ["auth", "pull"]},
    "requests_per_backend": {"backend1": 3, "backend2": 4},
}


def _verified(report):
    return next(line for line in labctl.summary_lines(report, [("proxy", "10.0.0.2")]) if "client checks" in line)


def test_summary_reports_the_docker_cli_pull_only_where_it_ran():
    assert _verified(dict(REPORT, clients_docker_pull={"client": "sha256:abc"})).endswith("; docker CLI pull on client")
    line = _verified(dict(REPORT, clients_docker_pull={"client": "sha256:abc", "c2": ""}))
    assert line.endswith("; docker CLI pull on client (no docker CLI on c2)")
    assert _verified(dict(REPORT, clients_docker_pull={"client": ""})).endswith(
        "; no docker CLI pull (no client has a docker CLI)")
    assert "docker CLI pull on" not in _verified(REPORT)  # an older report without the fact
