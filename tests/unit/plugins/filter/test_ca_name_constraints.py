"""The ca_name_constraints filter: what a registry CA may sign for, read from inventory hostvars."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.registry.plugins.filter.ca_name_constraints import ca_name_constraints

HOSTVARS = {
    "proxy1": {"ansible_host": "10.1.0.10", "ansible_facts": {"fqdn": "proxy1.lan"},
               "ansible_default_ipv4": {"address": "10.1.0.10", "netmask": "255.255.255.0"}},
    "backend1": {"ansible_host": "backend1.lan", "ansible_default_ipv4": {"address": "10.2.0.11", "prefix": "24"},
                 "dockyard_backend_address": "10.2.0.11"},
    "backend_2": {"ansible_host": "10.3.0.12"},  # no facts; not a DNS name
}


def test_names_networks_and_backend_addresses():
    got = ca_name_constraints(["proxy1", "backend1", "backend_2"], HOSTVARS,
                              names=["registry.example.com", "IP:192.0.2.10", "backends.registry.example.com"],
                              backends=["backend1", "backend_2"])
    assert got == ["DNS:backend1", "DNS:backend1.lan", "DNS:proxy1", "DNS:proxy1.lan", "DNS:registry.example.com",
                   "IP:10.1.0.0/24", "IP:10.2.0.0/24", "IP:10.3.0.12/32", "IP:192.0.2.10/32"]


def test_extra_entries_are_added_and_simplified():
    got = ca_name_constraints(["proxy1"], HOSTVARS, names=["registry.example.com"],
                              extra=["DNS:.mirror.example.com", "IP:10.1.0.0/16", "registry.example.com"])
    assert got == ["DNS:.mirror.example.com", "DNS:proxy1", "DNS:proxy1.lan", "DNS:registry.example.com",
                   "IP:10.1.0.0/16"]


def test_a_wildcard_extra_name_permits_its_domain():
    got = ca_name_constraints([], {}, names=["*.registry.example.com"])
    assert got == ["DNS:registry.example.com"]


@pytest.mark.parametrize("kwargs", [{"names": ["bad_name"]}, {"extra": ["IP:300.0.0.0/8"]}])
def test_strict_entries_are_refused(kwargs):
    with pytest.raises(AnsibleFilterError, match="ca_name_constraints"):
        ca_name_constraints(["proxy1"], HOSTVARS, **kwargs)


def test_an_unknown_host_is_refused():
    with pytest.raises(AnsibleFilterError, match="not in the inventory"):
        ca_name_constraints(["ghost"], HOSTVARS)
