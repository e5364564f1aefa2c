"""Lab tests need a Docker engine and the lab images; they are skipped without them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

LAB = Path(__file__).resolve().parents[2] / "lab"
sys.path.insert(0, str(LAB))


def docker_ready() -> bool:
    return bool(shutil.which("docker")) and subprocess.run(
        ["docker", "info"], capture_output=True, check=False).returncode == 0


def image_present(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True, check=False).returncode == 0


@pytest.fixture(scope="session")
def labctl():
    if not docker_ready():
        pytest.skip("no Docker engine")
    import labctl as module  # pylint: disable=import-outside-toplevel
    return module
