"""The one harness for running a module's ``main()`` in-process, as Ansible would.

    from ansible_collections.dockyard.registry.tests.unit.plugins.modules.utils import run_module

    out = run_module(x509_ca, check_mode=True, diff=True, privatekey_path=...)
    out.result   # what the module passed to exit_json/fail_json (before Ansible masks no_log values)
    out.output   # the JSON Ansible printed: masked, with ``invocation``, ``failed`` on failure
    out.failed

Both views matter: a secret must never reach ``result`` (the module's own doing), and masking in
``output`` must never corrupt a value the module returns (a certificate containing the
passphrase's text would come back with ``********`` in it).
"""

from __future__ import annotations

import contextlib
import io
import json
from unittest import mock

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class ModuleExit:
    """What a module returned: ``result`` (its exit_json/fail_json keyword arguments), ``failed``
    and ``output`` (the JSON result Ansible printed)."""

    def __init__(self, result, failed, output):
        self.result = result
        self.failed = failed
        self.output = output


def run_module(module, check_mode=None, diff=None, **params):
    """Run ``module.main()`` with ``params`` (plus ``_ansible_check_mode``/``_ansible_diff`` when
    given) through the real exit_json/fail_json, and return a ``ModuleExit``."""
    if check_mode is not None:
        params["_ansible_check_mode"] = check_mode
    if diff is not None:
        params["_ansible_diff"] = diff
    returned = {}
    exit_json, fail_json = basic.AnsibleModule.exit_json, basic.AnsibleModule.fail_json

    def spy_exit(self, **kwargs):
        returned.update(result=dict(kwargs), failed=False)
        exit_json(self, **kwargs)

    def spy_fail(self, msg=None, **kwargs):
        returned.update(result=dict(kwargs, msg=msg), failed=True)
        fail_json(self, msg, **kwargs)

    printed = io.StringIO()
    with mock.patch.object(basic.AnsibleModule, "exit_json", spy_exit), \
            mock.patch.object(basic.AnsibleModule, "fail_json", spy_fail), \
            patch_module_args(params), contextlib.redirect_stdout(printed):
        try:
            module.main()
        except SystemExit:
            pass
    if not returned:
        raise AssertionError("%s.main() returned without calling exit_json or fail_json" % module.__name__)
    return ModuleExit(returned["result"], returned["failed"], json.loads(printed.getvalue()))
