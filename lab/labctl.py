#!/usr/bin/env python3
"""dockyard lab control: build the offline lab and run its hosts safely on this Docker host.

Everything the lab needs comes from Debian's mirrors (and PyPI for the controller):

* ``dockyard-lab/systemd``  Debian 12 + systemd test host (debootstrap + docker import)
* ``dockyard-lab/dind``     the same with Docker (docker.io) and python3-requests baked in
* ``dockyard-lab/s3``       a one-node Ceph cluster (mon + memstore OSD + RADOS Gateway) that boots
                            with an S3 user and the registry's bucket
* ``dockyard-lab/registry`` a ``registry:2``-compatible image built from Debian's
                            ``docker-registry`` binary, saved as an image archive for the registry
                            role's air-gapped path
* ``nginx-<version>.tar.gz`` the byte-identical upstream tarball from Debian's source package,
                            sha256-verified

Each artifact is built from a *recipe* (the files under ``lab/images/<name>/`` plus the parameters
below); its hash is stored on the image as a label (or next to the file as a stamp), so a rebuild
happens only when the recipe changed.

Lab hosts are started with options computed from the host's cgroup layout: never ``--privileged``
where the capability bounding set makes it fail, never a bind of the host's ``/sys/fs/cgroup``
itself (only of each hierarchy below it, inside a private tmpfs), and they are stopped gracefully
(SIGRTMIN+3 to systemd) so Docker-in-Docker hosts leave no stale cgroups behind.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

LAB_DIR = Path(__file__).resolve().parent
REPO = LAB_DIR.parent
IMAGES_DIR = LAB_DIR / "images"
CACHE = Path(os.environ.get("DOCKYARD_LAB_CACHE", LAB_DIR / ".cache"))
SUITE = os.environ.get("DOCKYARD_LAB_SUITE", "bookworm")
NETWORK = os.environ.get("DOCKYARD_LAB_NETWORK", "dockyard-lab")
# Image repository prefix; another prefix (with another DOCKYARD_LAB_CACHE) builds a second,
# independent set of lab images next to the first, e.g. to time a cold build.
PREFIX = os.environ.get("DOCKYARD_LAB_PREFIX", "dockyard-lab")
LABEL = "org.dockyard.lab"
RECIPE_LABEL = "org.dockyard.lab.recipe"
# Bump when the builder itself changes in a way that must invalidate every artifact.
BUILDER_VERSION = "1"

BASE_PACKAGES = [
    "python3", "systemd", "systemd-sysv", "sudo", "ca-certificates", "iproute2", "dbus", "procps",
    "curl", "iputils-ping", "gnupg", "openssl",
]
# Units that have no business in a container (no udev, no ttys, no clock, no kernel modules).
MASKED_UNITS = [
    "systemd-udevd.service", "systemd-udevd-control.socket", "systemd-udevd-kernel.socket",
    "getty.target", "console-getty.service", "getty@tty1.service", "systemd-timesyncd.service",
    "systemd-remount-fs.service", "systemd-modules-load.service", "sys-kernel-config.mount",
    "sys-kernel-debug.mount", "sys-kernel-tracing.mount", "systemd-firstboot.service",
    "systemd-ask-password-wall.path", "apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer",
    "fstrim.timer",
]

# The nginx upstream tarballs carried by Debian's source packages (pool/main/n/nginx/).
NGINX_TARBALLS = {
    "1.26.3": "69ee2b237744036e61d24b836668aad3040dda461fe6f570f1787eab570c75aa",
    "1.22.1": "9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31",
}

# Linux capability numbers -> names as Docker spells them (without CAP_).
CAPABILITIES = [
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
]


def log(msg: str) -> None:
    print(f"[lab] {msg}", file=sys.stderr, flush=True)


def docker_bin() -> str:
    """The Docker CLI to drive the engine with (DOCKER env var, else the first on PATH)."""
    return os.environ.get("DOCKER", shutil.which("docker") or "docker")


def run(cmd, *, check=True, capture=False, input_=None, cwd=None, env=None):
    cmd = [str(c) for c in cmd]
    res = subprocess.run(
        cmd, check=False, text=True, cwd=cwd, env=env, input=input_,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
    )
    if check and res.returncode != 0:
        detail = (res.stderr or "").strip() if capture else ""
        raise SystemExit(f"[lab] command failed ({res.returncode}): {' '.join(cmd)}\n{detail}")
    return res


def docker(*args, check=True, capture=True, input_=None):
    return run([docker_bin(), *args], check=check, capture=capture, input_=input_)


# ---------------------------------------------------------------------------------------------
# Host facts: cgroup layout, capability bounding set, apt mirror


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


def apt_mirror() -> str:
    """The Debian mirror this host uses (DOCKYARD_LAB_MIRROR overrides)."""
    env = os.environ.get("DOCKYARD_LAB_MIRROR")
    if env:
        return env.rstrip("/")
    candidates = []
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        try:
            text = path.read_text()
        except OSError:
            continue
        candidates += re.findall(r"^\s*URIs:\s*(\S+)", text, re.M)
        candidates += re.findall(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)", text, re.M)
    for uri in candidates:
        if "security" not in uri and uri.startswith("http"):
            return uri.rstrip("/")
    return "http://deb.debian.org/debian"


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


def volume_name(host: str, target: str) -> str:
    return f"dockyard-lab-{host}-" + re.sub(r"[^a-zA-Z0-9]+", "-", target.strip("/"))


# ---------------------------------------------------------------------------------------------
# Recipes and builds


def tree_hash(path: Path, *extra: str) -> str:
    h = hashlib.sha256()
    h.update(BUILDER_VERSION.encode())
    for item in extra:
        h.update(b"\0" + item.encode())
    if path.exists():
        for f in sorted(p for p in path.rglob("*")
                        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"):
            h.update(b"\0" + str(f.relative_to(path)).encode() + b"\0")
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def image_label(tag: str, label: str = RECIPE_LABEL) -> str | None:
    res = docker("image", "inspect", "--format", "{{ json .Config.Labels }}", tag, check=False)
    if res.returncode != 0:
        return None
    labels = json.loads(res.stdout.strip() or "null") or {}
    return labels.get(label)


@dataclass
class Result:
    name: str
    built: bool
    seconds: float
    detail: str = ""


def build_systemd(force: bool = False) -> Result:
    """Debian + systemd base: debootstrap --variant=minbase, docker import, STOPSIGNAL on top."""
    tag = f"{PREFIX}/systemd:latest"
    recipe = tree_hash(IMAGES_DIR / "systemd", SUITE, ",".join(BASE_PACKAGES), ",".join(MASKED_UNITS))
    start = time.monotonic()
    if not force and image_label(tag) == recipe:
        return Result("systemd", False, time.monotonic() - start, tag)
    if not shutil.which("debootstrap"):
        raise SystemExit("[lab] debootstrap is missing: apt-get install -y debootstrap")
    mirror = apt_mirror()
    work = Path(tempfile.mkdtemp(prefix="dockyard-rootfs-", dir=os.environ.get("TMPDIR", "/var/tmp")))
    rootfs = work / "rootfs"
    try:
        log(f"debootstrap {SUITE} from {mirror} (about a minute or two)")
        run(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", SUITE, rootfs, mirror],
            capture=True)
        security = mirror.replace("/debian", "/debian-security") if mirror.endswith("/debian") else None
        sources = [f"deb {mirror} {SUITE} main", f"deb {mirror} {SUITE}-updates main"]
        if security:
            sources.append(f"deb {security} {SUITE}-security main")
        (rootfs / "etc/apt/sources.list").write_text("\n".join(sources) + "\n")
        for unit in MASKED_UNITS:
            link = rootfs / "etc/systemd/system" / unit
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to("/dev/null")
        (rootfs / "etc/machine-id").write_text("")
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
        raw = f"{PREFIX}/rootfs:{recipe}"
        log(f"docker import -> {raw}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run([docker_bin(), "import", "-", raw], stdin=tar.stdout, capture_output=True, text=True)
        tar.wait()
        if imp.returncode != 0 or tar.returncode != 0:
            raise SystemExit(f"[lab] docker import failed: {imp.stderr}")
        docker_build("systemd", tag, recipe, {"BASE": raw})
        docker("image", "rm", raw, check=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Result("systemd", True, time.monotonic() - start, tag)


def docker_build(recipe_dir: str, tag: str, recipe: str, build_args: dict | None = None) -> None:
    args = ["build", "--pull=false", "--label", f"{RECIPE_LABEL}={recipe}", "--label", f"{LABEL}=1", "-t", tag]
    for key, value in (build_args or {}).items():
        args += ["--build-arg", f"{key}={value}"]
    args.append(str(IMAGES_DIR / recipe_dir))
    log(f"docker build {tag}")
    res = docker(*args, check=False)
    if res.returncode != 0:
        raise SystemExit(f"[lab] docker build of {tag} failed:\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}")


def build_derived(name: str, tag: str, parent: Result, force: bool = False) -> Result:
    """An image built FROM dockyard-lab/systemd with lab/images/<name>/Dockerfile."""
    parent_recipe = image_label(parent.detail)
    recipe = tree_hash(IMAGES_DIR / name, parent_recipe or "")
    start = time.monotonic()
    if not force and not parent.built and image_label(tag) == recipe:
        return Result(name, False, time.monotonic() - start, tag)
    docker_build(name, tag, recipe, {"BASE": parent.detail})
    return Result(name, True, time.monotonic() - start, tag)


def registry_archive_path() -> Path:
    return CACHE / "registry-image.tar"


def build_registry_archive(image: Result, force: bool = False) -> Result:
    """docker save of the registry image, for the registry role's image-archive path."""
    start = time.monotonic()
    archive = registry_archive_path()
    stamp = archive.with_suffix(".recipe")
    recipe = image_label(image.detail) or ""
    if not force and not image.built and archive.exists() and stamp.exists() and stamp.read_text() == recipe:
        return Result("registry-archive", False, time.monotonic() - start, str(archive))
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = archive.with_suffix(".tmp")
    docker("save", "-o", str(tmp), image.detail)
    tmp.replace(archive)
    stamp.write_text(recipe)
    return Result("registry-archive", True, time.monotonic() - start, str(archive))


