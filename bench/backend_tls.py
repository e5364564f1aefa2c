#!/usr/bin/env python3
"""What mutual TLS between nginx and the registry backends costs, as ratios (issue 10).

One lab (bench/_lab.py, hosts btls-proxy, btls-b1, btls-b2, btls-s3; inventory
bench/lab/inventory/btls.yml) carries both variants side by side:

* mTLS (the default, ``dockyard_backend_tls: true``): the deployed registry container on each
  backend, port 5000, ``http.tls`` with ``clientcas``; nginx as the role renders it by default
  (``proxy_pass https://``, client certificate, ``proxy_ssl_verify``, session reuse, keepalive 32).
* plain: a twin registry container on each backend (``registry-plain``), rendered by the registry
  role itself with ``registry_tls: false`` on port 5002 (same image, storage, bucket, http.secret,
  config minus ``http.tls``: checked below); nginx rendered by the nginx role with
  ``nginx_backend_tls: false`` and ``nginx_backends`` pointing at the twins.

Before measuring it checks that each variant goes where it claims: the mTLS port refuses a client
without a certificate (and plain HTTP), accepts the proxy's certificate; the twin answers plain
HTTP; tagged probe requests through each nginx variant show up in the expected container's access
log only and in nginx's ``$upstream_addr`` with the expected port; the twin's config equals the
deployed one minus ``http.tls``; the rendered nginx variants differ only in the backend hop lines.

Measured from the controller, every variant once per round in a shuffled order, several rounds:

(a) pull of one 256 MiB blob through the proxy (registry redirects disabled: every byte crosses nginx
    and the backend hop), mTLS vs plain;
(b) authenticated small requests through the proxy with ``wrk`` (keep-alive connections and a Basic
    header, like a docker client): ``GET /v2/`` (no storage access: the hop's cost is visible) and
    ``GET`` of a manifest by tag (what a pull does first; bound by the registry's round trips to
    S3). The bench user's password is hashed with apr1 (bench/lab/inventory/btls.yml) so the
    password check (~0.3 ms, vs ~5 ms for the default sha512_crypt) does not hide the hop.
    (wrk cannot send HEAD: it waits for the body a HEAD answer does not have; docker's manifest
    HEAD and GET cost the registry the same storage round trips.)
(c) new-connection cost: ``GET /v2/`` with ``nginx_upstream_keepalive: 0`` (a TCP and, with mTLS, a
    TLS handshake to the backend per request), mTLS vs plain, and mTLS without
    ``proxy_ssl_session_reuse`` (a full handshake per request; an edited copy of the role's
    rendering: the role keeps session reuse always on).

Plus CPU time per GiB / per request of nginx, the registries, Ceph RGW and the client (bench/_lab.py
CpuMeter). Ratios are taken within a round; median and spread (min..max) over the rounds. The lab is
removed at the end, also on failure (``--keep`` keeps it, ``--reuse`` measures on a kept lab).

Usage: .venv/bin/python bench/backend_tls.py [--rounds 7] [--duration 5] [--keep] [--reuse]
"""

from __future__ import annotations

import argparse
import base64
import difflib
import hashlib
import json
import random
import re
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
import _lab  # noqa: E402
from _lab import BACKEND_TLS_NAME, MiB, NAME, PASSWORD, USER, Endpoints, curl_get, dexec, log, run  # noqa: E402

LAB = _lab.BenchLab("btls")
REPO_NAME = "bench/tls"
TAG = "v1"
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
MTLS_PORT, PLAIN_PORT, PLAIN_DEBUG_PORT = 5000, 5002, 5003
# The plain-HTTP twin, rendered by the registry role (extra vars for playbooks/registry.yml).
TWIN = {"registry_container_name": "registry-plain", "registry_config_dir": "/etc/dockyard/registry-plain",
        "registry_port": PLAIN_PORT, "registry_debug_port": PLAIN_DEBUG_PORT, "registry_tls": False}


def variants(lab_ips: list) -> dict:
    """name -> nginx role variables; "mtls" is the role's default rendering."""
    twins = [{"name": host, "address": ip, "port": PLAIN_PORT} for host, ip in zip(LAB.backends, lab_ips)]
    plain = {"nginx_backend_tls": False, "nginx_backends": twins}
    return {"mtls": {}, "plain": plain,
            "mtls_noka": {"nginx_upstream_keepalive": 0},
            "plain_noka": {**plain, "nginx_upstream_keepalive": 0}}


