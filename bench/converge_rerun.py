#!/usr/bin/env python3
"""Where a converge of the default scenario spends its time: the first deploy and a rerun, side by side.

Runs ``molecule converge -s default`` twice on one lab (5 hosts: proxy, two backends, client, S3)
with Ansible's ``ansible.posix.profile_tasks`` callback, and prints

* each run's wall time, task count and changed count, and the ratio rerun / first deploy
  (issue 15 asks for a rerun of at most 0.25x the first deploy, with changed=0);
* the rerun's seconds per role (summed over every task the callback timed) and its slowest tasks,
  which is where a cut would have to come from.

Both runs are measured in the same session on the same lab, so the ratio means something on a
noisy machine; the absolute seconds are context only. The lab is created first (``molecule
create``) and destroyed at the end unless ``--keep``. The nginx build cache (lab/.cache/nginx-builds)
is used as the scenario configures it: a first deploy whose recipe is cached installs nginx
instead of compiling it; ``--cold-nginx`` moves the whole cache directory aside for the run and
puts it back afterwards, as it was (the build this run made is dropped).

    bench/converge_rerun.py [--keep] [--cold-nginx] [--top 15]

Results are also written to bench/results/converge_rerun.json.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict

import _common
from _common import REPO, log

TASK_TIME = re.compile(r"^(?P<name>.+?) -+ (?P<seconds>\d+(?:\.\d+)?)s$")
RECAP_HOST = re.compile(r"^\S+\s+: ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
                        r"failed=(?P<failed>\d+)")
BUILDS = REPO / "lab" / ".cache" / "nginx-builds"


def molecule(step: str, log_path) -> tuple:
    """(seconds, output) of ``molecule <step> -s default`` with per-task timing."""
    env = dict(os.environ, PATH=f"{REPO / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
               ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), PY_COLORS="0", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks", PROFILE_TASKS_TASK_OUTPUT_LIMIT="all",
               PROFILE_TASKS_SORT_ORDER="descending")
    start = time.monotonic()
    res = subprocess.run([str(REPO / ".venv" / "bin" / "molecule"), step, "-s", "default"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=3600, check=False)
    seconds = time.monotonic() - start
    output = res.stdout + res.stderr
    log_path.write_text(output)
    if res.returncode != 0:
        raise SystemExit(f"molecule {step} -s default failed ({res.returncode}); log: {log_path}")
    return seconds, output


def parse(output: str) -> dict:
    """Task count, changed/failed sums and the timed tasks of one ansible-playbook output."""
    recap = output.split("PLAY RECAP", 1)[-1]
    hosts = [m.groupdict() for m in map(RECAP_HOST.match, recap.splitlines()) if m]
    timed = []
    if "TASKS RECAP" in output:
        for line in output.split("TASKS RECAP", 1)[1].splitlines():
            match = TASK_TIME.match(line.strip())
            if match:
                timed.append((match.group("name"), float(match.group("seconds"))))
    return {"tasks": output.count("\nTASK ["), "timed": timed,
            "changed": sum(int(h["changed"]) for h in hosts), "failed": sum(int(h["failed"]) for h in hosts)}


def per_role(timed) -> dict:
    """Seconds per role ("dockyard.registry.nginx : ..." tasks), playbook-level tasks as "(playbooks)"."""
    sums = defaultdict(float)
    for name, seconds in timed:
        role, sep, _task = name.partition(" : ")
        sums[role if sep else "(playbooks)"] += seconds
    return dict(sorted(sums.items(), key=lambda kv: -kv[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", action="store_true", help="keep the lab afterwards")
    ap.add_argument("--cold-nginx", action="store_true", help="compile nginx in the first deploy (cache moved aside)")
    ap.add_argument("--top", type=int, default=15, help="slowest rerun tasks to print")
    args = ap.parse_args(argv)
    logs = _common.CACHE / "converge_rerun"
    logs.mkdir(parents=True, exist_ok=True)
    aside = BUILDS.with_name("nginx-builds.aside")
    if args.cold_nginx and BUILDS.exists():
        BUILDS.rename(aside)
    runs = {}
    try:
        log("creating the default scenario's lab")
        molecule("create", logs / "create.log")
        for run in ("first", "rerun"):
            log(f"converge ({run})")
            seconds, output = molecule("converge", logs / f"{run}.log")
            runs[run] = dict(parse(output), seconds=round(seconds, 1))
    finally:
        if args.cold_nginx and aside.exists():
            # the cache as it was before the run: this run's build goes, every earlier entry comes back
            shutil.rmtree(BUILDS, ignore_errors=True)
            aside.rename(BUILDS)
        if not args.keep:
            log("destroying the lab")
            molecule("destroy", logs / "destroy.log")
    first, rerun = runs["first"], runs["rerun"]
    ratio = rerun["seconds"] / first["seconds"]
    print(_common.table(["run", "seconds", "tasks", "changed", "failed", "timed task seconds"],
                        [[name, r["seconds"], r["tasks"], r["changed"], r["failed"],
                          round(sum(s for _n, s in r["timed"]), 1)] for name, r in runs.items()]))
    print(f"\nrerun / first deploy: {ratio:.2f}x (target 0.25x); rerun changed={rerun['changed']}")
    roles = per_role(rerun["timed"])
    print("\nrerun seconds per role:")
    print(_common.table(["role", "seconds", "share"],
                        [[role, round(s, 1), f"{s / max(sum(roles.values()), 1e-9):.0%}"] for role, s in roles.items()]))
    print(f"\nslowest {args.top} rerun tasks:")
    print(_common.table(["task", "seconds"], [[n[:100], s] for n, s in rerun["timed"][:args.top]]))
    path = _common.save_results("converge_rerun", {"runs": runs, "ratio": round(ratio, 3), "per_role": roles,
                                                     "cold_nginx": args.cold_nginx, "machine": _common.machine_facts()})
    log(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
