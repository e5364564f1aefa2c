#!/usr/bin/env python3
"""Blob throughput through the nginx proxy the collection deploys, as ratios (issue 5).

Sets up its own mini lab with lab/labctl.py (bench-proxy: systemd host, bench-b1/bench-b2:
Docker-in-Docker backends, bench-s3: one-node Ceph RGW; bench/_lab.py), deploys the collection onto
it with ansible-playbook (bench/lab/: the default scenario's wiring, registry redirects disabled so
every byte goes through nginx), renders the nginx configuration variants with the role itself
(bench/lab/nginx-variant.yml), and measures from the controller (this host) with curl:

(a) GET of one 256 MiB blob: through the proxy, directly from one backend, and the same bytes as a
    static file served by the same nginx over the same TLS server (the ceiling); plus the proxy with
    the tuning the role's defaults undo (4k proxy_buffer_size, 4k ssl_buffer_size, proxy_buffering
    on);
(b) 32 concurrent GETs of one cold blob without and with the role's blob cache
    (``nginx_blob_cache``), counting the requests that reached the backends in the registries'
    access logs and in nginx's ``$upstream_addr``; then the same burst warm;
(c) push (POST, PATCH, PUT) of a 256 MiB blob through the proxy vs directly to a backend, with
    ``proxy_request_buffering`` off (default) and on.

"Direct" is the hop nginx itself makes with the default mutual TLS (``dockyard_backend_tls: true``):
HTTPS to one backend's registry port, the backend verified as the backends' shared name against
the lab CA, the proxy's own client certificate (``proxy-client.crt``, copied from the proxy)
presented, no password. So proxy / direct is what the client-facing TLS hop, auth_basic and
nginx's relaying add on top of the path nginx uses anyway.

Every round runs every variant once, in a shuffled order; ratios are taken within a round and
reported as median and spread (min..max) over the rounds. The lab is removed at the end, also on
failure (``--keep`` keeps it). Traffic goes only to the bench's own lab containers.

Usage: .venv/bin/python bench/proxy_throughput.py [--rounds 7] [--keep]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
import _lab  # noqa: E402
from _lab import MiB, WRITE_OUT, Endpoints, curl_get, dexec, log, make_blob, push_blob, run  # noqa: E402

LAB = _lab.BenchLab("bench")
STATE = LAB.state
PROXY, B1, B2 = LAB.proxy, LAB.b1, LAB.b2
STATIC_PATH = "/var/lib/dockyard-bench/blob.bin"

# name -> role variables (extra vars for bench/lab/nginx-variant.yml); "tuned" = the role defaults.
VARIANTS = {
    "tuned": {},
    "proxy_buffer_4k": {"nginx_proxy_buffer_size": "4k"},
    "proxy_buffer_256k": {"nginx_proxy_buffer_size": "256k", "nginx_proxy_buffers": "4 256k"},
    "ssl_buffer_4k": {"nginx_ssl_buffer_size": "4k"},
    "proxy_buffering_on": {"nginx_proxy_buffering": True},
    "request_buffering_on": {"nginx_proxy_request_buffering": True},
    "blob_cache": {"nginx_blob_cache": True},
}


def burst(ep: Endpoints, url: str, n: int, size: int) -> dict:
    """n concurrent GETs of url; all must answer 200 with size bytes. Aggregate bytes/s."""
    cmd = [*ep.curl_base(url), "-o", "/dev/null", "-D", "-", "-w", "\n@@ " + WRITE_OUT, url]
    t0 = time.monotonic()
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]
    outs = [p.communicate(timeout=900) for p in procs]
    wall = time.monotonic() - t0
    cache_status = {}
    for p, (out, err) in zip(procs, outs):
        m = re.search(r"@@ (\d+) (\d+)", out)
        if p.returncode != 0 or not m or m.group(1) != "200" or int(m.group(2)) != size:
            raise SystemExit(f"[bench] burst GET {url}: rc {p.returncode} {m and m.groups()} {err[-500:]}")
        cs = re.search(r"^x-cache-status:\s*(\S+)", out, re.I | re.M)
        key = cs.group(1).upper() if cs else "-"
        cache_status[key] = cache_status.get(key, 0) + 1
    return {"wall_s": wall, "aggregate_Bps": n * size / wall, "x_cache_status": cache_status}


def backend_hits(digest: str) -> dict:
    """GETs of this digest in each registry's access log, and nginx's view ($upstream_addr)."""
    pat = re.compile(r'"GET /v2/\S+/blobs/' + re.escape(digest) + r" HTTP")
    hits = {}
    for host in (B1, B2):
        hits[host] = sum(1 for line in LAB.registry_log(host).splitlines() if pat.search(line))
    log_text = dexec(PROXY, "cat", "/var/log/nginx/access.log", timeout=60).stdout
    upstream, total = 0, 0
    for line in log_text.splitlines():
        if digest in line and '"GET ' in line:
            total += 1
            m = re.search(r'"([^"]*)" \S+ \S+$', line)
            if m and m.group(1) not in ("-", ""):
                upstream += 1
    return {"registry_access_log": hits, "registry_total": sum(hits.values()),
            "nginx_requests": total, "nginx_upstream": upstream}


# ---------------------------------------------------------------------------------------------
# Measurement


def measure(args, ep: Endpoints, blob: Path, digest: str, rng: random.Random) -> dict:
    size = blob.stat().st_size
    blob_url = f"{ep.proxy}/v2/bench/blob/blobs/{digest}"
    direct_url = f"{ep.direct}/v2/bench/blob/blobs/{digest}"
    static_url = f"{ep.proxy}/bench/static-blob"

    meter = _lab.CpuMeter(LAB)
    cpu = {}  # (config, measurement) -> [per-round {component: CPU seconds per GiB moved}]

    def get(url):
        return sum(curl_get(ep, url, size) for _ in range(args.gets)) / args.gets

    # config -> [(measurement name, callable)]
    plan = {
        "tuned": [("get_proxy", lambda: get(blob_url)), ("get_direct", lambda: get(direct_url)),
                  ("get_static", lambda: get(static_url)),
                  ("push_proxy", lambda: push_blob(ep, ep.proxy, "bench/push", blob, digest)),
                  ("push_direct", lambda: push_blob(ep, ep.direct, "bench/push", blob, digest))],
        "proxy_buffer_4k": [("get_proxy", lambda: get(blob_url))],
        "proxy_buffer_256k": [("get_proxy", lambda: get(blob_url))],
        "ssl_buffer_4k": [("get_proxy", lambda: get(blob_url)), ("get_static", lambda: get(static_url))],
        "proxy_buffering_on": [("get_proxy", lambda: get(blob_url))],
        "request_buffering_on": [("push_proxy", lambda: push_blob(ep, ep.proxy, "bench/push", blob, digest))],
        "blob_cache": [],
    }
    samples = {}   # (config, measurement) -> [per-round bytes/s]
    bursts = []    # per round: {"no_cache": {...}, "cache_cold": {...}, "cache_warm": {...}}
    burst_size = args.burst_mib * MiB
    for rnd in range(args.rounds):
        LAB.storage_gc()
        t_round = time.monotonic()
        this_burst = {}
        for config in _common.shuffled(list(plan), rng):
            LAB.use_variant(config)
            items = _common.shuffled(plan[config], rng)
            if config in ("tuned", "blob_cache"):
                items.append(("burst", None))
                items = _common.shuffled(items, rng)
            for name, fn in items:
                if name == "burst":
                    # A fresh blob per burst: cold for the cache, and its digest counts only this burst.
                    path = STATE / "burst.bin"
                    path.unlink(missing_ok=True)
                    path.with_suffix(".sha256").unlink(missing_ok=True)
                    bdigest = make_blob(path, burst_size)
                    push_blob(ep, ep.direct, "bench/burst", path, bdigest)
                    url = f"{ep.proxy}/v2/bench/burst/blobs/{bdigest}"
                    cold = burst(ep, url, args.burst, burst_size)
                    cold.update(backend_hits(bdigest))
                    if config == "blob_cache":
                        warm = burst(ep, url, args.burst, burst_size)
                        hits = backend_hits(bdigest)
                        warm.update({k: v for k, v in hits.items()})
                        warm["registry_total"] = hits["registry_total"] - cold["registry_total"]
                        warm["nginx_upstream"] = hits["nginx_upstream"] - cold["nginx_upstream"]
                        this_burst["cache_cold"], this_burst["cache_warm"] = cold, warm
                    else:
                        this_burst["no_cache"] = cold
                    continue
                before = meter.snapshot()
                samples.setdefault((config, name), []).append(fn())
                moved = size * (args.gets if name.startswith("get") else 1) / (1 << 30)
                cpu.setdefault((config, name), []).append(
                    {k: v / moved for k, v in meter.delta(before, meter.snapshot()).items()})
        bursts.append(this_burst)
        log(f"round {rnd + 1}/{args.rounds} in {time.monotonic() - t_round:.0f}s: "
            + ", ".join(f"{c}/{m} {v[-1] / MiB:.0f} MiB/s" for (c, m), v in sorted(samples.items()))
            + "; bursts " + ", ".join(f"{k} {v['aggregate_Bps'] / MiB:.0f} MiB/s, backend GETs {v['registry_total']}"
                                      for k, v in this_burst.items()))
    LAB.use_variant("tuned")
    return {"samples": {f"{c}/{m}": v for (c, m), v in samples.items()}, "bursts": bursts, "blob_bytes": size,
            "cpu_s_per_gib": {f"{c}/{m}": v for (c, m), v in cpu.items()},
            "burst_bytes": burst_size}


def ratios(num: list, den: list) -> list:
    return [a / b for a, b in zip(num, den)]


def verdict(ratio_list: list) -> str:
    """How a variant compares with the tuned default (ratio variant/tuned per round).

    A default is replaced only when the variant wins clearly: median > 1.05 AND in at least 80% of
    the rounds.
    """
    med = _common.median(ratio_list)
    n = len(ratio_list)
    wins = sum(1 for r in ratio_list if r > 1.0)
    tally = f"variant ahead in {wins}/{n} rounds"
    if med > 1.05 and wins >= 0.8 * n:
        return f"VARIANT wins ({tally})"
    if med < 0.95 and (n - wins) >= 0.8 * n:
        return f"default wins ({tally})"
    return f"no clear difference ({tally})"


def report(data: dict) -> dict:
    s = {k: v for k, v in data["samples"].items()}
    mib = lambda v: _common.fmt(_common.median(v) / MiB)  # noqa: E731
    sp = lambda v: _common.spread([x / MiB for x in v])  # noqa: E731
    ceiling = s["tuned/get_static"]
    tuned_proxy = s["tuned/get_proxy"]
    rows = []
    out = {"get": {}, "push": {}, "tuning": {}, "burst": {}}
    for key, label in [("tuned/get_static", "static file over TLS (ceiling)"),
                       ("tuned/get_proxy", "proxy, role defaults"),
                       ("tuned/get_direct", "direct from one backend (mutual TLS, as nginx)"),
                       ("proxy_buffer_4k/get_proxy", "proxy, proxy_buffer_size 4k"),
                       ("proxy_buffer_256k/get_proxy", "proxy, proxy_buffer_size 256k"),
                       ("proxy_buffering_on/get_proxy", "proxy, proxy_buffering on"),
                       ("ssl_buffer_4k/get_proxy", "proxy, ssl_buffer_size 4k"),
                       ("ssl_buffer_4k/get_static", "static over TLS, ssl_buffer_size 4k")]:
        v = s[key]
        r_ceiling = ratios(v, ceiling)
        r_tuned = ratios(v, tuned_proxy)
        out["get"][key] = {"Bps": v, "ratio_to_ceiling": r_ceiling, "ratio_to_tuned_proxy": r_tuned}
        rows.append([label, mib(v), sp(v), f"{_common.median(r_ceiling):.2f}x", _common.spread(r_ceiling),
                     f"{_common.median(r_tuned):.2f}x", _common.spread(r_tuned)])
    print(f"\n(a) GET of one {data['blob_bytes'] // MiB} MiB blob from the controller, "
          f"{data['rounds']} rounds (median, min..max)")
    print(_common.table(["path", "MiB/s", "spread", "x ceiling", "spread", "x tuned proxy", "spread"], rows))

    rows = []
    direct = s["tuned/push_direct"]
    for key, label in [("tuned/push_direct", "direct to one backend (mutual TLS)"),
                       ("tuned/push_proxy", "proxy, proxy_request_buffering off (default)"),
                       ("request_buffering_on/push_proxy", "proxy, proxy_request_buffering on")]:
        v = s[key]
        r = ratios(v, direct)
        out["push"][key] = {"Bps": v, "ratio_to_direct": r}
        rows.append([label, mib(v), sp(v), f"{_common.median(r):.2f}x", _common.spread(r)])
    print(f"\n(c) push (POST + PATCH + PUT) of one {data['blob_bytes'] // MiB} MiB blob")
    print(_common.table(["path", "MiB/s", "spread", "x direct", "spread"], rows))

    rows = []
    for key, tuned_key, label in [
            ("proxy_buffer_4k/get_proxy", "tuned/get_proxy", "proxy_buffer_size 64k vs 4k (buffering off), GET"),
            ("proxy_buffer_256k/get_proxy", "tuned/get_proxy", "proxy_buffer_size 64k vs 256k (buffering off), GET"),
            ("proxy_buffering_on/get_proxy", "tuned/get_proxy", "proxy_buffering off vs on, GET"),
            ("ssl_buffer_4k/get_proxy", "tuned/get_proxy", "ssl_buffer_size 16k vs 4k, GET via proxy"),
            ("ssl_buffer_4k/get_static", "tuned/get_static", "ssl_buffer_size 16k vs 4k, static GET"),
            ("request_buffering_on/push_proxy", "tuned/push_proxy", "proxy_request_buffering off vs on, push")]:
        r = ratios(s[key], s[tuned_key])
        out["tuning"][key] = {"variant_over_default": r, "verdict": verdict(r)}
        rows.append([label, f"{_common.median(r):.2f}x", _common.spread(r), verdict(r)])
    print("\nTuning checks: variant / role default, same round")
    print(_common.table(["setting (default vs variant)", "variant/default", "spread", "verdict"], rows))

    rows = []
    comps = ["proxy (nginx)", "backends (registry)", "s3 (Ceph RGW)", "client (curl)"]
    for key, label in [("tuned/get_static", "GET static over TLS (ceiling)"), ("tuned/get_proxy", "GET proxy"),
                       ("tuned/get_direct", "GET direct (mutual TLS)"), ("tuned/push_proxy", "push proxy"),
                       ("tuned/push_direct", "push direct")]:
        per = data["cpu_s_per_gib"].get(key, [])
        if not per:
            continue
        meds = {c: _common.median([p.get(c) for p in per]) for c in comps}
        total = _common.median([sum(p.get(c, 0) for c in comps) for p in per])
        out.setdefault("cpu_s_per_gib", {})[key] = {**meds, "total": total}
        rows.append([label] + [_common.fmt(meds[c], 2) for c in comps] + [_common.fmt(total, 2)])
    print("\nCPU seconds per GiB moved (median over rounds; processes of each lab container, nested "
          "registry containers included, + the client's curl)")
    print(_common.table(["path"] + comps + ["total"], rows))

    rows = []
    for mode, label in [("no_cache", "no cache (role default)"), ("cache_cold", "blob cache, cold"),
                        ("cache_warm", "blob cache, warm")]:
        per = [b[mode] for b in data["bursts"] if mode in b]
        if not per:
            continue
        agg = [p["aggregate_Bps"] for p in per]
        base = [b["no_cache"]["aggregate_Bps"] for b in data["bursts"] if mode in b and "no_cache" in b]
        r = ratios(agg, base)
        reg = [p["registry_total"] for p in per]
        ups = [p["nginx_upstream"] for p in per]
        out["burst"][mode] = {"aggregate_Bps": agg, "ratio_to_no_cache": r, "backend_gets": reg,
                              "nginx_upstream": ups, "x_cache_status": [p["x_cache_status"] for p in per]}
        rows.append([label, mib(agg), sp(agg), f"{_common.median(r):.2f}x", _common.spread(r),
                     ",".join(map(str, reg)), ",".join(map(str, ups))])
    print(f"\n(b) {data['burst']} concurrent GETs of one {data['burst_bytes'] // MiB} MiB blob through the proxy "
          "(aggregate; backend GETs per round from the registries' access logs / nginx $upstream_addr)")
    print(_common.table(["mode", "MiB/s", "spread", "x no cache", "spread", "backend GETs", "nginx upstream"], rows))
    goal_a = _common.median(ratios(tuned_proxy, ceiling))
    cold = out["burst"].get("cache_cold", {}).get("backend_gets", [])
    print(f"\nGoal: proxy >= 0.9x the static-TLS ceiling: {goal_a:.2f}x -> {'MET' if goal_a >= 0.9 else 'NOT MET'}")
    print(f"Goal: cold burst of {data['burst']} with the cache hits the backends once: backend GETs per round "
          f"{cold} -> {'MET' if cold and all(c == 1 for c in cold) else 'NOT MET'}")
    return out


def setup() -> None:
    LAB.up()
    LAB.deploy()
    for name, role_vars in VARIANTS.items():
        LAB.render_variant(name, role_vars)


def run_rounds(args, seed: int, rng: random.Random, t0: float) -> dict:
    """The blobs in place, then every round (measure()); the results file's data without the summary."""
    ep = Endpoints(LAB)
    nginx_v = LAB.nginx_version()
    blob = STATE / f"blob-{args.blob_mib}M.bin"
    digest = make_blob(blob, args.blob_mib * MiB)
    dexec(PROXY, "mkdir", "-p", os.path.dirname(STATIC_PATH))
    run(["docker", "cp", str(blob), f"{PROXY}:{STATIC_PATH}"])
    dexec(PROXY, "chmod", "0644", STATIC_PATH)
    dexec(PROXY, "chmod", "0755", os.path.dirname(STATIC_PATH))
    LAB.use_variant("tuned")
    push_blob(ep, ep.direct, "bench/blob", blob, digest)
    log(f"{nginx_v}; proxy {ep.proxy_ip}, backends {ep.b1} {ep.b2}; blob {digest[:19]}...; seed {seed}")
    data = measure(args, ep, blob, digest, rng)
    data.update({"rounds": args.rounds, "burst": args.burst, "gets_per_sample": args.gets, "seed": seed,
                 "nginx": nginx_v, "machine": _common.machine_facts(),
                 "variants": VARIANTS, "duration_s": time.monotonic() - t0})
    return data


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--gets", type=int, default=2, help="GETs of the big blob per sample (averaged)")
    ap.add_argument("--blob-mib", type=int, default=256)
    ap.add_argument("--burst", type=int, default=32, help="concurrent GETs in a burst")
    ap.add_argument("--burst-mib", type=int, default=64, help="size of the burst blob")
    return _common.lab_benchmark(ap, argv, name="proxy_throughput", hosts_help="hosts bench-*", hosts=LAB.hosts,
                                 down=LAB.down, setup=setup, measure=run_rounds, report=report)


if __name__ == "__main__":
    sys.exit(main())
