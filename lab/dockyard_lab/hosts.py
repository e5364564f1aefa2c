"""Lab host lifecycle: the shared lab network, starting, waiting for and removing hosts.

Hosts are started from molecule-style platform dicts (``create_host``, idempotent) with the options
``cgroups.host_run_args`` computes, on a network shared by scenarios running in parallel
(``network_lock`` serialises creating it and removing it when empty); they are stopped gracefully
(SIGRTMIN+3 to systemd, no force kill) so Docker-in-Docker hosts leave no stale cgroups behind.
``host_state`` is what the lab must leave untouched on this host. ``virtual_ip`` picks a free
address at the top of the lab network for a virtual IP (the ha scenario's keepalived).
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import re
import tempfile
import time
from pathlib import Path

from dockyard_lab.cgroups import CAPABILITIES, _unknown_caps, host_run_args
from dockyard_lab.common import LABEL, NETWORK, docker


def volume_name(host: str, target: str) -> str:
    return f"dockyard-lab-{host}-" + re.sub(r"[^a-zA-Z0-9]+", "-", target.strip("/"))


def network_lock_path(name: str = NETWORK) -> Path:
    return Path(tempfile.gettempdir()) / f"dockyard-lab-network-{name}.lock"


@contextlib.contextmanager
def network_lock(name: str = NETWORK):
    """Serialise "create the network and attach a host" against "remove the network when empty".

    Molecule scenarios run in parallel and share the lab network: without this, one scenario's
    destroy can remove the (momentarily empty) network between another's ensure_network() and its
    ``docker run``, or two creates race on ``docker network create``.
    """
    with open(network_lock_path(name), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_network(name: str = NETWORK) -> None:
    """Create the lab network if it is missing (call with network_lock held)."""
    if docker("network", "inspect", name, check=False).returncode != 0:
        docker("network", "create", "--label", f"{LABEL}=1", name)


def remove_network(name: str = NETWORK) -> None:
    """Remove the lab network once no container is attached to it."""
    with network_lock(name):
        res = docker("network", "inspect", "--format", "{{ len .Containers }}", name, check=False)
        if res.returncode == 0 and res.stdout.strip() == "0":
            docker("network", "rm", name, check=False)


KIND_DEFAULTS = {
    "systemd": {"volumes": [], "sysctls": {}},
    "dind": {"volumes": ["/var/lib/docker"], "sysctls": {"net.ipv4.ip_forward": "1"}},
    "s3": {"volumes": [], "sysctls": {}},
}


def platform_kind(platform: dict) -> str:
    labels = platform.get("labels") or {}
    if f"{LABEL}.kind" in labels:
        return labels[f"{LABEL}.kind"]
    image = platform.get("image", "")
    for kind in ("dind", "s3"):
        if re.search(rf"/{kind}(-[a-z]+)?:", image):  # dind, dind-trixie (images.suite_image)
            return kind
    return "systemd"


def create_host(platform: dict, scenario: str = "adhoc", network: str = NETWORK) -> None:
    """Start one lab host (idempotent: an existing running container is kept)."""
    name = platform["name"]
    state = docker("inspect", "--format", "{{ .State.Running }}", name, check=False)
    if state.returncode == 0:
        if state.stdout.strip() == "true":
            return
        docker("start", name)
        return
    kind = platform_kind(platform)
    defaults = KIND_DEFAULTS.get(kind, KIND_DEFAULTS["systemd"])
    volumes = []
    for target in list(defaults["volumes"]) + list(platform.get("volumes") or []):
        if ":" in target:
            volumes.append(target)
        else:
            vol = volume_name(name, target)
            docker("volume", "create", "--label", f"{LABEL}=1", "--label", f"{LABEL}.host={name}", vol)
            volumes.append(f"{vol}:{target}")
    sysctls = dict(defaults["sysctls"])
    sysctls.update(platform.get("sysctls") or {})
    for _attempt in range(len(CAPABILITIES)):
        args = host_run_args(name, platform["image"], network=network, scenario=scenario, kind=kind,
                             volumes=volumes, sysctls=sysctls, env=platform.get("env"),
                             extra_hosts=platform.get("etc_hosts"))
        with network_lock(network):
            ensure_network(network)
            res = docker(*args, check=False)
        if res.returncode == 0:
            return
        unknown = re.search(r'unknown capability: "?(?:CAP_)?([A-Z_]+)', res.stderr or "")
        if not unknown or unknown.group(1) in _unknown_caps:
            break
        _unknown_caps.add(unknown.group(1))
        docker("rm", "-f", name, check=False)
    raise SystemExit(f"[lab] could not start {name}: {(res.stderr or '').strip()}")


def wait_running(names: list, timeout: float = 120.0) -> None:
    """Wait until systemd in each host reports running (or degraded)."""
    deadline = time.monotonic() + timeout
    pending = list(names)
    while pending:
        for name in list(pending):
            res = docker("exec", name, "systemctl", "is-system-running", check=False)
            if res.stdout.strip() in ("running", "degraded"):
                pending.remove(name)
        if pending:
            if time.monotonic() > deadline:
                raise SystemExit(f"[lab] systemd did not come up in: {', '.join(pending)}")
            time.sleep(0.5)


def destroy_host(name: str) -> None:
    """Graceful stop (SIGRTMIN+3, no force kill), then remove the container and its volumes."""
    res = docker("inspect", "--format", "{{ json .Mounts }}", name, check=False)
    if res.returncode != 0:
        _remove_volumes(name)
        return
    docker("stop", "--time", "120", name, check=False)
    docker("rm", "--volumes", name, check=False)
    _remove_volumes(name)


def _remove_volumes(host: str) -> None:
    res = docker("volume", "ls", "-q", "--filter", f"label={LABEL}.host={host}", check=False)
    for vol in res.stdout.split():
        docker("volume", "rm", vol, check=False)


def lab_containers(scenario: str | None = None) -> list:
    flt = f"label={LABEL}.scenario={scenario}" if scenario else f"label={LABEL}=1"
    res = docker("ps", "-a", "--filter", flt, "--format", "{{ .Names }}", check=False)
    return res.stdout.split()


def host_state() -> dict:
    """What the lab must leave untouched on this host: cgroup mounts and Docker's configuration."""
    cgroup_lines = sorted(line for line in Path("/proc/mounts").read_text().splitlines()
                          if " cgroup" in line or "/sys/fs/cgroup" in line)
    # Cgroup directories Docker's containers live in: a killed Docker-in-Docker host leaves stale ones.
    cgroup_dirs = sorted(str(p) for p in Path("/sys/fs/cgroup").glob("*/docker/*") if p.is_dir())
    info = json.loads(docker("info", "--format", "{{ json . }}").stdout)
    keep = ["Driver", "CgroupDriver", "CgroupVersion", "SecurityOptions", "Runtimes", "DefaultRuntime",
            "Warnings", "DockerRootDir", "Containers", "ContainersRunning", "ServerVersion", "Swarm"]
    volumes = sorted(docker("volume", "ls", "-q").stdout.split())
    networks = sorted(docker("network", "ls", "--format", "{{ .Name }}").stdout.split())
    return {"cgroup_mounts": cgroup_lines, "cgroup_dirs": cgroup_dirs, "volumes": volumes,
            "networks": networks, "docker_info": {k: info.get(k) for k in keep}}


