"""Unit tests for lab/labctl.py: the run options it computes from a host's cgroup layout."""

from __future__ import annotations

import fcntl
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "lab"))
import labctl  # noqa: E402  pylint: disable=wrong-import-position

V1_MOUNTS = """\
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
proc /proc proc rw 0 0
"""
V1_CGROUPS = """\
#subsys_name	hierarchy	num_cgroups	enabled
cpu	1	1	1
cpuacct	2	1	1
memory	4	40	1
net_cls	0	1	1
hugetlb	0	1	1
rdma	0	1	0
"""
V2_MOUNTS = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0\n"
COMBINED_MOUNTS = "cgroup /sys/fs/cgroup/net_cls,net_prio cgroup rw,net_cls,net_prio 0 0\n"


def test_v1_layout_lists_each_hierarchy_and_placeholders_for_unmounted_controllers():
    layout = labctl.read_cgroup_layout(V1_MOUNTS, V1_CGROUPS)
    assert layout.version == 1
    assert layout.hierarchies == ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/memory",
                                  "/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"]
    # enabled but not mounted -> read-only placeholder; disabled (rdma) -> nothing
    assert layout.placeholders == ["/sys/fs/cgroup/hugetlb", "/sys/fs/cgroup/net_cls"]


def test_combined_hierarchy_counts_as_mounted():
    layout = labctl.read_cgroup_layout(COMBINED_MOUNTS, "net_cls\t3\t1\t1\nnet_prio\t3\t1\t1\n")
    assert layout.hierarchies == ["/sys/fs/cgroup/net_cls,net_prio"]
    assert layout.placeholders == []


def test_v2_layout():
    assert labctl.read_cgroup_layout(V2_MOUNTS, "").version == 2


def _pairs(args, flag):
    return [args[i + 1] for i, a in enumerate(args) if a == flag]


def test_v1_run_args_never_bind_the_cgroup_root_and_never_privileged():
    layout = labctl.read_cgroup_layout(V1_MOUNTS, V1_CGROUPS)
    caps = [c for c in labctl.CAPABILITIES if c != "SYS_RESOURCE"]
    args = labctl.host_run_args("h", "img", layout=layout, caps=caps)
    assert "--privileged" not in args
    volumes = _pairs(args, "--volume")
    assert all(not v.startswith("/sys/fs/cgroup:") for v in volumes)
    assert "/sys/fs/cgroup/memory:/sys/fs/cgroup/memory:rw" in volumes
    tmpfs = _pairs(args, "--tmpfs")
    assert "/sys/fs/cgroup:rw,nosuid,nodev,noexec,mode=755" in tmpfs
    assert "/sys/fs/cgroup/hugetlb:ro" in tmpfs
    assert {"/run:rw,exec,mode=755", "/tmp:rw,exec,mode=1777"} <= set(tmpfs)
    assert _pairs(args, "--cap-add") == ["ALL"]
    assert _pairs(args, "--cap-drop") == ["SYS_RESOURCE"]
    assert _pairs(args, "--stop-signal") == ["SIGRTMIN+3"]
    assert args[-1] == "img"


def test_v2_run_args_use_a_private_cgroup_namespace():
    args = labctl.host_run_args("h", "img", layout=labctl.CgroupLayout(version=2), caps=[])
    assert _pairs(args, "--cgroupns") == ["private"]
    assert all("/sys/fs/cgroup" not in v for v in _pairs(args, "--volume"))


@pytest.mark.parametrize("mask,expected_missing", [
    ("000001ffffffffff", []),
    ("000001fffeffffff", ["SYS_RESOURCE"]),
])
def test_bounding_capabilities(mask, expected_missing):
    caps = labctl.bounding_capabilities(f"Name:\tdockerd\nCapBnd:\t{mask}\n")
    assert [c for c in labctl.CAPABILITIES if c not in caps] == expected_missing


def test_tree_hash_changes_with_content(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM a\n")
    first = labctl.tree_hash(tmp_path, "x")
    assert first == labctl.tree_hash(tmp_path, "x")
    assert first != labctl.tree_hash(tmp_path, "y")
    (tmp_path / "Dockerfile").write_text("FROM b\n")
    assert first != labctl.tree_hash(tmp_path, "x")


def test_platform_kind_from_label_or_image():
    assert labctl.platform_kind({"image": "dockyard-lab/dind:latest"}) == "dind"
    assert labctl.platform_kind({"image": "dockyard-lab/systemd:latest"}) == "systemd"
    assert labctl.platform_kind({"image": "x", "labels": {"org.dockyard.lab.kind": "s3"}}) == "s3"


def test_s3client_signature_matches_aws_reference_vector():
    """AWS's published SigV4 example (GET object, 'Examplebucket', 20130524)."""
    sys.path.insert(0, str(Path(labctl.__file__).parent))
    import datetime

    import s3client

    headers = s3client.sign_v4(
        "GET", "https://examplebucket.s3.amazonaws.com/test.txt",
        access_key="AKIAIOSFODNN7EXAMPLE", secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region="us-east-1", headers={"Range": "bytes=0-9"},
        now=datetime.datetime(2013, 5, 24, tzinfo=datetime.timezone.utc))
    assert headers["authorization"].endswith(
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")


class FakeDocker:
    """Records docker calls; the lab network is empty and no container exists yet."""

    def __init__(self, lock_name):
        self.calls = []
        self.lock_name = lock_name
        self.locked_during = {}

    def __call__(self, *args, check=True):
        self.calls.append(args)
        with open(labctl.network_lock_path(self.lock_name), "a") as probe:
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
    monkeypatch.setattr(labctl, "docker", fake)
    layout = labctl.read_cgroup_layout(V2_MOUNTS, "")
    monkeypatch.setattr(labctl, "read_cgroup_layout", lambda: layout)
    labctl.create_host({"name": "h1", "image": "dockyard-lab/systemd:latest"}, network="unit-net-a")
    assert ("network", "create", "--label", f"{labctl.LABEL}=1", "unit-net-a") in fake.calls
    assert fake.locked_during[("network", "create")] and fake.locked_during[("run", "-d")]


def test_remove_network_waits_for_a_create_in_progress(monkeypatch):
    fake = FakeDocker("unit-net-b")
    monkeypatch.setattr(labctl, "docker", fake)
    with labctl.network_lock("unit-net-b"):
        remover = threading.Thread(target=labctl.remove_network, args=("unit-net-b",))
        remover.start()
        remover.join(0.3)
        assert remover.is_alive() and fake.calls == []  # blocked while another create holds the lock
    remover.join(5)
    assert not remover.is_alive()
    assert ("network", "rm", "unit-net-b") in fake.calls


def test_remove_lab_images_repeats_until_base_images_are_gone(monkeypatch):
    # "base" cannot be removed while "child" (built FROM base) exists, as with systemd -> dind.
    images = {"base", "child", "other"}
    removals = []

    def fake(*args, check=True):
        if args[0] == "images":
            return subprocess.CompletedProcess(args, 0, stdout="\n".join(sorted(images)) + "\n", stderr="")
        removals.append(args[3:])
        for image in args[3:]:
            if image != "base" or "child" not in images:
                images.discard(image)
        return subprocess.CompletedProcess(args, 1 if "base" in images else 0, stdout="", stderr="")

    monkeypatch.setattr(labctl, "docker", fake)
    labctl.remove_lab_images()
    assert images == set()
    assert removals == [("base", "child", "other"), ("base",)]
