"""Lab tests need a Docker engine and the lab images; they are skipped without them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "lab"
sys.path.insert(0, str(LAB))
sys.path.insert(0, str(REPO / "bench"))

# The bench labs' registry name and user (bench/lab/inventory/group_vars/all.yml; lab-only values).
BENCH_NAME = "registry.bench.dockyard.test"
BENCH_USER = "bench"
BENCH_PASSWORD = "lab-bench-password-0123"


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


def deployed_bench_lab(prefix: str):
    """A module fixture's body: the bench lab <prefix>-* (bench/_lab.py) up and deployed with
    bench/lab/deploy.yml, removed afterwards unless DOCKYARD_KEEP_LAB is set. Use with
    ``yield from deployed_bench_lab("btls")``."""
    import _lab  # pylint: disable=import-outside-toplevel

    bench_lab = _lab.BenchLab(prefix)
    try:
        bench_lab.up()
        bench_lab.deploy()
        yield bench_lab
    finally:
        if not os.environ.get("DOCKYARD_KEEP_LAB"):
            bench_lab.down()


class LoadLoop:
    """tests/lab/load_loop.py through a bench lab's proxy for the duration of a ``with`` block.

    On entry: push a seed image to ``<repo>/pull`` (two layers), start ``loop`` (pulls the seed and
    re-hashes every blob, pushes a small image to ``<repo>/loop`` every round) and wait until it got
    answers. On exit: let it run a few more rounds, stop it (bounded: --max-seconds, then killed)
    and read its JSON summary into ``self.summary``. The trusted CA is the lab's published trust
    bundle, read again by the loop whenever it changes."""

    def __init__(self, lab, tmp_path: Path, repo: str, settle: float = 3.0):
        self.lab, self.tmp, self.repo, self.settle = lab, tmp_path, repo, settle
        self.ca = lab.state / "dockyard-ca" / "trust-bundle.crt"
        self.base = [sys.executable, str(Path(__file__).with_name("load_loop.py")), "--name", BENCH_NAME,
                     "--resolve", lab.address(lab.proxy), "--ca", str(self.ca), "--user", BENCH_USER]
        self.env = dict(os.environ, OPS_LAB_PASSWORD=BENCH_PASSWORD)
        self.proc = None
        self.summary = None

    def __enter__(self):
        seed = subprocess.run(self.base + ["push", "--repo", f"{self.repo}/pull", "--tag", "t",
                                           "--layer", f"{self.repo}-a:4096", "--layer", f"{self.repo}-b:65536"],
                              env=self.env, capture_output=True, text=True, check=True)
        (self.tmp / "pull.json").write_text(seed.stdout)
        self.proc = subprocess.Popen(
            self.base + ["loop", "--pull", str(self.tmp / "pull.json"), "--push-repo", f"{self.repo}/loop",
                         "--stop-file", str(self.tmp / "stop"), "--started-file", str(self.tmp / "started"),
                         "--out", str(self.tmp / "loop.json"), "--max-seconds", "2400"],
            env=self.env, stdout=subprocess.DEVNULL)
        for _ in range(60):
            if (self.tmp / "started").exists():
                return self
            time.sleep(1)
        self.proc.kill()
        raise AssertionError("the load loop got no answer through the proxy")

    def __exit__(self, *exc_info):
        try:
            if exc_info[0] is None:
                time.sleep(self.settle)
            (self.tmp / "stop").write_text("stop\n")
            self.proc.wait(timeout=300)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        if (self.tmp / "loop.json").exists():
            self.summary = json.loads((self.tmp / "loop.json").read_text())
        return False
