"""Unit tests for lab/ansible_plugins/lookup/lab_address.py, the lab inventories' address lookup."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from ansible.errors import AnsibleError
from ansible.plugins.loader import lookup_loader

from dockyard_lab import hosts

PLUGIN = Path(__file__).resolve().parents[3] / "lab" / "ansible_plugins" / "lookup" / "lab_address.py"


def _lookup():
    """The plugin as Ansible loads it (ANSIBLE_LOOKUP_PLUGINS), with its documented options."""
    lookup_loader.add_directory(str(PLUGIN.parent))
    plugin = lookup_loader.get("lab_address")
    assert plugin is not None and Path(plugin._original_path) == PLUGIN  # pylint: disable=protected-access
    return plugin


class FakeDocker:
    """`docker inspect` knows two containers on net-x; `docker network inspect` describes net-x."""

    addresses = {"proxy": "172.30.0.2", "backend1": "172.30.0.3"}

    def __init__(self):
        self.calls = []

    def __call__(self, *args, check=True):
        self.calls.append(args)
        if args[:2] == ("network", "inspect"):
            info = {"IPAM": {"Config": [{"Subnet": "172.30.0.0/16", "Gateway": "172.30.0.1"}]},
                    "Containers": {"a": {"IPv4Address": "172.30.255.254/16"}}}
            return subprocess.CompletedProcess(args, 0, stdout=json.dumps(info), stderr="")
        name = args[-1]
        assert args[0] == "inspect" and '"net-x"' in args[2]
        if name not in self.addresses:
            raise SystemExit(f"[lab] command failed (1): docker inspect {name}\nError: No such object: {name}")
        return subprocess.CompletedProcess(args, 0, stdout=self.addresses[name] + "\n", stderr="")


@pytest.fixture(name="docker")
def _docker(monkeypatch):
    fake = FakeDocker()
    monkeypatch.setattr(hosts, "docker", fake)
    return fake


def test_returns_what_labctl_address_prints_for_each_host(docker):
    lookup = _lookup()
    assert lookup.run(["proxy"], variables={}, network="net-x") == ["172.30.0.2"]
    assert lookup.run(["backend1", "proxy"], variables={}, network="net-x") == ["172.30.0.3", "172.30.0.2"]
    assert lookup.run(["proxy"], variables={}, network="net-x") == [hosts.container_address("proxy", "net-x")]


def test_looks_up_every_time_without_a_cache(docker):
    lookup = _lookup()
    lookup.run(["proxy"], variables={}, network="net-x")
    docker.addresses = {"proxy": "172.30.0.9"}  # the host came back on another address
    assert lookup.run(["proxy"], variables={}, network="net-x") == ["172.30.0.9"]


def test_an_unknown_host_fails_with_the_labs_message(docker):
    with pytest.raises(AnsibleError, match="No such object: nope"):
        _lookup().run(["nope"], variables={}, network="net-x")


def test_vip_is_the_free_address_at_the_top_as_labctl_vip(docker):
    lookup = _lookup()
    assert lookup.run([], variables={}, network="net-x", vip=0) == ["172.30.255.253"]
    assert lookup.run([], variables={}, network="net-x", vip=0) == [hosts.virtual_ip(0, "net-x")]