# Derived by editing a rendered variant (not a role setting): name -> (source, old line, new line).
EDITED = {"mtls_noka_noreuse": ("mtls_noka", "proxy_ssl_session_reuse on;", "proxy_ssl_session_reuse off;")}
CONFIGS = ["mtls", "plain", "mtls_noka", "plain_noka", "mtls_noka_noreuse"]
EXPECT = {  # config -> (registry container, backend port)
    "mtls": ("registry", MTLS_PORT), "mtls_noka": ("registry", MTLS_PORT), "mtls_noka_noreuse": ("registry", MTLS_PORT),
    "plain": ("registry-plain", PLAIN_PORT), "plain_noka": ("registry-plain", PLAIN_PORT)}
# config -> measurements per round
PLAN = {"mtls": ["pull", "v2", "manifest"], "plain": ["pull", "v2", "manifest"],
        "mtls_noka": ["v2"], "plain_noka": ["v2"], "mtls_noka_noreuse": ["v2"]}


# ---------------------------------------------------------------------------------------------
# Setup


def setup() -> None:
    LAB.up()
    lab_ips = [LAB.address(h) for h in LAB.backends]
    LAB.deploy()
    LAB.playbook(_lab.REPO / "playbooks" / "registry.yml", TWIN, "registry-twin")
    for name, role_vars in variants(lab_ips).items():
        LAB.render_variant(name, role_vars)
    for name, (src, old, new) in EDITED.items():
        d = f"{_lab.CONF_DIR}/bench-variants"
        dexec(LAB.proxy, "sh", "-c", f"sed 's/{old}/{new}/' {d}/{src}.conf > {d}/{name}.conf")


def push_image(ep: Endpoints, blob: Path, digest: str) -> dict:
    """Config blob + the big blob as its layer + a schema2 manifest tagged TAG, through the proxy."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [digest]}}).encode()
    cpath = LAB.state / "config.json"
    cpath.write_bytes(config)
    cdigest = "sha256:" + hashlib.sha256(config).hexdigest()
    _lab.push_blob(ep, ep.proxy, REPO_NAME, cpath, cdigest)
    _lab.push_blob(ep, ep.proxy, REPO_NAME, blob, digest)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_TYPE,
                           "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                      "size": len(config), "digest": cdigest},
                           "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                                       "size": blob.stat().st_size, "digest": digest}]})
    mpath = LAB.state / "manifest.json"
    mpath.write_text(manifest)
    url = f"{ep.proxy}/v2/{REPO_NAME}/manifests/{TAG}"
    status, _h = _lab.headers(ep, "PUT", url, ["-H", f"Content-Type: {MANIFEST_TYPE}", "--data-binary", f"@{mpath}"])
    if status != 201:
        raise SystemExit(f"[bench] PUT manifest: HTTP {status}")
    return {"config": cdigest, "manifest_bytes": len(manifest)}


# ---------------------------------------------------------------------------------------------
# Checks: each variant goes where it claims


def _curl_code(*args) -> tuple:
    res = run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20", *args], check=False)
    return res.returncode, res.stdout.strip()


def check_backends(ep: Endpoints) -> dict:
    """Per backend: the mTLS port refuses no-certificate clients and plain HTTP and accepts the proxy's
    certificate; the twin answers plain HTTP (and is not TLS)."""
    out = {}
    for host, ip in zip(LAB.backends, (ep.b1, ep.b2)):
        tls_url = f"https://{BACKEND_TLS_NAME}:{MTLS_PORT}/v2/"
        resolve = ["--resolve", f"{BACKEND_TLS_NAME}:{MTLS_PORT}:{ip}", "--cacert", str(ep.ca)]
        got = {
            "mtls_no_cert": _curl_code(*resolve, tls_url),
            "mtls_proxy_cert": _curl_code(*resolve, "--cert", str(ep.client_cert), "--key", str(ep.client_key), tls_url),
            "mtls_port_plain_http": _curl_code(f"http://{ip}:{MTLS_PORT}/v2/"),
            "twin_plain_http": _curl_code(f"http://{ip}:{PLAIN_PORT}/v2/"),
            "twin_tls": _curl_code("-k", f"https://{ip}:{PLAIN_PORT}/v2/"),
        }
        ok = (got["mtls_no_cert"][0] != 0 and got["mtls_no_cert"][1] == "000"
              and got["mtls_proxy_cert"] == (0, "200")
              and got["mtls_port_plain_http"] == (0, "400")
              and got["twin_plain_http"] == (0, "200")
              and got["twin_tls"][0] != 0)
        if not ok:
            raise SystemExit(f"[bench] {host}: backend ports do not behave as the variants claim "
                             f"((curl rc, HTTP code) per check): {got}")
        out[host] = {k: list(v) for k, v in got.items()}
    log("backends: mTLS port refuses no certificate (handshake) and plain HTTP (400), accepts the proxy's "
        "certificate (200); twin answers plain HTTP (200)")
    return out


def check_twin_config() -> dict:
    """The twin's config.yml equals the deployed one minus http.tls (values never printed)."""
    import yaml  # pylint: disable=import-outside-toplevel

    for host in LAB.backends:
        main = yaml.safe_load(dexec(host, "cat", "/etc/dockyard/registry/config.yml").stdout)
        twin = yaml.safe_load(dexec(host, "cat", f"{TWIN['registry_config_dir']}/config.yml").stdout)
        if "tls" not in main.get("http", {}) or "tls" in twin.get("http", {}):
            raise SystemExit(f"[bench] {host}: expected http.tls in the deployed config only")
        main["http"].pop("tls")
        if main != twin:
            keys = sorted(k for k in set(main) | set(twin) if main.get(k) != twin.get(k))
            raise SystemExit(f"[bench] {host}: the twin's config differs beyond http.tls (top-level keys {keys})")
    log("twin registries: config.yml identical to the deployed one minus http.tls")
    return {"identical_minus_http_tls": True}