def registry_image_info() -> dict:
    """Name, tag and version of the lab's registry image (from the recipe's VERSION file)."""
    version = (IMAGES_DIR / "registry" / "VERSION").read_text().strip()
    return {"name": f"{PREFIX}/registry", "tag": version, "image": f"{PREFIX}/registry:{version}",
            "version": version, "archive": str(registry_archive_path())}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def nginx_tarball_path(version: str) -> Path:
    return CACHE / f"nginx-{version}.tar.gz"


def fetch_nginx(version: str, force: bool = False) -> Result:
    """Download nginx_<version>.orig.tar.gz from the Debian pool; verify its pinned sha256."""
    start = time.monotonic()
    want = NGINX_TARBALLS[version]
    dest = nginx_tarball_path(version)
    if not force and dest.exists() and sha256_file(dest) == want:
        return Result(f"nginx-{version}", False, time.monotonic() - start, str(dest))
    CACHE.mkdir(parents=True, exist_ok=True)
    url = f"{apt_mirror()}/pool/main/n/nginx/nginx_{version}.orig.tar.gz"
    log(f"download {url}")
    tmp = dest.with_suffix(".part")
    with urllib.request.urlopen(url, timeout=120) as resp, tmp.open("wb") as out:
        shutil.copyfileobj(resp, out)
    got = sha256_file(tmp)
    if got != want:
        tmp.unlink()
        raise SystemExit(f"[lab] {url}: sha256 {got} does not match the pinned {want}")
    tmp.replace(dest)
    return Result(f"nginx-{version}", True, time.monotonic() - start, str(dest))


