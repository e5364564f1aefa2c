#!/usr/bin/env python3
"""What basic auth costs nginx, per htpasswd scheme, as ratios to no auth (issue 3).

nginx checks the password on EVERY request, so the hash's work factor is paid per request, not per
login. This benchmark:

1. builds nginx from lab/.cache/nginx-<version>.tar.gz with the nginx role's default configure
   flags into .cache/bench/nginx-<version>/ (once; see bench/_common.py);
2. writes one htpasswd file per scheme with the collection's own pure module_utils
   (``ansible_collections.dockyard.registry.plugins.module_utils._htpasswd``), i.e. exactly the
   hashes the ``dockyard.registry.htpasswd`` module writes;
3. runs that nginx on 127.0.0.1 with ONE worker serving a small static file, one location per
   scheme (``auth_basic`` + that file) and one without auth; checks that the right password gets
   200 and a wrong one 401 everywhere;
4. loads each location with ``wrk -c4 -t2 -d<N>s`` and a Basic header, in a shuffled order per
   round, for several rounds, and prints per scheme: req/s (median, spread), the ratio to no auth
   measured in the same round (median, spread), the CPU time one verification costs, and what that
   means for pulls (a 10-layer pull is ~15 authenticated requests).

Usage: .venv/bin/python bench/htpasswd_auth.py [--rounds 7] [--duration 5] [--json FILE]
Sends traffic only to 127.0.0.1; every wrk run is bounded by --duration.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import ctypes.util
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

_common.collection_import_path()
from ansible_collections.dockyard.registry.plugins.module_utils import _htpasswd  # noqa: E402

#: A 10-layer image pull: token-less /v2/ check, manifest (HEAD + GET), config blob, 10 layers, plus
#: a couple of retries/HEADs: ~15 authenticated requests (docs/performance.md).
REQUESTS_PER_PULL = 15

# (name, scheme, bcrypt_cost, rounds)
VARIANTS = [
    ("none", None, None, None),
    ("apr_md5_crypt", _htpasswd.APR_MD5_CRYPT, None, None),
    ("sha256_crypt-1000", _htpasswd.SHA256_CRYPT, None, 1000),
    ("sha256_crypt-5000", _htpasswd.SHA256_CRYPT, None, 5000),
    ("sha512_crypt-1000", _htpasswd.SHA512_CRYPT, None, 1000),
    ("sha512_crypt-5000", _htpasswd.SHA512_CRYPT, None, 5000),
    ("bcrypt-5", _htpasswd.BCRYPT, 5, None),
    ("bcrypt-6", _htpasswd.BCRYPT, 6, None),
    ("bcrypt-10", _htpasswd.BCRYPT, 10, None),
]

USER = "bench"
OTHER_USERS = ["ci", "deploy", "reader", "mirror"]  # a realistic small file; the bench user is last
SMALL_FILE = b'{"ok":true}\n'  # a small static body, like a registry's /v2/ answer

NGINX_CONF = """\
worker_processes 1;
daemon off;
master_process on;
{user}
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
events {{
    worker_connections 1024;
}}
http {{
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65s;
    # Measure the hash, not reconnects.
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        location /none/ {{
            alias {dir}/html/;
        }}
{locations}
    }}
}}
"""

LOCATION = """\
        location /auth/{name}/ {{
            auth_basic "bench";
            auth_basic_user_file {dir}/htpasswd.{name};
            alias {dir}/html/;
        }}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_htpasswd(path: Path, password: str, scheme: str, cost, rounds) -> str:
    lines = []
    for user in OTHER_USERS + [USER]:
        pw = password if user == USER else secrets.token_urlsafe(16)
        hashed = _htpasswd.hash_password(pw, scheme, bcrypt_cost=cost, rounds=rounds)
        lines.append(_htpasswd.parse(f"{user}:{hashed}\n")[0])
    path.write_text(_htpasswd.serialize(lines))
    path.chmod(0o644)
    return _htpasswd.identify(lines[-1].hashed).label


