"""Shared helpers for the default scenario's testinfra verifiers."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest
import testinfra

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
LAB = PROJECT / "lab"
INVENTORY = os.environ.get("MOLECULE_INVENTORY_FILE")


def lab_env() -> dict:
    env = {}
    for line in (LAB / "images" / "s3" / "lab.env").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            env[key.strip()] = value.strip()
    return env


def lab_host(name: str):
    """A testinfra host for a lab container, whatever host the current test runs on."""
    return testinfra.get_host(f"docker://{name}")


def run_python(host, source: str, *args: str):
    """Run a Python script on a lab host through stdin (nothing is left on the host)."""
    cmd = "python3 - " + " ".join(shlex.quote(a) for a in args) + " <<'PYEOF'\n" + source + "\nPYEOF"
    return host.run(cmd)


@pytest.fixture(scope="session")
def s3_env() -> dict:
    return lab_env()
