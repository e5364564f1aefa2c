"""Unit tests for lab/dockyard_lab/cgroups.py: the run options computed from a host's cgroup layout."""

from __future__ import annotations

import pytest
from dockyard_lab import cgroups

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
    layout = cgroups.read_cgroup_layout(V1_MOUNTS, V1_CGROUPS)
    assert layout.version == 1
    assert layout.hierarchies == ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/memory",
                                  "/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"]
    # enabled but not mounted -> read-only placeholder; disabled (rdma) -> nothing
    assert layout.placeholders == ["/sys/fs/cgroup/hugetlb", "/sys/fs/cgroup/net_cls"]


def test_combined_hierarchy_counts_as_mounted():
    layout = cgroups.read_cgroup_layout(COMBINED_MOUNTS, "net_cls\t3\t1\t1\nnet_prio\t3\t1\t1\n")
    assert layout.hierarchies == ["/sys/fs/cgroup/net_cls,net_prio"]
    assert layout.placeholders == []


def test_v2_layout():
    assert cgroups.read_cgroup_layout(V2_MOUNTS, "").version == 2


def _pairs(args, flag):
    return [args[i + 1] for i, a in enumerate(args) if a == flag]


def test_v1_run_args_never_bind_the_cgroup_root_and_never_privileged():
    layout = cgroups.read_cgroup_layout(V1_MOUNTS, V1_CGROUPS)
    caps = [c for c in cgroups.CAPABILITIES if c != "SYS_RESOURCE"]
    args = cgroups.host_run_args("h", "img", layout=layout, caps=caps)
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
    args = cgroups.host_run_args("h", "img", layout=cgroups.CgroupLayout(version=2), caps=[])
    assert _pairs(args, "--cgroupns") == ["private"]
    assert all("/sys/fs/cgroup" not in v for v in _pairs(args, "--volume"))


@pytest.mark.parametrize("mask,expected_missing", [
    ("000001ffffffffff", []),
    ("000001fffeffffff", ["SYS_RESOURCE"]),
])
def test_bounding_capabilities(mask, expected_missing):
    caps = cgroups.bounding_capabilities(f"Name:\tdockerd\nCapBnd:\t{mask}\n")
    assert [c for c in cgroups.CAPABILITIES if c not in caps] == expected_missing
