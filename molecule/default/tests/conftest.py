"""Shared helpers for the default scenario's testinfra verifiers."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pytest
import testinfra

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
LAB = PROJECT / "lab"
INVENTORY = os.environ.get("MOLECULE_INVENTORY_FILE")


def lab_env() -> dict:
    """Credentials and bucket of the lab's S3 host (lab/images/s3/lab.env, read by labctl)."""
    sys.path.insert(0, str(LAB))
    import labctl  # pylint: disable=import-outside-toplevel
    return labctl.s3_facts()


def lab_host(name: str):
    """A testinfra host for a lab container, whatever host the current test runs on."""
    return testinfra.get_host(f"docker://{name}")


def s3lite_program(code: str) -> str:
    """``code`` after the lab's S3 client (lab/images/s3/s3lite.py), as one program for run_python."""
    sys.path.insert(0, str(LAB))
    from dockyard_lab.s3 import s3lite_program as program  # pylint: disable=import-outside-toplevel
    return program(code)


def run_python(host, source: str, *args: str):
    """Run a Python script on a lab host through stdin (nothing is left on the host)."""
    cmd = "python3 - " + " ".join(shlex.quote(a) for a in args) + " <<'PYEOF'\n" + source + "\nPYEOF"
    return host.run(cmd)


@pytest.fixture(scope="session")
def s3_env() -> dict:
    return lab_env()
