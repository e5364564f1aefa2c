# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.registry.plugins.filter import registry_host as plugin
from ansible_collections.dockyard.registry.plugins.filter.registry_host import FilterModule

F = FilterModule().filters()
ROLE = Path(__file__).resolve().parents[4] / "roles" / "client_trust"


def test_registered_names():
    assert sorted(F) == ["registry_host"]


@pytest.mark.parametrize(
    "args, expected",
    [
        (("registry.example.com",), "registry.example.com"),
        (("registry.example.com", 443), "registry.example.com"),
        (("registry.example.com", "443"), "registry.example.com"),
        (("registry.example.com", 5043), "registry.example.com:5043"),
        (("registry.example.com", "5043"), "registry.example.com:5043"),
        (("10.0.0.5", 5000), "10.0.0.5:5000"),
        (("2001:db8::10", 443), "[2001:db8::10]"),
        (("2001:db8::10", 5000), "[2001:db8::10]:5000"),
    ],
)
def test_registry_host(args, expected):
    assert F["registry_host"](*args) == expected


@pytest.mark.parametrize(
    "name, port, fragment",
    [
        ("registry.example.com:5000", 443, "client_trust_registry_name"),
        ("https://registry.example.com", 443, "client_trust_registry_name"),
        ("", 443, "client_trust_registry_name"),
        ("registry.example.com", 0, "client_trust_registry_port"),
        ("registry.example.com", 70000, "client_trust_registry_port"),
        ("registry.example.com", "https", "client_trust_registry_port"),
    ],
)
def test_errors_are_filter_errors_naming_the_variable(name, port, fragment):
    with pytest.raises(AnsibleFilterError, match=fragment):
        F["registry_host"](name, port, name_var="client_trust_registry_name", port_var="client_trust_registry_port")


def test_default_variable_names():
    with pytest.raises(AnsibleFilterError, match="dockyard_registry_port"):
        F["registry_host"]("registry.example.com", 0)


def test_documentation_parses():
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert doc["name"] == "registry_host"
    assert set(doc["options"]) == {"_input", "port", "name_var", "port_var"}
    assert doc["options"]["port"]["default"] == 443
    yaml.safe_load(plugin.EXAMPLES)
    assert yaml.safe_load(plugin.RETURN)["_value"]["type"] == "str"


# The role's containerd hosts.toml template, rendered with the real filter: valid TOML whose server,
# host table and CA path all use the same host[:port] as the certs.d directory.
@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python 3.11+")
@pytest.mark.parametrize("name, port, host", [
    ("registry.example.com", 443, "registry.example.com"),
    ("registry.example.com", 5043, "registry.example.com:5043"),
    ("2001:db8::10", 5000, "[2001:db8::10]:5000"),
])
def test_role_hosts_toml_template(name, port, host):
    jinja2 = pytest.importorskip("jinja2")
    import tomllib

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["comment"] = lambda text: "#\n# " + text + "\n#"
    env.filters["to_json"] = json.dumps
    template = env.from_string((ROLE / "templates" / "hosts.toml.j2").read_text())
    registry_host = F["registry_host"](name, port)
    rendered = template.render(
        ansible_managed="Ansible managed",
        __client_trust_host=registry_host,
        client_trust_containerd_capabilities=["pull", "resolve"],
        client_trust_containerd_certs_dir="/etc/containerd/certs.d",
    )
    data = tomllib.loads(rendered)
    assert data == {
        "server": "https://" + host,
        "host": {
            "https://" + host: {"capabilities": ["pull", "resolve"], "ca": "/etc/containerd/certs.d/%s/ca.crt" % host},
        },
    }