def build_all(force: bool = False) -> list[Result]:
    results = [build_systemd(force)]
    base = results[0]
    results.append(build_derived("dind", f"{PREFIX}/dind:latest", base, force))
    reg = build_derived("registry", registry_image_info()["image"], base, force)
    results.append(reg)
    results.append(build_registry_archive(reg, force))
    for version in NGINX_TARBALLS:
        results.append(fetch_nginx(version, force))
    results.append(build_derived("s3", f"{PREFIX}/s3:latest", base, force))
    return results


def artifacts() -> dict:
    reg = registry_image_info()
    return {
        "images": {name: f"{PREFIX}/{name}:latest" for name in ("systemd", "dind", "s3")},
        "registry": reg,
        "nginx": {v: {"path": str(nginx_tarball_path(v)), "sha256": s} for v, s in NGINX_TARBALLS.items()},
        "network": NETWORK,
        "s3": s3_facts(),
    }


def s3_facts() -> dict:
    """Credentials and bucket the s3 lab image bootstraps with (lab/images/s3/lab.env)."""
    facts = {}
    env_file = IMAGES_DIR / "s3" / "lab.env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                facts[key.strip()] = value.strip()
    return facts


# ---------------------------------------------------------------------------------------------
# Hosts


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
        if f"/{kind}:" in image:
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