def status_of(url: str, user: str | None, password: str | None) -> int:
    req = urllib.request.Request(url)
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def crypt_times(variants, password: str, rounds: int, rng: random.Random, budget_s: float = 0.5) -> dict:
    """Seconds per crypt() call in libcrypt, the function nginx calls for every non-apr1 hash.

    This is also what one guess costs an attacker on this CPU. apr1 is skipped: nginx verifies
    $apr1$ with its own MD5 code, libcrypt does not know it.
    """
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
    except OSError:
        return {}
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    hashes = {n: _htpasswd.hash_password(password, s, bcrypt_cost=c, rounds=r)
              for n, s, c, r in variants if s not in (None, _htpasswd.APR_MD5_CRYPT)}
    times = {n: [] for n in hashes}
    for _ in range(rounds):
        for name in _common.shuffled(list(hashes), rng):
            setting, key = hashes[name].encode(), password.encode()
            n, t0 = 0, time.perf_counter()
            while True:
                out = lib.crypt(key, setting)
                n += 1
                elapsed = time.perf_counter() - t0
                if elapsed >= budget_s or (n >= 3 and elapsed >= budget_s / 5 and elapsed / n > 0.02):
                    break
            if out is None or out.decode() != hashes[name]:
                raise SystemExit(f"[bench] libcrypt does not verify the module's {name} hash")
            times[name].append(elapsed / n)
    return times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7, help="rounds; each runs every variant once, shuffled")
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--nginx-version", default="1.26.3")
    ap.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    ap.add_argument("--seed", type=int, default=None, help="shuffle seed (default: random, printed)")
    ap.add_argument("--json", type=Path, default=None,
                    help="write the results here (default bench/results/htpasswd_auth.json)")
    args = ap.parse_args(argv)
    if not shutil.which("wrk"):
        raise SystemExit("[bench] wrk is missing: apt-get install -y wrk")
    variants = [v for v in VARIANTS if not args.only or v[0] in args.only or v[0] == "none"]
    seed, rng = _common.seeded(args.seed)

    prefix = _common.build_nginx(args.nginx_version)
    binary = prefix / "sbin" / "nginx"
    version = _common.nginx_version_line(binary).replace("nginx version: ", "")
    _common.CACHE.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="htpasswd-auth-", dir=_common.CACHE))
    workdir.chmod(0o755)
    proc = None
    try:
        (workdir / "html").mkdir()
        (workdir / "html" / "small.json").write_bytes(SMALL_FILE)
        password = secrets.token_urlsafe(18)  # 24 characters, random: what a CI robot should have
        described = {}
        for name, scheme, cost, rounds in variants:
            if scheme is None:
                continue
            described[name] = write_htpasswd(workdir / f"htpasswd.{name}", password, scheme, cost, rounds)
        port = free_port()
        conf = NGINX_CONF.format(
            dir=workdir, port=port,
            user="user nobody nogroup;" if os.geteuid() == 0 else "",
            locations="".join(LOCATION.format(name=n, dir=workdir) for n, s, _c, _r in variants if s))
        (workdir / "nginx.conf").write_text(conf)
        subprocess.run([str(binary), "-t", "-p", str(workdir), "-c", str(workdir / "nginx.conf")],
                       check=True, capture_output=True)
        proc = subprocess.Popen([str(binary), "-p", str(workdir), "-c", str(workdir / "nginx.conf")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        urls = {n: f"{base}/none/small.json" if s is None else f"{base}/auth/{n}/small.json"
                for n, s, _c, _r in variants}
        # Correctness first: a benchmark of 401s would be meaningless.
        for name, scheme, _c, _r in variants:
            if scheme is None:
                assert status_of(urls[name], None, None) == 200, name
                continue
            got = (status_of(urls[name], USER, password), status_of(urls[name], USER, password + "x"),
                   status_of(urls[name], None, None))
            if got != (200, 401, 401):
                raise SystemExit(f"[bench] {name}: right/wrong/no password gave {got}, expected (200, 401, 401)")
        header = "Authorization: Basic " + base64.b64encode(f"{USER}:{password}".encode()).decode()
        _common.log(f"{version}; one worker on {base}; wrk -c{args.connections} -t{args.threads} "
                    f"-d{args.duration}s; {args.rounds} rounds x {len(variants)} variants; seed {seed}")
        _common.wrk(urls["none"], duration=1, connections=args.connections, threads=args.threads)  # warm-up
        runs = {n: [] for n, *_ in variants}
        ratios = {n: [] for n, *_ in variants}
        for rnd in range(args.rounds):
            order = _common.shuffled([v[0] for v in variants], rng)
            this = {}
            for name in order:
                auth = () if name == "none" else (header,)
                this[name] = _common.wrk(urls[name], auth, duration=args.duration, connections=args.connections,
                                         threads=args.threads)["rps"]
                runs[name].append(this[name])
            for name in this:
                ratios[name].append(this[name] / this["none"])
            _common.log(f"round {rnd + 1}/{args.rounds}: " + ", ".join(f"{n} {this[n]:,.1f}" for n in order))
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)

    _common.log("libcrypt crypt() per hash, in-process, interleaved")
    ctimes = crypt_times(variants, password, args.rounds, rng)
    none_rps = _common.median(runs["none"])
    rows, results = [], []
    for name, scheme, cost, rounds in variants:
        rps = _common.median(runs[name])
        ratio = _common.median(ratios[name])
        # CPU time of one verification on the worker's core: 1/r - 1/r(no auth), per round.
        verify_ms = None if scheme is None else _common.median(
            [1000.0 * (1.0 / r - 1.0 / n) for r, n in zip(runs[name], runs["none"])])
        pulls = rps / REQUESTS_PER_PULL
        crypt_ms = _common.median([t * 1000 for t in ctimes.get(name, [])])
        results.append({"crypt_ms": [t * 1000 for t in ctimes.get(name, [])], "crypt_ms_median": crypt_ms,
                        "variant": name, "scheme": scheme or "none", "bcrypt_cost": cost, "rounds": rounds,
                        "hash": described.get(name, "-"), "rps": runs[name], "rps_median": rps,
                        "ratio_to_none": ratios[name], "ratio_median": ratio, "verify_ms_median": verify_ms,
                        "pulls_per_s_per_core": pulls})
        rows.append([name, _common.fmt(rps), _common.spread(runs[name]), f"{ratio:.3g}x",
                     _common.spread(ratios[name]), "-" if verify_ms is None else f"{verify_ms:.3g}",
                     "-" if crypt_ms is None else f"{crypt_ms:.3g}",
                     _common.fmt(pulls), _common.fmt(1.0 / pulls if pulls else None, 2)])
    print()
    print(f"Basic auth through {version}, one worker, 127.0.0.1, small static file, "
          f"wrk -c{args.connections} -t{args.threads} -d{args.duration}s, {args.rounds} rounds (median, min..max)")
    print(_common.table(["scheme", "req/s", "req/s spread", "ratio to none", "ratio spread",
                         "ms/verify", "crypt() ms", "pulls/s/core", "s/pull"], rows))
    print(f"\npulls/s/core = req/s / {REQUESTS_PER_PULL} (a 10-layer pull is ~{REQUESTS_PER_PULL} authenticated "
          "requests); ms/verify = 1/req/s - 1/req/s(none), the worker's time per password check;\n"
          "crypt() ms = libcrypt's crypt() called in-process (what nginx calls, and what one guess costs an "
          "attacker on this CPU; apr1 is nginx's own code).")
    data = {"benchmark": "htpasswd_auth", "nginx": version, "seed": seed, "rounds": args.rounds,
            "duration_s": args.duration, "connections": args.connections, "threads": args.threads,
            "requests_per_pull": REQUESTS_PER_PULL, "machine": _common.machine_facts(),
            "none_rps_median": none_rps, "variants": results}
    path = args.json or _common.save_results("htpasswd_auth", data)
    if args.json:
        import json
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    _common.log(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
