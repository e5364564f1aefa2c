"""Creating and destroying lab hosts must leave this host's cgroups and Docker as they were."""

from __future__ import annotations

import pytest
from conftest import image_present

pytestmark = pytest.mark.lab

PLATFORMS = [
    {"name": "dockyard-hostcheck-sys", "image": "dockyard-lab/systemd:latest"},
    {"name": "dockyard-hostcheck-dind", "image": "dockyard-lab/dind:latest"},
]


def test_create_destroy_leaves_host_state_unchanged(labctl):
    for p in PLATFORMS:
        if not image_present(p["image"]):
            pytest.skip(f"{p['image']} not built (lab/labctl.py build)")
    network = "dockyard-hostcheck"
    before = labctl.host_state()
    try:
        for p in PLATFORMS:
            labctl.create_host(p, scenario="hostcheck", network=network)
        labctl.wait_running([p["name"] for p in PLATFORMS], timeout=120)
        dind = PLATFORMS[1]["name"]
        # Exercise nested cgroups the way the backends do: a container inside the DinD host.
        labctl.docker("exec", dind, "sh", "-c",
                      "for i in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done")
        archive = labctl.registry_archive_path()
        if archive.exists():
            labctl.docker("cp", str(archive), f"{dind}:/root/registry.tar")
            labctl.docker("exec", dind, "docker", "load", "-i", "/root/registry.tar")
            image = labctl.registry_image_info()["image"]
            out = labctl.docker("exec", dind, "docker", "run", "--rm", image, "--version").stdout
            assert "distribution" in out
        during = labctl.host_state()
        assert during["cgroup_mounts"] == before["cgroup_mounts"], "starting lab hosts changed the host's cgroup mounts"
    finally:
        for p in PLATFORMS:
            labctl.destroy_host(p["name"])
        labctl.remove_network(network)
    after = labctl.host_state()
    assert after == before