_ALLOWED = re.compile(r"^\s*(#.*|proxy_ssl_\w+ .*;|proxy_pass https?://\S+;|server \S+:\d+\b[^;]*;.*|keepalive(_timeout)? .*;|)$")


def check_conf_diffs() -> dict:
    """The rendered variants differ from "mtls" only in the backend hop's lines."""
    base = LAB.variant_conf("mtls").splitlines()
    diffs = {}
    for name in CONFIGS[1:]:
        changed = [line for line in difflib.unified_diff(base, LAB.variant_conf(name).splitlines(), lineterm="", n=0)
                   if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        bad = [line for line in changed if not _ALLOWED.match(line[1:])]
        if bad or not changed:
            raise SystemExit(f"[bench] variant {name} differs from mtls in unexpected lines: {bad or 'none at all'}")
        diffs[name] = changed
    log("nginx variants differ from the default only in: "
        + "; ".join(f"{n}: {len(d)} lines" for n, d in diffs.items()))
    return diffs


def check_routing(ep: Endpoints, auth: str) -> dict:
    """Tagged GET /v2/?<tag> through each nginx variant: counted in each backend container's access log
    and in nginx's $upstream_addr; every probe must reach the expected container and port only."""
    out = {}
    for config in CONFIGS:
        LAB.use_variant(config)
        conf = dexec(LAB.proxy, "cat", f"{_lab.CONF_DIR}/nginx.conf").stdout
        want_tls = config.startswith("mtls")
        if ("proxy_pass https://" in conf) != want_tls or ("proxy_ssl_certificate " in conf) != want_tls:
            raise SystemExit(f"[bench] live nginx.conf of {config}: backend TLS directives are not as expected")
        if ("keepalive 32;" in conf) == config.endswith(("noka", "noreuse")):
            raise SystemExit(f"[bench] live nginx.conf of {config}: upstream keepalive is not as expected")
        if config == "mtls_noka_noreuse" and "proxy_ssl_session_reuse off;" not in conf:
            raise SystemExit("[bench] mtls_noka_noreuse: session reuse is not off")
        tag = f"btls-probe-{config}-{uuid.uuid4().hex[:12]}"
        n = 6
        for _ in range(n):
            code = run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", str(ep.ca), "--resolve",
                        f"{NAME}:443:{ep.proxy_ip}", "-H", auth, f"{ep.proxy}/v2/?{tag}"]).stdout
            if code != "200":
                raise SystemExit(f"[bench] probe through {config}: HTTP {code}")
        access = f'"GET /v2/?{tag} HTTP'  # the access log line (not the app log's "response completed")
        seen = {f"{h}/{c}": sum(access in line for line in LAB.registry_log(h, c).splitlines())
                for h in LAB.backends for c in ("registry", "registry-plain")}
        want_container, want_port = EXPECT[config]
        hits = sum(v for k, v in seen.items() if k.endswith("/" + want_container))
        if hits != n or sum(seen.values()) != n:
            raise SystemExit(f"[bench] {config}: {n} probes should reach {want_container} only; access logs: {seen}")
        ups = [m.group(1) for line in dexec(LAB.proxy, "cat", "/var/log/nginx/access.log").stdout.splitlines()
               if tag in line for m in [re.search(r'"([^"]*)" \S+ \S+$', line)] if m]
        if len(ups) != n or any(not u.endswith(f":{want_port}") for u in ups):
            raise SystemExit(f"[bench] {config}: nginx $upstream_addr of the probes {ups}, expected port {want_port}")
        out[config] = {"registry_access_logs": seen, "nginx_upstream_addr": ups}
    log("routing: every probe reached the expected container and port ("
        + ", ".join(f"{c} -> {EXPECT[c][0]}:{EXPECT[c][1]}" for c in CONFIGS) + ")")
    return out


