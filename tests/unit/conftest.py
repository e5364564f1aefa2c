"""Unit-test fixtures shared by every test under tests/unit."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _module_side_of_ansible(monkeypatch):
    """Run module code as it runs on a target.

    Once any controller code is imported (a filter plugin test imports ``ansible.errors``),
    ansible-core flags the process as the controller and AnsibleModule.warn() sends warnings to the
    controller's Display instead of the module result. Tests of modules must see them in the
    result, as on a real target, so clear that flag and the process-global warning stores.
    """
    try:
        from ansible.module_utils import _internal  # pylint: disable=import-outside-toplevel
        from ansible.module_utils.common import warnings as ansible_warnings  # pylint: disable=import-outside-toplevel
    except ImportError:  # pure module_utils tests do not need Ansible
        yield
        return
    monkeypatch.setattr(_internal, "is_controller", False, raising=False)
    for name in ("_global_warnings", "_global_deprecations"):
        store = getattr(ansible_warnings, name, None)
        if hasattr(store, "clear"):
            store.clear()
    yield
