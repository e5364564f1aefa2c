"""Harness for running a module's main() in-process: exit_json/fail_json raise ModuleExit.

    from ansible_collections.dockyard.registry.tests.unit.plugins.modules.utils import ModuleExit, exits  # noqa: F401

Importing the autouse ``exits`` fixture into a test module activates it there.
"""

from __future__ import annotations

import pytest

from ansible.module_utils import basic


class ModuleExit(Exception):
    """What a module returned: ``result`` (the exit_json/fail_json keyword arguments) and ``failed``."""

    def __init__(self, result, failed):
        super().__init__(result)
        self.result = result
        self.failed = failed


@pytest.fixture(autouse=True)
def exits(monkeypatch):
    def exit_json(self, **kwargs):
        raise ModuleExit(kwargs, False)

    def fail_json(self, msg=None, **kwargs):
        kwargs["msg"] = msg
        raise ModuleExit(kwargs, True)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