# ---------------------------------------------------------------------------------------------
# CLI


def _platforms_arg(value: str) -> list:
    if os.path.exists(value):
        value = Path(value).read_text()
    data = json.loads(value)
    return data if isinstance(data, list) else [data]


def cmd_build(args) -> int:
    t0 = time.monotonic()
    results = build_all(force=args.force)
    total = time.monotonic() - t0
    for r in results:
        print(f"{r.name:18} {'built' if r.built else 'up to date':10} {r.seconds:7.1f}s  {r.detail}")
    if not any(r.built for r in results):
        print(f"lab build: nothing to rebuild, every recipe is unchanged ({total:.1f}s)")
    else:
        print(f"lab build: rebuilt {', '.join(r.name for r in results if r.built)} ({total:.1f}s)")
    return 0


def cmd_create(args) -> int:
    platforms = _platforms_arg(args.platforms)
    for p in platforms:
        log(f"start {p['name']} ({p['image']})")
        create_host(p, scenario=args.scenario, network=args.network)
    wait_running([p["name"] for p in platforms], timeout=args.timeout)
    return 0


def cmd_destroy(args) -> int:
    names = [p["name"] for p in _platforms_arg(args.platforms)] if args.platforms else lab_containers(args.scenario)
    for name in names:
        log(f"stop {name}")
        destroy_host(name)
    remove_network(args.network)
    return 0


def cmd_run_host(args) -> int:
    image = args.image if "/" in args.image else f"{PREFIX}/{args.image}:latest"
    create_host({"name": args.name, "image": image}, scenario="adhoc", network=args.network)
    wait_running([args.name])
    print(args.name)
    return 0


def cmd_rm_host(args) -> int:
    for name in args.names:
        destroy_host(name)
    remove_network(args.network)
    return 0


def cmd_run_args(args) -> int:
    print(json.dumps(host_run_args(args.name, args.image)))
    return 0


def container_address(name: str, network: str = NETWORK) -> str:
    """The IPv4 address of a lab container on the lab network."""
    fmt = "{{ with index .NetworkSettings.Networks \"%s\" }}{{ .IPAddress }}{{ end }}" % network
    addr = docker("inspect", "--format", fmt, name).stdout.strip()
    if not addr:
        raise SystemExit(f"[lab] {name} has no address on network {network}")
    return addr


def cmd_address(args) -> int:
    print(container_address(args.name, args.network))
    return 0


def cmd_summary(args) -> int:
    """What `./dev lab` leaves behind: where the registry is, how to use it, what was verified."""
    report_file = CACHE / "verify-report.json"
    if not report_file.exists():
        raise SystemExit(f"[lab] no verification report at {report_file}: run ./dev lab")
    report = json.loads(report_file.read_text())
    hosts = [(n, _address_or_none(n)) for n in lab_containers("default")]
    url = report.get("registry", "")
    name = url.split("://", 1)[-1]
    lines = [
        "",
        "dockyard.registry lab is up",
        "===========================",
        f"registry          {url}  (nginx on 'proxy', backends {', '.join(sorted(k for k in report.get('requests_per_backend', {}) if k != 'nginx'))})",
        f"CA certificate    {report.get('ca_certificate', '?')}",
        "credentials       molecule/default/inventory/group_vars/all.yml (dockyard_registry_users; lab-only)",
        f"verified          {report.get('user')} pushed and pulled {report.get('image')}",
        f"                  manifest {report.get('manifest_digest')}",
        f"                  controller checks {', '.join(report.get('controller_checks_passed', []))};"
        f" client checks {json.dumps(report.get('clients_checks_passed', {}))}; docker CLI pull on the clients",
        f"requests/backend  {json.dumps(report.get('requests_per_backend', {}))}",
        "hosts             " + ", ".join(f"{n} ({a})" for n, a in sorted(hosts)),
        "",
        "try it:           docker exec -it client bash",
        f"                  docker pull {report.get('image')}",
        f"                  docker tag {report.get('image')} {name}/me/test:1 && docker push {name}/me/test:1",
        "tests:            ./dev test          tear down: ./dev clean",
        "",
    ]
    print("\n".join(lines))
    return 0


