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

REPO = Path(__file__).resolve().parent.parent


def _collections_root() -> Path:
    parts = REPO.parts
    if len(parts) >= 3 and parts[-3] == "ansible_collections" and parts[-2:] == ("dockyard", "registry"):
        return REPO.parent.parent.parent
    root = REPO / ".cache" / "collections"
    link = root / "ansible_collections" / "dockyard" / "registry"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.symlink(os.path.relpath(REPO, link.parent), link)
        except FileExistsError:
            pass
    return root


_ROOT = str(_collections_root())
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
