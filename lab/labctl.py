#!/usr/bin/env python3
"""dockyard lab control: build the offline lab and run its hosts safely on this Docker host.

This file is the command line (``lab/labctl.py build|create|destroy|summary|...``, called by the
Makefile, the molecule create/destroy playbooks and the inventories); the logic lives in the
``dockyard_lab`` package next to it. The names other code imports from ``labctl`` (``docker``,
``s3_facts``, ``create_host``, ``network_lock_path``, ...) are re-exported here.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from dockyard_lab.cgroups import host_run_args
from dockyard_lab.common import CACHE, LABEL, NETWORK, PREFIX, docker, log
from dockyard_lab.hosts import (
    container_address,
    create_host,
    destroy_host,
    host_state,
    lab_containers,
    network_lock_path,
    remove_network,
    virtual_ip,
    wait_running,
)
from dockyard_lab.images import (
    artifacts,
    build_all,
    registry_archive_path,
    registry_image_info,
    remove_lab_images,
    s3_facts,
)

# What other code imports from labctl (tests/lab, molecule verifiers): the CLI and these names.
__all__ = [
    "LABEL", "NETWORK", "create_host", "destroy_host", "docker", "host_state", "main", "network_lock_path",
    "registry_archive_path", "registry_image_info", "remove_network", "s3_facts", "wait_running",
]


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


def cmd_address(args) -> int:
    print(container_address(args.name, args.network))
    return 0


def cmd_vip(args) -> int:
    print(virtual_ip(args.index, args.network))
    return 0


def summary_lines(report: dict, hosts: list) -> list:
    """The summary of a verify report (playbooks/verify.yml) and the lab hosts [(name, address)]:
    only what the report says ran."""
    url = report.get("registry", "")
    name = url.split("://", 1)[-1]
    backends = ", ".join(sorted(k for k in report.get("requests_per_backend", {}) if k != "nginx"))
    pulls = report.get("clients_docker_pull", {})
    pulled = sorted(client for client, digest in pulls.items() if digest)
    skipped = sorted(client for client, digest in pulls.items() if not digest)
    if pulled:
        docker = f"docker CLI pull on {', '.join(pulled)}" + (f" (no docker CLI on {', '.join(skipped)})" if skipped else "")
    else:
        docker = "no docker CLI pull (no client has a docker CLI)" if skipped else "no docker CLI pull reported"
    return [
        "",
        "dockyard.registry lab is up",
        "===========================",
        f"registry          {url}  (nginx on 'proxy', backends {backends})",
        f"CA certificate    {report.get('ca_certificate', '?')}",
        "credentials       molecule/default/inventory/group_vars/all.yml (dockyard_registry_users; lab-only)",
        f"verified          {report.get('user')} pushed and pulled {report.get('image')}",
        f"                  manifest {report.get('manifest_digest')}",
        f"                  controller checks {', '.join(report.get('controller_checks_passed', []))};"
        f" client checks {json.dumps(report.get('clients_checks_passed', {}))}; {docker}",
        f"requests/backend  {json.dumps(report.get('requests_per_backend', {}))}",
        "hosts             " + ", ".join(f"{n} ({a})" for n, a in sorted(hosts)),
        "",
        "try it:           docker exec -it client bash",
        f"                  docker pull {report.get('image')}",
        f"                  docker tag {report.get('image')} {name}/me/test:1 && docker push {name}/me/test:1",
        "tests:            ./dev lab-verify (this lab)   ./dev test (everything)   tear down: ./dev clean",
        "",
    ]


def cmd_summary(args) -> int:
    """What `./dev lab` leaves behind: where the registry is, how to use it, what was verified."""
    report_file = CACHE / "verify-report.json"
    if not report_file.exists():
        raise SystemExit(f"[lab] no verification report at {report_file}: run ./dev lab")
    report = json.loads(report_file.read_text())
    hosts = [(n, _address_or_none(n)) for n in lab_containers("default")]
    print("\n".join(summary_lines(report, hosts)))
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
    p = sub.add_parser("vip", help="print a free address at the top of the lab network's subnet (for a virtual IP)")
    p.add_argument("--index", type=int, default=0, help="0: the highest free address, 1: the next one, ...")
    p.set_defaults(func=cmd_vip)
    sub.add_parser("artifacts", help="print lab artifacts (images, archives, tarballs) as JSON").set_defaults(func=cmd_artifacts)
    sub.add_parser("state", help="print the host state the lab must not change").set_defaults(func=cmd_state)
    p = sub.add_parser("clean", help="remove every lab container, volume and network (--images: also images and cache)")
    p.add_argument("--images", action="store_true")
    p.set_defaults(func=cmd_clean)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
