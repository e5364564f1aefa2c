"""Unit tests for lab/dockyard_lab/hosts.py: platform kinds and the lab network lock."""

from __future__ import annotations

import fcntl
import subprocess
import threading

import pytest

from dockyard_lab import cgroups, common, hosts

V2_MOUNTS = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0\n"


def test_platform_kind_from_label_or_image():
    assert hosts.platform_kind({"image": "dockyard-lab/dind:latest"}) == "dind"
    assert hosts.platform_kind({"image": "dockyard-lab/systemd:latest"}) == "systemd"
    assert hosts.platform_kind({"image": "dockyard-lab/dind-trixie:latest"}) == "dind"
    assert hosts.platform_kind({"image": "dockyard-lab/systemd-trixie:latest"}) == "systemd"
    assert hosts.platform_kind({"image": "x", "labels": {"org.dockyard.lab.kind": "s3"}}) == "s3"


class FakeDocker:
    """Records docker calls; the lab network is empty and no container exists yet."""

    def __init__(self, lock_name):
        self.calls = []
        self.lock_name = lock_name
        self.locked_during = {}

    def __call__(self, *args, check=True):
        self.calls.append(args)
        with open(hosts.network_lock_path(self.lock_name), "a") as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(probe, fcntl.LOCK_UN)
                self.locked_during[args[:2]] = False
            except BlockingIOError:
                self.locked_during[args[:2]] = True
        missing = args[0] == "inspect" or args[:2] == ("network", "inspect") and "--format" not in args
        out = "0\n" if args[:2] == ("network", "inspect") else ""
        return subprocess.CompletedProcess(args, 1 if missing else 0, stdout=out, stderr="")


def test_create_host_creates_the_network_and_runs_the_host_under_the_network_lock(monkeypatch):
    fake = FakeDocker("unit-net-a")
    monkeypatch.setattr(hosts, "docker", fake)
    layout = cgroups.read_cgroup_layout(V2_MOUNTS, "")
    monkeypatch.setattr(cgroups, "read_cgroup_layout", lambda: layout)
    hosts.create_host({"name": "h1", "image": "dockyard-lab/systemd:latest"}, network="unit-net-a")
    assert ("network", "create", "--label", f"{common.LABEL}=1", "unit-net-a") in fake.calls
    assert fake.locked_during[("network", "create")] and fake.locked_during[("run", "-d")]


def test_remove_network_waits_for_a_create_in_progress(monkeypatch):
    fake = FakeDocker("unit-net-b")
    monkeypatch.setattr(hosts, "docker", fake)
    with hosts.network_lock("unit-net-b"):
        remover = threading.Thread(target=hosts.remove_network, args=("unit-net-b",))
        remover.start()
        remover.join(0.3)
        assert remover.is_alive() and fake.calls == []  # blocked while another create holds the lock
    remover.join(5)
    assert not remover.is_alive()
    assert ("network", "rm", "unit-net-b") in fake.calls


def test_high_free_address_is_at_the_top_of_the_subnet_and_skips_taken_ones():
    assert hosts.high_free_address("172.18.0.0/16") == "172.18.255.254"
    assert hosts.high_free_address("172.18.0.0/16", index=1) == "172.18.255.253"
    assert hosts.high_free_address("172.18.0.0/16", taken=["172.18.255.254/16", ""]) == "172.18.255.253"
    assert hosts.high_free_address("10.1.2.0/24", taken=["10.1.2.254"], index=1) == "10.1.2.252"


def test_high_free_address_refuses_what_cannot_hold_a_vip():
    with pytest.raises(ValueError, match="IPv4"):
        hosts.high_free_address("fd00::/64")
    with pytest.raises(ValueError, match="room"):
        hosts.high_free_address("10.0.0.0/30")
    with pytest.raises(ValueError, match="no free address"):
        hosts.high_free_address("10.0.0.0/29", taken=[f"10.0.0.{i}" for i in range(1, 7)])
