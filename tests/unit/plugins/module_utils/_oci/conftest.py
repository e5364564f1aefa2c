# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the ``_oci`` tests: a throwaway PKI, the fake registry and the fake storage host."""

from __future__ import annotations

import pytest

from ansible_collections.dockyard.registry.tests.unit.plugins.module_utils._oci.fakes import (
    REGISTRY_NAME,
    FakeRegistry,
    FakeStorage,
    make_pki,
    serve,
)


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def fake(pki):
    app = FakeRegistry(tls=True)
    server = serve(app, pki[1])
    app.port = server.server_address[1]
    app.url = "https://%s:%d" % (REGISTRY_NAME, app.port)
    yield app
    server.shutdown()
    server.server_close()


@pytest.fixture
def storage(pki, fake):
    app = FakeStorage(fake.blobs)
    server = serve(app, pki[1])
    app.url = "https://127.0.0.1:%d" % server.server_address[1]
    yield app
    server.shutdown()
    server.server_close()
