"""Lab containers as the molecule verifiers reach them, written once for every scenario.

``lab_host(name)``: a testinfra host for a lab container (``docker://<name>``), whatever host the
current test runs on. ``sh(host, cmd)``: a shell command on it, bounded by ``timeout``, that fails
the test with the command's output when it fails. ``wait_for_registry(base, failure)``: until a
registry container a test started answers ``GET /v2/``. The scenarios' conftests import these
(through ``.cache/collections``, as ``ansible_collections.dockyard.registry.tests.lab_hosts``) and
re-export them to their tests; tests/lab and the ``lab`` unit tests import them the same way.
"""

from __future__ import annotations

import shlex
import time

import pytest
import requests
import testinfra


def lab_host(name: str):
    """A testinfra host for a lab container."""
    return testinfra.get_host(f"docker://{name}")


def sh(host, cmd: str, timeout: int = 600) -> str:
    """Run a shell command on a lab host; fail with its output when it fails (or outlives ``timeout`` s)."""
    res = host.run(f"timeout {timeout} bash -c {shlex.quote(cmd)}")
    assert res.rc == 0, f"{cmd!r} failed ({res.rc}):\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}"
    return res.stdout


def wait_for_registry(base: str, failure, timeout: float = 60, step: float = 0.5) -> None:
    """Return once ``GET <base>/v2/`` answers 200 (each try bounded by 5 s; refused connections and
    other request errors just mean "not yet"); after ``timeout`` s fail the test with ``failure()``,
    a message that can show the container's logs (fetched only then)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{base}/v2/", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            pytest.fail(failure())
        time.sleep(step)
