"""Lab containers as the molecule verifiers reach them, written once for every scenario.

``lab_host(name)``: a testinfra host for a lab container (``docker://<name>``), whatever host the
current test runs on. ``sh(host, cmd)``: a shell command on it, bounded by ``timeout``, that fails
the test with the command's output when it fails. The scenarios' conftests import these (through
``.cache/collections``, as ``ansible_collections.dockyard.registry.tests.lab_hosts``) and re-export
them to their tests.
"""

from __future__ import annotations

import shlex

import testinfra


def lab_host(name: str):
    """A testinfra host for a lab container."""
    return testinfra.get_host(f"docker://{name}")


def sh(host, cmd: str, timeout: int = 600) -> str:
    """Run a shell command on a lab host; fail with its output when it fails (or outlives ``timeout`` s)."""
    res = host.run(f"timeout {timeout} bash -c {shlex.quote(cmd)}")
    assert res.rc == 0, f"{cmd!r} failed ({res.rc}):\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}"
    return res.stdout
