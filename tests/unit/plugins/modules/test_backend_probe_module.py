# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""backend_probe's setup: certificate files that do not exist yet are a failure in a real run and
a plain "not healthy" in check mode (a fresh proxy, where the ca role only pretended to write them)."""

from __future__ import annotations

from ansible_collections.dockyard.registry.plugins.modules import backend_probe
from ansible_collections.dockyard.registry.tests.unit.plugins.modules.utils import run_module


def _probe(tmp_path, check_mode):
    return run_module(backend_probe, check_mode=check_mode or None, address="192.0.2.11", port=5000,
                      tls=True, server_name="backends.registry.test", ca_path=str(tmp_path / "ca.crt"),
                      client_cert=str(tmp_path / "proxy-client.crt"),
                      client_key=str(tmp_path / "proxy-client.key"), timeout=1)


def test_missing_certificates_fail_a_real_run(tmp_path):
    out = _probe(tmp_path, check_mode=False)
    assert out.failed
    assert "cannot set up the probe of 192.0.2.11:5000" in out.result["msg"]


def test_missing_certificates_are_not_healthy_in_check_mode(tmp_path):
    out = _probe(tmp_path, check_mode=True)
    assert not out.failed
    assert out.result["ok"] is False
    assert out.result["changed"] is False
    assert "check mode" in out.result["msg"]
