"""Make ``ansible_collections.dockyard.registry`` importable for plain pytest runs.

The collection lives at the repository root. Ansible (and these tests) import it as
``ansible_collections.dockyard.registry``; ``./dev bootstrap`` links the checkout under
``.cache/collections`` for ansible.cfg, and this file makes sure the same link exists and is on
``sys.path`` so ``pytest tests/unit`` works straight from a clone. When the tests run from a copy
that already sits under ``ansible_collections/dockyard/registry`` (ansible-test), that tree is used.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# tests/harness.py knows where the collection is linked (bench/ runs this file with runpy, so
# tests/ may not be on sys.path yet).
_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
from harness import collections_root  # noqa: E402  pylint: disable=wrong-import-position

_ROOT = str(collections_root())
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With DOCKYARD_REQUIRE_LAB set (``make labtest``, after the lab images are built), a skipped
    ``lab`` test is a failure: a missing engine or image must not pass CI as a skip."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("DOCKYARD_REQUIRE_LAB") and item.get_closest_marker("lab"):
        report.outcome = "failed"
        report.longrepr = "lab test skipped although DOCKYARD_REQUIRE_LAB is set: %s" % (report.longrepr,)

