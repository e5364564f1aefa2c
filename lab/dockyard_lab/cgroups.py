"""What a lab host may be given on this Docker host, and the ``docker run`` arguments that follow.

The host's cgroup layout (``read_cgroup_layout``: v2, or each v1 hierarchy plus placeholders for
enabled controllers the host has not mounted), the capabilities in the Docker daemon's bounding set
(``bounding_capabilities``), and ``host_run_args``: never ``--privileged`` where the bounding set
makes it fail, never a bind of the host's ``/sys/fs/cgroup`` itself (only of each hierarchy below
it, inside a private tmpfs), and SIGRTMIN+3 as the stop signal so systemd shuts down gracefully.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from dockyard_lab.common import LABEL, NETWORK


# Linux capability numbers -> names as Docker spells them (without CAP_).
CAPABILITIES = [
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
]


# ---------------------------------------------------------------------------------------------
# Host facts: cgroup layout, capability bounding set


@dataclass
class CgroupLayout:
    version: int
    hierarchies: list = field(default_factory=list)   # mount points under /sys/fs/cgroup (v1)
    placeholders: list = field(default_factory=list)  # enabled controllers the host has not mounted


def read_cgroup_layout(mounts_text: str | None = None, cgroups_text: str | None = None) -> CgroupLayout:
    """Describe the host's cgroup mounts from /proc/mounts and /proc/cgroups."""
    if mounts_text is None:
        mounts_text = Path("/proc/mounts").read_text()
    if cgroups_text is None:
        cgroups_text = Path("/proc/cgroups").read_text()
    hierarchies, mounted_controllers = [], set()
    v2_root = False
    for line in mounts_text.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        fstype, target, opts = parts[2], parts[1], parts[3].split(",")
        if fstype == "cgroup2" and target == "/sys/fs/cgroup":
            v2_root = True
        if fstype not in ("cgroup", "cgroup2") or not target.startswith("/sys/fs/cgroup/"):
            continue
        hierarchies.append(target)
        mounted_controllers.update(o for o in opts if not o.startswith("name=") and o not in ("rw", "ro", "relatime", "nosuid", "nodev", "noexec"))
        mounted_controllers.update(Path(target).name.split(","))
    if v2_root and not hierarchies:
        return CgroupLayout(version=2)
    placeholders = []
    for line in cgroups_text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _hier, _num, enabled = line.split()[:4]
        if enabled == "1" and name not in mounted_controllers:
            placeholders.append(f"/sys/fs/cgroup/{name}")
    return CgroupLayout(version=1, hierarchies=sorted(hierarchies), placeholders=sorted(placeholders))


def bounding_capabilities(status_text: str | None = None) -> list[str]:
    """Capabilities in the Docker daemon's bounding set (what a container may be given)."""
    if status_text is None:
        status_text = ""
        pid = _dockerd_pid()
        for path in ([f"/proc/{pid}/status"] if pid else []) + ["/proc/self/status"]:
            try:
                status_text = Path(path).read_text()
                break
            except OSError:
                continue
    m = re.search(r"^CapBnd:\s*([0-9a-fA-F]+)", status_text, re.M)
    mask = int(m.group(1), 16) if m else 0
    return [name for bit, name in enumerate(CAPABILITIES) if mask & (1 << bit)]


def _dockerd_pid() -> int | None:
    for pidfile in ("/var/run/docker.pid", "/run/docker.pid"):
        try:
            return int(Path(pidfile).read_text().strip())
        except (OSError, ValueError):
            continue
    return None


# ---------------------------------------------------------------------------------------------
# Run options for a lab host


def host_run_args(name: str, image: str, *, network: str = NETWORK, scenario: str = "adhoc",
                  kind: str = "systemd", volumes=None, sysctls=None, env=None, extra_hosts=None,
                  layout: CgroupLayout | None = None, caps: list | None = None) -> list:
    """``docker run`` arguments for a systemd lab host, computed from the host's cgroup layout."""
    layout = layout or read_cgroup_layout()
    caps = bounding_capabilities() if caps is None else caps
    args = [
        "run", "-d", "--name", name, "--hostname", name,
        "--network", network, "--network-alias", name,
        "--label", f"{LABEL}=1", "--label", f"{LABEL}.scenario={scenario}", "--label", f"{LABEL}.kind={kind}",
        "--stop-signal", "SIGRTMIN+3", "--stop-timeout", "90",
        "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
        "--tmpfs", "/run:rw,exec,mode=755", "--tmpfs", "/run/lock:rw,mode=1777", "--tmpfs", "/tmp:rw,exec,mode=1777",
        "--env", "container=docker",
    ]
    if layout.version == 2:
        # cgroup v2: a private cgroup namespace; Docker mounts the container's own subtree.
        args += ["--privileged", "--cgroupns", "private"]
    else:
        args += ["--tmpfs", "/sys/fs/cgroup:rw,nosuid,nodev,noexec,mode=755"]
        for target in layout.hierarchies:
            args += ["--volume", f"{target}:{target}:rw"]
        for target in layout.placeholders:
            args += ["--tmpfs", f"{target}:ro"]
        # Every capability the daemon may hand out: ALL minus what its bounding set lacks
        # (with CAP_SYS_RESOURCE missing, --privileged fails with "unable to apply caps").
        args += ["--cap-add", "ALL"]
        for cap in CAPABILITIES:
            if cap not in caps and cap not in _unknown_caps:
                args += ["--cap-drop", cap]
    for vol in volumes or []:
        args += ["--volume", vol]
    for key, value in (sysctls or {}).items():
        args += ["--sysctl", f"{key}={value}"]
    for key, value in (env or {}).items():
        args += ["--env", f"{key}={value}"]
    for host, addr in (extra_hosts or {}).items():
        args += ["--add-host", f"{host}:{addr}"]
    args.append(image)
    return args


# Capabilities this Docker engine does not know (older engines reject e.g. CAP_BPF by name);
# filled in by create_host() from the engine's error message and retried without them.
_unknown_caps: set = set()
