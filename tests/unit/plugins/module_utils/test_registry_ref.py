# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils._registry_ref import (
    registry_host,
    validate_name,
    validate_port,
)


@pytest.mark.parametrize(
    "name, port, expected",
    [
        ("registry.example.com", 443, "registry.example.com"),
        ("registry.example.com", "443", "registry.example.com"),
        ("registry.example.com", None, "registry.example.com"),
        ("registry.example.com", 5043, "registry.example.com:5043"),
        ("registry.example.com", " 5043 ", "registry.example.com:5043"),
        ("registry.example.com", 80, "registry.example.com:80"),
        ("registry.example.com", 1, "registry.example.com:1"),
        ("registry.example.com", 65535, "registry.example.com:65535"),
        ("  registry.example.com  ", 5000, "registry.example.com:5000"),
        ("registry", 5000, "registry:5000"),
        ("localhost", 443, "localhost"),
        ("Registry.Example.COM", 443, "Registry.Example.COM"),  # kept as written: certs.d lookups are literal
        ("xn--bcher-kva.example", 443, "xn--bcher-kva.example"),
        ("a-b.c-d.example", 443, "a-b.c-d.example"),
        ("10.0.0.5", 443, "10.0.0.5"),
        ("10.0.0.5", 5000, "10.0.0.5:5000"),
        ("2001:db8::10", 443, "[2001:db8::10]"),
        ("2001:db8::10", 5000, "[2001:db8::10]:5000"),
        ("[2001:db8::10]", 5000, "[2001:db8::10]:5000"),
        ("::1", 5043, "[::1]:5043"),
    ],
)
def test_registry_host(name, port, expected):
    assert registry_host(name, port) == expected


def test_default_port_is_443():
    assert registry_host("registry.example.com") == "registry.example.com"


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("", "it is empty"),
        ("   ", "it is empty"),
        (None, "a string"),
        (True, "a string"),
        (443, "a string"),
        (["registry.example.com"], "a string"),
        ("https://registry.example.com", "without scheme or path"),
        ("registry.example.com/v2", "without scheme or path"),
        ("registry.example.com:5000", "contains a port; set the name alone (registry.example.com)"),
        ("[2001:db8::10]:5000", "bracketed IPv6 address with a port"),
        ("[registry.example.com]", "not a valid IPv6 address"),
        ("[fe80::1%eth0]", "zone ids are not allowed"),
        ("fe80::1%eth0", "neither a DNS name nor an IP address"),
        ("a:b:c", "neither a DNS name nor an IP address"),
        ("registry_1.example.com", "label 'registry_1'"),
        ("-registry.example.com", "label '-registry'"),
        ("registry-.example.com", "label 'registry-'"),
        ("registry..example.com", "label ''"),
        ("registry.example.com.", "trailing dot"),
        ("a" * 64 + ".example.com", "1-63"),
        (".".join(["abcdefghi"] * 26), "253 characters"),
        ("10.0.0.256", "last label is numeric"),
        ("registry example.com", "not a valid DNS name"),
    ],
)
def test_bad_names_name_the_variable(name, fragment):
    with pytest.raises(ValueError) as exc:
        registry_host(name, 443, name_var="client_trust_registry_name")
    assert "client_trust_registry_name" in str(exc.value)
    assert fragment in str(exc.value)


@pytest.mark.parametrize("port", [0, -1, 65536, "0", "65536", "", "https", "5e3", "²", 5000.0, True, False, [443]])
def test_bad_ports_name_the_variable(port):
    with pytest.raises(ValueError) as exc:
        registry_host("registry.example.com", port, port_var="client_trust_registry_port")
    assert "client_trust_registry_port" in str(exc.value)
    assert "1-65535" in str(exc.value)


def test_default_variable_names_in_messages():
    with pytest.raises(ValueError, match="dockyard_registry_name"):
        registry_host("")
    with pytest.raises(ValueError, match="dockyard_registry_port"):
        registry_host("registry.example.com", 0)


def test_name_is_checked_before_port():
    with pytest.raises(ValueError, match="client_trust_registry_name"):
        registry_host("", 0, name_var="client_trust_registry_name", port_var="client_trust_registry_port")


def test_validate_helpers():
    assert validate_name("[::1]") == "[::1]"
    assert validate_name("::1") == "[::1]"
    assert validate_port("5043") == 5043
    assert validate_port(443) == 443


def test_no_ansible_import():
    """module_utils/_registry_ref.py is pure Python: importable without Ansible loaded into it (it
    uses only the collection's own pure helpers)."""
    import ast
    from pathlib import Path

    import ansible_collections.dockyard.registry.plugins.module_utils._registry_ref as mod

    tree = ast.parse(Path(mod.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            own = node.module == "ansible_collections.dockyard.registry.plugins.module_utils"
            imported.add(node.module if own else node.module.split(".")[0])
    assert imported <= {"__future__", "ipaddress", "re", "ansible_collections.dockyard.registry.plugins.module_utils"}, \
        imported
