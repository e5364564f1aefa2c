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