# ---------------------------------------------------------------------------------------------
# Measurement


def measure(args, ep: Endpoints, blob: Path, digest: str, auth: str, rng: random.Random) -> dict:
    size = blob.stat().st_size
    blob_url = f"{ep.proxy}/v2/{REPO_NAME}/blobs/{digest}"
    base = f"https://{ep.proxy_ip}"
    hdrs = (auth, f"Host: {NAME}", f"Accept: {MANIFEST_TYPE}")
    urls = {"v2": f"{base}/v2/", "manifest": f"{base}/v2/{REPO_NAME}/manifests/{TAG}"}
    meter = _lab.CpuMeter(LAB)

    def load(what: str, duration: int) -> dict:
        return _common.wrk(urls[what], hdrs, duration=duration, connections=args.connections, threads=args.threads)

    samples, cpu, counts = {}, {}, {}
    for rnd in range(args.rounds):
        LAB.storage_gc()
        t_round = time.monotonic()
        for config in _common.shuffled(CONFIGS, rng):
            LAB.use_variant(config)
            load("v2", 1)  # warm-up after the restart (not recorded)
            for what in _common.shuffled(PLAN[config], rng):
                key = f"{config}/{what}"
                before = meter.snapshot()
                if what == "pull":
                    value = sum(curl_get(ep, blob_url, size) for _ in range(args.gets)) / args.gets
                    units, client = size * args.gets / (1 << 30), "client (curl)"
                else:
                    res = load(what, args.duration)
                    value, units, client = res["rps"], res["requests"], "client (wrk)"
                    counts.setdefault(key, []).append(res["requests"])
                samples.setdefault(key, []).append(value)
                cpu.setdefault(key, []).append(
                    {k: v / units for k, v in meter.delta(before, meter.snapshot(), client).items()})
        log(f"round {rnd + 1}/{args.rounds} in {time.monotonic() - t_round:.0f}s: "
            + ", ".join(f"{k} {v[-1] / MiB:.0f} MiB/s" if k.endswith("pull") else f"{k} {v[-1]:,.0f}/s"
                        for k, v in sorted(samples.items())))
    LAB.use_variant("mtls")
    return {"samples": samples, "cpu": cpu, "requests": counts, "blob_bytes": size}


def ratios(num: list, den: list) -> list:
    return [a / b for a, b in zip(num, den)]


COMPARISONS = [  # (key, numerator, denominator, label)
    ("pull", "mtls/pull", "plain/pull", "(a) blob pull through the proxy: mTLS / plain"),
    ("v2", "mtls/v2", "plain/v2", "(b) GET /v2/ (auth, keep-alive): mTLS / plain"),
    ("manifest", "mtls/manifest", "plain/manifest", "(b) GET manifest by tag (auth, keep-alive): mTLS / plain"),
    ("noka", "mtls_noka/v2", "plain_noka/v2", "(c) GET /v2/, no upstream keepalive: mTLS / plain"),
    ("ka_mtls", "mtls_noka/v2", "mtls/v2", "(c) mTLS: no upstream keepalive / keepalive"),
    ("ka_plain", "plain_noka/v2", "plain/v2", "(c) plain: no upstream keepalive / keepalive"),
    ("noreuse", "mtls_noka_noreuse/v2", "mtls_noka/v2", "(c) mTLS, no keepalive: no session reuse / reuse"),
]


