# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of ``_oci.client``: TLS trust, URL helpers, and credentials sent only to the registry.

The fake registry (``fakes.FakeRegistry`` over TLS, fixtures in ``conftest.py``) answers the client.
"""

from __future__ import annotations

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils._oci import client as oci_client
from ansible_collections.dockyard.registry.tests.unit.plugins.module_utils._oci.fakes import PASSWORD, USER


def test_bad_ca_file(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(ValueError, match="not a readable PEM"):
        oci_client.make_ssl_context(str(bad))


def test_add_query_and_display_url():
    assert oci_client.add_query("http://h/v2/u/1?_state=a%3D", digest="sha256:ab") == \
        "http://h/v2/u/1?_state=a%3D&digest=sha256%3Aab"
    assert oci_client.add_query("/v2/u/1", digest="sha256:ab") == "/v2/u/1?digest=sha256%3Aab"
    origin = ("https", "r.example", 5043)
    assert oci_client.display_url("https://r.example:5043/v2/x?_state=secret", origin) == "/v2/x"
    assert oci_client.display_url("https://user:pw@s3.example/b/k?X-Amz-Signature=s", origin) == "https://s3.example/b/k"


def test_client_does_not_send_credentials_elsewhere(fake, pki):
    seen = []

    class Observer:
        def before(self, method, url):
            seen.append(url)

        def after(self, response):
            pass

    client = oci_client.RegistryClient(fake.url, USER, PASSWORD, ca_path=pki[0], resolve="127.0.0.1", observer=Observer())
    with client:
        assert client.request("GET", "/v2/").status == 200
        assert client.connect_target(fake.url + "/v2/") == ("127.0.0.1", fake.port)
        assert client.connect_target("https://s3.example/b") == ("s3.example", 443)
        assert client._authorization(False) is None
        assert client._authorization(True).startswith("Basic ")
    assert seen == [fake.url + "/v2/"]
    assert client._connections == {}