def container_address(name: str, network: str = NETWORK) -> str:
    """The IPv4 address of a lab container on the lab network."""
    fmt = "{{ with index .NetworkSettings.Networks \"%s\" }}{{ .IPAddress }}{{ end }}" % network
    addr = docker("inspect", "--format", fmt, name).stdout.strip()
    if not addr:
        raise SystemExit(f"[lab] {name} has no address on network {network}")
    return addr


def high_free_address(subnet: str, taken=(), index: int = 0) -> str:
    """The ``index``-th highest host address of ``subnet`` that is not in ``taken``.

    Docker's IPAM hands out a network's addresses from the bottom, so the top of the subnet stays
    free for addresses nobody assigns: a virtual IP that keepalived moves between lab hosts.
    """
    net = ipaddress.ip_network(subnet, strict=False)
    if net.version != 4 or net.num_addresses < 8:
        raise ValueError(f"{subnet} is not an IPv4 subnet with room for a virtual IP")
    taken = {ipaddress.ip_address(str(a).split("/")[0]) for a in taken if a}
    candidates = [net.broadcast_address - 1 - offset for offset in range(net.num_addresses - 3)]
    free = [str(a) for a in candidates if a not in taken]
    if index < 0 or index >= len(free):
        raise ValueError(f"no free address #{index} left in {subnet}")
    return free[index]


def virtual_ip(index: int = 0, network: str = NETWORK) -> str:
    """A free address at the top of the lab network's subnet (see high_free_address)."""
    info = json.loads(docker("network", "inspect", "--format", "{{ json . }}", network).stdout)
    subnets = [c["Subnet"] for c in (info.get("IPAM") or {}).get("Config") or [] if ":" not in c.get("Subnet", ":")]
    if not subnets:
        raise SystemExit(f"[lab] network {network} has no IPv4 subnet")
    taken = [c.get("IPv4Address", "") for c in (info.get("Containers") or {}).values()]
    taken += [c.get("Gateway", "") for c in info["IPAM"]["Config"]]
    return high_free_address(subnets[0], taken, index)

