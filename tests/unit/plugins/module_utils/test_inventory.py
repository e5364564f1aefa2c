"""module_utils/_inventory.py: the shared facts' defaults, present users, hosts before a port."""

from __future__ import annotations

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _inventory


def getter(**values):
    def get(name):
        return values[name]
    return get


@pytest.mark.parametrize("name, default", [
    ("dockyard_proxy_group", "registry_proxy"),
    ("dockyard_backends_group", "registry_backends"),
    ("dockyard_clients_group", "registry_clients"),
])
def test_group_names_default_and_follow_the_inventory(name, default):
    assert _inventory.shared_fact(name, getter()) == default
    assert _inventory.shared_fact(name, getter(**{name: "edge"})) == "edge"
    assert _inventory.shared_fact(name, getter(**{name: None})) == default


def test_the_ca_certificate_path_chain():
    fact = _inventory.shared_fact
    assert fact("dockyard_ca_certificate_file", getter(inventory_dir="/srv/inv", playbook_dir="/pb")) == \
        "/srv/inv/.dockyard-ca/trust-bundle.crt"
    # no inventory directory (e.g. -i host1,): next to the playbook
    assert fact("dockyard_ca_certificate_file", getter(inventory_dir=None, playbook_dir="/pb")) == "/pb/.dockyard-ca/trust-bundle.crt"
    assert fact("dockyard_ca_certificate_file", getter(dockyard_ca_dir="/ca", inventory_dir="/srv/inv")) == "/ca/trust-bundle.crt"
    assert fact("dockyard_ca_certificate_file", getter(dockyard_ca_certificate_file="/pub/ca.pem",
                                                       dockyard_ca_dir="/ca")) == "/pub/ca.pem"
    assert fact("dockyard_ca_dir", getter(inventory_dir="/srv/inv")) == "/srv/inv/.dockyard-ca"


def test_the_registry_address_is_the_vip_unless_set():
    fact = _inventory.shared_fact
    assert fact("dockyard_registry_address", getter()) == ""
    assert fact("dockyard_registry_address", getter(dockyard_registry_vip="10.0.0.9")) == "10.0.0.9"
    assert fact("dockyard_registry_address", getter(dockyard_registry_vip="10.0.0.9",
                                                    dockyard_registry_address="192.0.2.1")) == "192.0.2.1"
    assert fact("dockyard_registry_address", getter(dockyard_registry_vip=None, dockyard_registry_address=None)) == ""


def test_an_unknown_fact_is_refused():
    with pytest.raises(ValueError, match="dockyard_registry_nmae.*known: dockyard_backends_group"):
        _inventory.shared_fact("dockyard_registry_nmae", getter())


def test_present_users():
    users = [{"name": "a", "password": "x"}, {"name": "b", "state": "absent"}, {"name": "c", "state": "present"}]
    assert [u["name"] for u in _inventory.present_users(users)] == ["a", "c"]
    assert _inventory.present_users(None) == [] and _inventory.present_users([]) == []


@pytest.mark.parametrize("bad", ["ci", {"name": "ci"}, ["ci"], 3])
def test_present_users_refuses_what_is_not_a_list_of_users(bad):
    with pytest.raises(ValueError, match="nginx_users must be a list of"):
        _inventory.present_users(bad, "nginx_users")


@pytest.mark.parametrize("host, expected", [
    ("2001:db8::1", "[2001:db8::1]"),
    (" ::1 ", "[::1]"),
    ("::", "[::]"),
    ("[2001:db8::1]", "[2001:db8::1]"),
    ("fe80::1%eth0", "[fe80::1%eth0]"),
    ("10.0.0.5", "10.0.0.5"),
    ("registry.example.com", "registry.example.com"),
    ("*", "*"),
    ("", ""),
    (None, ""),
])
def test_url_host_brackets_ipv6_literals_only(host, expected):
    assert _inventory.url_host(host) == expected


def test_host_port():
    assert _inventory.host_port("2001:db8::1", 5000) == "[2001:db8::1]:5000"
    assert _inventory.host_port("", 5000) == ":5000"
    assert _inventory.host_port("10.0.0.5", "443") == "10.0.0.5:443"
