"""The lab's images and artifacts, each rebuilt only when its recipe changed.

* ``dockyard-lab/systemd``  Debian 12 + systemd test host (debootstrap + docker import)
* ``dockyard-lab/dind``     the same with Docker (docker.io) and python3-requests baked in
* ``dockyard-lab/systemd-trixie``, ``dockyard-lab/dind-trixie``
                            the same two on Debian 13 (``EXTRA_SUITES``), for mixed fleets
* ``dockyard-lab/s3``       a one-node Ceph cluster (mon + memstore OSD + RADOS Gateway) that boots
                            with an S3 user and the registry's bucket (``s3_facts``: its credentials)
* ``dockyard-lab/registry`` a ``registry:2``-compatible image built from Debian's
                            ``docker-registry`` binary, saved as an image archive for the registry
                            role's air-gapped path
* ``dockyard-lab/registry:<version>-next`` / ``-broken`` (``REGISTRY_VARIANTS``): a second tag of
                            that image and one whose entrypoint exits at once, each saved as an
                            archive too, for rolling upgrades (and a failed one) in the lab
* ``nginx-<version>.tar.gz`` the byte-identical upstream tarball from Debian's source package,
                            sha256-verified

Each artifact is built from a *recipe* (the files under ``lab/images/<name>/`` plus the parameters
below, hashed by ``tree_hash``); the hash is stored on the image as a label (or next to the file as
a stamp). Changing ``BUILDER_VERSION`` or anything hashed rebuilds the images for everyone.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from dockyard_lab.common import (
    CACHE,
    IMAGES_DIR,
    LABEL,
    NETWORK,
    PREFIX,
    RECIPE_LABEL,
    SUITE,
    docker,
    docker_bin,
    log,
    run,
)


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

# Debian releases built next to SUITE (the lab's default release), as <kind>-<suite> images. Each has
# its own recipe hash (the suite is hashed), so adding one leaves the SUITE images as they are.
EXTRA_SUITES = ["trixie"]

# The nginx upstream tarballs carried by Debian's source packages (pool/main/n/nginx/).
NGINX_TARBALLS = {
    "1.26.3": "69ee2b237744036e61d24b836668aad3040dda461fe6f570f1787eab570c75aa",
    "1.22.1": "9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31",
}


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


def suite_image(kind: str, suite: str = SUITE) -> str:
    """The tag of a lab image for a Debian release: <kind> for SUITE, <kind>-<suite> for the others."""
    return f"{PREFIX}/{kind}:latest" if suite == SUITE else f"{PREFIX}/{kind}-{suite}:latest"


def _short(tag: str) -> str:
    """systemd, dind-trixie, registry, ...: how `labctl build` names an image in its report."""
    return tag.rsplit("/", 1)[-1].split(":", 1)[0]


def build_systemd(force: bool = False, suite: str = SUITE) -> Result:
    """Debian + systemd base: debootstrap --variant=minbase, docker import, STOPSIGNAL on top."""
    tag = suite_image("systemd", suite)
    name = _short(tag)
    recipe = tree_hash(IMAGES_DIR / "systemd", suite, ",".join(BASE_PACKAGES), ",".join(MASKED_UNITS))
    start = time.monotonic()
    if not force and image_label(tag) == recipe:
        return Result(name, False, time.monotonic() - start, tag)
    if not shutil.which("debootstrap"):
        raise SystemExit("[lab] debootstrap is missing: apt-get install -y debootstrap")
    mirror = apt_mirror()
    work = Path(tempfile.mkdtemp(prefix="dockyard-rootfs-", dir=os.environ.get("TMPDIR", "/var/tmp")))
    rootfs = work / "rootfs"
    try:
        log(f"debootstrap {suite} from {mirror} (about a minute or two)")
        run(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", suite, rootfs, mirror],
            capture=True)
        security = mirror.replace("/debian", "/debian-security") if mirror.endswith("/debian") else None
        sources = [f"deb {mirror} {suite} main", f"deb {mirror} {suite}-updates main"]
        if security:
            sources.append(f"deb {security} {suite}-security main")
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
    return Result(name, True, time.monotonic() - start, tag)


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
    """An image built FROM the parent (systemd, or the registry image) with lab/images/<name>/Dockerfile."""
    parent_recipe = image_label(parent.detail)
    recipe = tree_hash(IMAGES_DIR / name, parent_recipe or "")
    start = time.monotonic()
    if not force and not parent.built and image_label(tag) == recipe:
        return Result(name, False, time.monotonic() - start, tag)
    docker_build(name, tag, recipe, {"BASE": parent.detail})
    return Result(name, True, time.monotonic() - start, tag)


# Images built FROM the registry image (lab/images/registry-<variant>/), tagged <version>-<variant>.
REGISTRY_VARIANTS = ("next", "broken")


def registry_archive_path(variant: str | None = None) -> Path:
    return CACHE / (f"registry-image-{variant}.tar" if variant else "registry-image.tar")


def build_registry_archive(image: Result, force: bool = False, variant: str | None = None) -> Result:
    """docker save of a registry image, for the registry role's image-archive path."""
    start = time.monotonic()
    archive = registry_archive_path(variant)
    stamp = archive.with_suffix(".recipe")
    recipe = image_label(image.detail) or ""
    name = f"registry-{variant}-archive" if variant else "registry-archive"
    if not force and not image.built and archive.exists() and stamp.exists() and stamp.read_text() == recipe:
        return Result(name, False, time.monotonic() - start, str(archive))
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = archive.with_suffix(".tmp")
    docker("save", "-o", str(tmp), image.detail)
    tmp.replace(archive)
    stamp.write_text(recipe)
    return Result(name, True, time.monotonic() - start, str(archive))


def registry_image_info() -> dict:
    """Name, tag and version of the lab's registry image (from the recipe's VERSION file)."""
    version = (IMAGES_DIR / "registry" / "VERSION").read_text().strip()
    return {"name": f"{PREFIX}/registry", "tag": version, "image": f"{PREFIX}/registry:{version}",
            "version": version, "archive": str(registry_archive_path()),
            "variants": {v: {"image": f"{PREFIX}/registry:{version}-{v}", "archive": str(registry_archive_path(v))}
                         for v in REGISTRY_VARIANTS}}


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
    for variant, info in registry_image_info()["variants"].items():
        image = build_derived(f"registry-{variant}", info["image"], reg, force)
        results.append(image)
        results.append(build_registry_archive(image, force, variant))
    for version in NGINX_TARBALLS:
        results.append(fetch_nginx(version, force))
    results.append(build_derived("s3", f"{PREFIX}/s3:latest", base, force))
    for suite in (s for s in EXTRA_SUITES if s != SUITE):
        suite_base = build_systemd(force, suite)
        # lab/images/dind-<suite>/ where a release needs its own recipe (trixie: docker-cli)
        recipe = f"dind-{suite}" if (IMAGES_DIR / f"dind-{suite}").is_dir() else "dind"
        dind = build_derived(recipe, suite_image("dind", suite), suite_base, force)
        results += [suite_base, dataclasses.replace(dind, name=_short(dind.detail))]
    return results


def artifacts() -> dict:
    reg = registry_image_info()
    return {
        "images": {name: f"{PREFIX}/{name}:latest" for name in ("systemd", "dind", "s3")}
        | {f"{kind}-{suite}": suite_image(kind, suite) for suite in EXTRA_SUITES if suite != SUITE for kind in ("systemd", "dind")},
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
