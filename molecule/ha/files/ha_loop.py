#!/usr/bin/env python3
"""Bounded load loop through the registry's virtual IP (ha scenario test fixture, runs on ha-client).

Three kinds of workers run until --stop-file exists or --max-seconds pass, then one JSON summary is
written to --out:

* ``--probers`` threads, each sending requests in a loop: a NEW TLS connection to --vip (SNI and
  certificate check against --name, CA from --ca), ``GET /v2/`` with Basic auth, expecting 200 and
  ``Docker-Distribution-Api-Version: registry/2.0``. Each answer records which proxy served it (the
  SHA-256 of the certificate it presented: every proxy has its own). Several threads, so one request
  stuck on a dead proxy does not hide that the service is back.
* one ``docker pull`` loop (``--image``): pull, then ``docker image rm`` so the next pull downloads
  again; every pull's exit code is recorded. Docker's own retries are all the help it gets.
* with ``--watch``, per-proxy watchers: ``GET /healthz`` on each proxy's own address every 0.2 s,
  recording when each first answers with header ``--watch-header`` equal to ``--watch-value`` (a
  rolling configuration change reaching that proxy) and every failed request.

``gap_seconds`` is the longest time between two successive successful completions of VIP requests
(all probers together): the time without service as a client sees it. The password is read from the
environment variable HA_LAB_PASSWORD, never from the command line.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import ssl
import subprocess
import sys
import threading
import time

# plugins/module_utils/_http.py, copied next to this script on the client (stdlib only).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _http import AddressedHTTPSConnection  # noqa: E402  pylint: disable=wrong-import-position

MAX_ERRORS_KEPT = 30


class PinnedHTTPSConnection(AddressedHTTPSConnection):
    """The collection's HTTPS-to-an-address connection, keeping the serving proxy's certificate."""

    def connect(self):
        super().connect()
        # kept here: http.client drops self.sock once a "Connection: close" answer is read
        self.peer_certificate = self.sock.getpeercert(binary_form=True) or b""


def request(args, ctx, address, path, headers):
    """One request on a new connection: (status, headers dict, certificate sha256)."""
    conn = PinnedHTTPSConnection(args.name, args.port, address, args.timeout, ctx)
    try:
        conn.request("GET", path, headers=dict(headers, Host=args.name, Connection="close"))
        resp = conn.getresponse()
        resp.read()
        cert = getattr(conn, "peer_certificate", b"")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, hashlib.sha256(cert).hexdigest()
    finally:
        conn.close()


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok_times = []          # completion times of successful VIP requests
        self.requests = 0
        self.failures = []          # (start, end, error)
        self.served_by = {}         # certificate sha256 -> [count, first, last]
        self.pulls = []             # (start, end, rc, tail of output)
        self.watch_first = {}       # proxy -> first time the watched header had the value
        self.watch_requests = {}
        self.watch_failures = {}    # proxy -> [(time, error)]

    def vip_result(self, start, end, error, cert):
        with self.lock:
            self.requests += 1
            if error:
                self.failures.append((round(start, 3), round(end, 3), error))
                return
            self.ok_times.append(end)
            entry = self.served_by.setdefault(cert, [0, end, end])
            entry[0] += 1
            entry[2] = end


def prober(args, ctx, rec, stop, auth):
    while not stop.is_set():
        start = time.time()
        error, cert = None, ""
        try:
            status, headers, cert = request(args, ctx, args.vip, "/v2/", {"Authorization": auth})
            if status != 200 or headers.get("docker-distribution-api-version") != "registry/2.0":
                error = "HTTP %s" % status
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            error = "%s: %s" % (type(exc).__name__, exc)
        rec.vip_result(start, time.time(), error, cert)
        stop.wait(args.interval)


def puller(args, rec, stop):
    while not stop.is_set():
        start = time.time()
        proc = subprocess.run(["docker", "pull", "--quiet", args.image], capture_output=True, text=True, check=False)
        end = time.time()
        with rec.lock:
            rec.pulls.append((round(start, 3), round(end, 3), proc.returncode,
                              (proc.stdout + proc.stderr).strip()[-300:]))
        subprocess.run(["docker", "image", "rm", "--force", args.image], capture_output=True, check=False)
        stop.wait(0.05)


def watcher(args, ctx, rec, stop, proxy, address):
    while not stop.is_set():
        start = time.time()
        try:
            status, headers, _cert = request(args, ctx, address, "/healthz", {})
            error = None if status == 200 else "HTTP %s" % status
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            headers, error = {}, "%s: %s" % (type(exc).__name__, exc)
        with rec.lock:
            rec.watch_requests[proxy] = rec.watch_requests.get(proxy, 0) + 1
            if error:
                rec.watch_failures.setdefault(proxy, []).append((round(start, 3), error))
            elif headers.get(args.watch_header.lower()) == args.watch_value and proxy not in rec.watch_first:
                rec.watch_first[proxy] = round(time.time(), 3)
        stop.wait(0.2)


def summary(args, rec, started, ended):
    ok = sorted(rec.ok_times)
    gaps = [(b - a, a, b) for a, b in zip(ok, ok[1:])]
    longest = max(gaps) if gaps else (0.0, started, started)
    failed_pulls = [p for p in rec.pulls if p[2] != 0]
    return {
        "started": round(started, 3),
        "ended": round(ended, 3),
        "requests": rec.requests,
        "ok": len(ok),
        "failed_requests": len(rec.failures),
        "failures": rec.failures[:MAX_ERRORS_KEPT],
        "first_ok": round(ok[0], 3) if ok else None,
        "last_ok": round(ok[-1], 3) if ok else None,
        "gap_seconds": round(longest[0], 3),
        "gap_from": round(longest[1], 3),
        "gap_to": round(longest[2], 3),
        "served_by": {cert: {"count": c, "first": round(f, 3), "last": round(last, 3)}
                      for cert, (c, f, last) in rec.served_by.items()},
        "pulls": len(rec.pulls),
        "failed_pulls": len(failed_pulls),
        "pull_failures": failed_pulls[:MAX_ERRORS_KEPT],
        "pull_seconds_max": round(max((p[1] - p[0] for p in rec.pulls), default=0.0), 3),
        "watch_first": rec.watch_first,
        "watch_requests": rec.watch_requests,
        "watch_failures": {k: v[:MAX_ERRORS_KEPT] for k, v in rec.watch_failures.items()},
        "watch_failed_requests": {k: len(v) for k, v in rec.watch_failures.items()},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="registry DNS name (SNI, certificate, Host)")
    parser.add_argument("--vip", required=True, help="address to send the VIP requests to")
    parser.add_argument("--port", type=int, default=443)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--image", help="image reference for the docker pull loop (through the VIP)")
    parser.add_argument("--probers", type=int, default=4)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--watch", action="append", default=[], metavar="PROXY=ADDRESS")
    parser.add_argument("--watch-header", default="X-Dockyard-Rollout")
    parser.add_argument("--watch-value", default="")
    parser.add_argument("--stop-file", required=True)
    parser.add_argument("--started-file", help="created once a VIP request (and a pull) succeeded")
    parser.add_argument("--out", required=True)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    args = parser.parse_args(argv)

    password = os.environ.get("HA_LAB_PASSWORD", "")
    auth = "Basic " + base64.b64encode(("%s:%s" % (args.user, password)).encode()).decode()
    ctx = ssl.create_default_context(cafile=args.ca)
    rec = Recorder()
    stop = threading.Event()
    threads = [threading.Thread(target=prober, args=(args, ctx, rec, stop, auth), daemon=True)
               for _ in range(args.probers)]
    if args.image:
        threads.append(threading.Thread(target=puller, args=(args, rec, stop), daemon=True))
    for item in args.watch:
        proxy, address = item.split("=", 1)
        threads.append(threading.Thread(target=watcher, args=(args, ctx, rec, stop, proxy, address), daemon=True))
    started = time.time()
    for index, thread in enumerate(threads):
        thread.start()
        if index < args.probers:
            time.sleep(args.interval / max(1, args.probers))  # stagger the probers
    announced = False
    while time.time() - started < args.max_seconds and not os.path.exists(args.stop_file):
        if not announced and args.started_file:
            with rec.lock:
                ready = rec.ok_times and (not args.image or any(p[2] == 0 for p in rec.pulls))
            if ready:
                with open(args.started_file, "w", encoding="utf-8") as handle:
                    handle.write("%.3f\n" % time.time())
                announced = True
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(args.timeout + 120)
    result = summary(args, rec, started, time.time())
    result["stopped_by"] = "stop-file" if os.path.exists(args.stop_file) else "max-seconds"
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