def report(data: dict) -> dict:
    s = data["samples"]
    out = {"ratios": {}, "values": {}, "cpu": {}}
    rows = []
    for key, num, den, label in COMPARISONS:
        r = ratios(s[num], s[den])
        wins = sum(1 for x in r if x >= 1.0)
        out["ratios"][key] = {"label": label, "numerator": num, "denominator": den, "per_round": r,
                              "median": _common.median(r), "min": min(r), "max": max(r), "numerator_ahead": wins}
        rows.append([label, f"{_common.median(r):.3f}", _common.spread(r), f"{wins}/{len(r)}"])
    print(f"\nRatios, same round, {data['rounds']} rounds (median, min..max; rounds where the numerator was ahead)")
    print(_common.table(["comparison", "median", "spread", "ahead"], rows))

    rows = []
    for key in sorted(s):
        v = s[key]
        pull = key.endswith("pull")
        vals = [x / MiB for x in v] if pull else v
        out["values"][key] = {"median": _common.median(vals), "min": min(vals), "max": max(vals),
                              "unit": "MiB/s" if pull else "requests/s"}
        rows.append([key, _common.fmt(_common.median(vals)), _common.spread(vals), "MiB/s" if pull else "req/s"])
    print("\nAbsolute values (context only: the machine is shared)")
    print(_common.table(["config/measurement", "median", "spread", "unit"], rows))

    comps = ["proxy (nginx)", "backends (registry)", "s3 (Ceph RGW)"]
    rows = []
    for key in sorted(data["cpu"]):
        per = data["cpu"][key]
        pull = key.endswith("pull")
        client = "client (curl)" if pull else "client (wrk)"
        scale = 1 if pull else 1e6
        meds = {c: _common.median([p.get(c, 0) * scale for p in per]) for c in comps + [client]}
        total = _common.median([sum(p.get(c, 0) for c in comps + [client]) * scale for p in per])
        out["cpu"][key] = {**meds, "client": meds[client], "total": total,
                           "unit": "CPU s per GiB" if pull else "CPU us per request"}
        rows.append([key, "s/GiB" if pull else "us/req"] + [_common.fmt(meds[c], 3) for c in comps]
                    + [_common.fmt(meds[client], 3), _common.fmt(total, 3)])
    print("\nCPU per GiB pulled (s) or per request (us), median over rounds")
    print(_common.table(["config/measurement", "unit", *comps, "client", "total"], rows))
    return out


def run_rounds(args, seed: int, rng: random.Random, t0: float) -> dict:
    """The image and the checks, then every round (measure()); the results file's data without the summary."""
    t_setup = time.monotonic() - t0
    ep = Endpoints(LAB)
    auth = "Authorization: Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    blob = LAB.state / f"blob-{args.blob_mib}M.bin"
    digest = _lab.make_blob(blob, args.blob_mib * MiB)
    LAB.use_variant("mtls")
    image = push_image(ep, blob, digest)
    checks = {"backends": check_backends(ep), "twin_config": check_twin_config(),
              "nginx_conf_diff": check_conf_diffs(), "routing": check_routing(ep, auth)}
    hashline = dexec(LAB.proxy, "sh", "-c", f"grep -c '^{USER}:\\$apr1\\$' {_lab.CONF_DIR}/.htpasswd").stdout.strip()
    if hashline != "1":
        raise SystemExit("[bench] the bench user's htpasswd entry is not apr1 (bench/lab/inventory/btls.yml)")
    log(f"{LAB.nginx_version()}; proxy {ep.proxy_ip}, backends {ep.b1} {ep.b2}; blob {digest[:19]}...; "
        f"{args.rounds} rounds; wrk -c{args.connections} -t{args.threads} -d{args.duration}s; seed {seed}")
    t_measure = time.monotonic()
    data = measure(args, ep, blob, digest, auth, rng)
    data.update({"rounds": args.rounds, "seed": seed, "nginx": LAB.nginx_version(), "machine": _common.machine_facts(),
                 "wrk": {"connections": args.connections, "threads": args.threads, "duration_s": args.duration},
                 "gets_per_sample": args.gets, "image": image, "checks": checks, "configs": CONFIGS,
                 "variants": variants(["<b1>", "<b2>"]), "edited_variants": EDITED, "twin": TWIN,
                 "htpasswd_scheme": "apr_md5_crypt", "setup_s": t_setup,
                 "measure_s": time.monotonic() - t_measure, "duration_s": time.monotonic() - t0})
    return data


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=4, help="wrk keep-alive connections")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--gets", type=int, default=2, help="pulls of the big blob per sample (averaged)")
    ap.add_argument("--blob-mib", type=int, default=256)
    return _common.lab_benchmark(ap, argv, name="backend_tls", hosts_help="btls-*", hosts=LAB.hosts, down=LAB.down,
                                 setup=setup, measure=run_rounds, report=report,
                                 note=lambda data: f"; setup {data['setup_s']:.0f}s, measurement {data['measure_s']:.0f}s")


if __name__ == "__main__":
    sys.exit(main())
