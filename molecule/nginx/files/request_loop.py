#!/usr/bin/env python3
"""Request loop through the registry proxy (nginx scenario test fixture, runs on the controller).

Every round opens a NEW TLS connection to the proxy (connect to --resolve, SNI and certificate
check against --name, verified with --ca) and sends

  GET /healthz            expects 200 "ok" (nginx itself, no credentials)
  GET /v2/ + Basic auth   expects 200 and Docker-Distribution-Api-Version: registry/2.0 (a backend)

New connections on purpose: a client reusing an idle keep-alive connection that the server closes
at the same moment has to retry by design; what must never happen is a refused connection, a
reset or a non-200 answer. Runs until --stop-file exists (or --rounds rounds, or --max-seconds as a
safety net), then prints a JSON summary on stdout (and writes it to --out if given), including
the time of every answered request (ok_times), so a caller can count the answers in a window. The password is
read from the environment variable NGX_LAB_PASSWORD, never from the command line.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import ssl
import sys
import time
from pathlib import Path

# The collection's HTTPS-to-an-address helper (stdlib only): TCP to --resolve, SNI, certificate
# check and Host for --name.
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "plugins" / "module_utils"))
from _http import AddressedHTTPSConnection  # noqa: E402  pylint: disable=wrong-import-position

MAX_ERRORS_KEPT = 20


def one_request(args, ctx, path, auth):
    conn = AddressedHTTPSConnection(args.name, args.port, args.resolve, args.timeout, ctx)
    try:
        headers = {"Host": "%s:%d" % (args.name, args.port), "User-Agent": args.user_agent,
                   "Connection": "close"}
        if auth:
            headers["Authorization"] = auth
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, resp.getheader("Docker-Distribution-Api-Version"), body
    finally:
        conn.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="registry DNS name (SNI, certificate, Host)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--resolve", required=True, help="address to connect to")
    parser.add_argument("--ca", required=True, help="CA certificate (PEM)")
    parser.add_argument("--user", required=True)
    parser.add_argument("--stop-file", help="stop when this file exists")
    parser.add_argument("--started-file", help="created after the first successful round")
    parser.add_argument("--out", help="also write the JSON summary here")
    parser.add_argument("--rounds", type=int, default=0, help="stop after this many rounds (0: no limit)")
    parser.add_argument("--interval", type=float, default=0.05, help="pause between rounds (s)")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    parser.add_argument("--user-agent", default="ngx-lab-request-loop/1")
    args = parser.parse_args(argv)
    if not args.stop_file and not args.rounds:
        parser.error("give --stop-file or --rounds")

    password = os.environ.get("NGX_LAB_PASSWORD", "")
    auth = "Basic " + base64.b64encode(("%s:%s" % (args.user, password)).encode()).decode()
    ctx = ssl.create_default_context(cafile=args.ca)

    summary = {"requests": 0, "ok": 0, "failures": 0, "errors": [], "rounds": 0, "ok_times": [],
               "statuses": {}, "started": time.time(), "first_ok": None, "last_ok": None,
               "stopped_by": None}
    deadline = time.monotonic() + args.max_seconds
    while True:
        if args.stop_file and os.path.exists(args.stop_file):
            summary["stopped_by"] = "stop-file"
            break
        if args.rounds and summary["rounds"] >= args.rounds:
            summary["stopped_by"] = "rounds"
            break
        if time.monotonic() > deadline:
            summary["stopped_by"] = "max-seconds"
            break
        round_ok = True
        for path, credentials in (("/healthz", None), ("/v2/", auth)):
            summary["requests"] += 1
            now = time.time()
            try:
                status, api_version, body = one_request(args, ctx, path, credentials)
            except (OSError, http.client.HTTPException) as exc:
                status, problem = None, "%s: %s" % (type(exc).__name__, exc)
            else:
                problem = None
                if status != 200:
                    problem = "HTTP %d" % status
                elif path == "/healthz" and body.strip() != b"ok":
                    problem = "unexpected body %r" % body[:40]
                elif path == "/v2/" and api_version != "registry/2.0":
                    problem = "Docker-Distribution-Api-Version %r" % api_version
            key = str(status)
            summary["statuses"][key] = summary["statuses"].get(key, 0) + 1
            if problem is None:
                summary["ok"] += 1
                summary["ok_times"].append(round(now, 3))
                summary["first_ok"] = summary["first_ok"] or now
                summary["last_ok"] = now
            else:
                round_ok = False
                summary["failures"] += 1
                if len(summary["errors"]) < MAX_ERRORS_KEPT:
                    summary["errors"].append({"time": now, "path": path, "problem": problem})
        summary["rounds"] += 1
        if round_ok and args.started_file and not os.path.exists(args.started_file):
            with open(args.started_file, "w", encoding="utf-8") as handle:
                handle.write("started\n")
        time.sleep(args.interval)
    summary["ended"] = time.time()
    text = json.dumps(summary, sort_keys=True)
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        os.replace(tmp, args.out)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