def _address_or_none(name: str) -> str:
    try:
        return container_address(name)
    except SystemExit:
        return "-"


def cmd_artifacts(args) -> int:
    print(json.dumps(artifacts(), indent=2))
    return 0


def cmd_state(args) -> int:
    print(json.dumps(host_state(), indent=2, sort_keys=True))
    return 0


def cmd_clean(args) -> int:
    for name in lab_containers():
        log(f"stop {name}")
        destroy_host(name)
    remove_network(args.network)
    res = docker("volume", "ls", "-q", "--filter", f"label={LABEL}=1", check=False)
    for vol in res.stdout.split():
        docker("volume", "rm", vol, check=False)
    if args.images:
        remove_lab_images()
        shutil.rmtree(CACHE, ignore_errors=True)
    return 0


def remove_lab_images(rounds: int = 5) -> None:
    """Remove every lab image. A base image (systemd) cannot go while an image built on it (dind,
    s3) exists, so removal repeats until nothing labelled is left or a round removes nothing."""
    left = None
    for _round in range(rounds):
        res = docker("images", "-q", "--filter", f"label={LABEL}=1", check=False)
        ids = sorted(set(res.stdout.split()))
        if not ids or ids == left:
            return
        docker("image", "rm", "-f", *ids, check=False)
        left = ids


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="labctl", description=__doc__.split("\n\n")[0])
    parser.add_argument("--network", default=NETWORK)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("build", help="build lab images and artifacts (only what changed)")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=cmd_build)
    p = sub.add_parser("create", help="start hosts from molecule-style platform dicts (JSON or file)")
    p.add_argument("--platforms", required=True)
    p.add_argument("--scenario", default="adhoc")
    p.add_argument("--timeout", type=float, default=180)
    p.set_defaults(func=cmd_create)
    p = sub.add_parser("destroy", help="gracefully stop and remove hosts, their volumes and the network")
    p.add_argument("--platforms")
    p.add_argument("--scenario")
    p.set_defaults(func=cmd_destroy)
    p = sub.add_parser("run-host", help="start one ad hoc lab host (image: systemd|dind|s3 or a tag)")
    p.add_argument("name")
    p.add_argument("--image", default="systemd")
    p.set_defaults(func=cmd_run_host)
    p = sub.add_parser("rm-host", help="gracefully stop and remove ad hoc lab hosts")
    p.add_argument("names", nargs="+")
    p.set_defaults(func=cmd_rm_host)
    p = sub.add_parser("run-args", help="print the docker run arguments a lab host gets")
    p.add_argument("name")
    p.add_argument("--image", default="dockyard-lab/systemd:latest")
    p.set_defaults(func=cmd_run_args)
    sub.add_parser("summary", help="print where the lab registry is and what ./dev lab verified").set_defaults(func=cmd_summary)
    p = sub.add_parser("address", help="print a lab host's IPv4 address on the lab network")
    p.add_argument("name")
    p.set_defaults(func=cmd_address)
    sub.add_parser("artifacts", help="print lab artifacts (images, archives, tarballs) as JSON").set_defaults(func=cmd_artifacts)
    sub.add_parser("state", help="print the host state the lab must not change").set_defaults(func=cmd_state)
    p = sub.add_parser("clean", help="remove every lab container, volume and network (--images: also images and cache)")
    p.add_argument("--images", action="store_true")
    p.set_defaults(func=cmd_clean)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
