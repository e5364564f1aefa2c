#!/usr/bin/env python3
"""Registry traffic through the proxy while something changes (runs on the controller; stdlib only).

Subcommands (the password comes from the environment variable OPS_LAB_PASSWORD, never argv):

  push   push one deterministic image (``--layer SEED:SIZE`` per layer, shared seeds give shared
         blobs) and print its digests as JSON
  pull   pull every image of a JSON list (``[{"reference": "repo:tag", "manifest_digest": ...}]``),
         re-hash the manifest and every blob, print what failed
  auth   GET /v2/ with the given user: prints the HTTP status (200 accepted, 401 refused)
  delete DELETE a manifest by digest (Distribution 2.x deletes tags only this way): prints the status
  loop   until ``--stop-file`` exists (bounded by ``--max-seconds``): every round pulls the
         manifest of ``--pull`` and all its blobs (sha256 checked, storage redirects followed
         without credentials) and pushes a small new image (a 1 KiB layer and a config, each as
         POST + PATCH + PUT, then the manifest, then a HEAD that must find it). Every request opens
         a new TLS connection. A push answered 405 with an ``Allow`` header that does not allow the
         method is the registry's read-only answer: counted as ``refused`` (with its time), not
         as a failure. The JSON summary goes to stdout and ``--out``.

``--ca`` is read again whenever the file changes (a CA rotation publishes the old and the next CA
together, then the next alone), as a client that reads its trust store per connection.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import ssl
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

# The collection's HTTPS-to-an-address helper (stdlib only): TCP to --resolve, SNI, certificate
# check and Host for the registry name.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "module_utils"))
from _http import AddressedHTTPSConnection  # noqa: E402  pylint: disable=wrong-import-position

MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG = "application/vnd.docker.container.image.v1+json"
LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
KEEP_ERRORS = 30


class Refused(Exception):
    """The registry's read-only answer."""


class Failed(Exception):
    """Anything else that is not the expected answer."""


def digest_of(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def blob_bytes(seed, size):
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(("%s:%d" % (seed, counter)).encode()).digest()
        counter += 1
    return out[:size]


class Registry:
    def __init__(self, args):
        self.name, self.port, self.resolve, self.timeout = args.name, args.port, args.resolve, args.timeout
        self.cafile, self._ca_seen, self.ctx = args.ca, None, None
        self._context()
        self.plain = ssl.create_default_context()
        password = os.environ.get("OPS_LAB_PASSWORD", "")
        self.auth = "Basic " + base64.b64encode(("%s:%s" % (args.user, password)).encode()).decode()
        self.agent = args.user_agent
        self.uploaded = {}  # digest -> size of every blob an upload completed (kept or not)

    def _context(self):
        """The registry's TLS context, made again whenever the CA file changed: a client whose trust
        store is updated while it runs (docker reads certs.d for every pull and push), e.g. during a
        CA rotation, when the published trust bundle holds the old and the next CA."""
        stat = os.stat(self.cafile)
        seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if seen != self._ca_seen:
            self.ctx, self._ca_seen = ssl.create_default_context(cafile=self.cafile), seen
        return self.ctx

    def _conn(self, url):
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if host == self.name:  # the registry: connect to the proxy address, SNI/verify the name
            return AddressedHTTPSConnection(host, port, self.resolve, self.timeout, self._context()), True
        if parts.scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self.plain), False
        return http.client.HTTPConnection(host, port, timeout=self.timeout), False

    def request(self, method, url, body=None, headers=None, follow=False):
        """(status, headers, body) of one request on a new connection."""
        if url.startswith("/"):
            url = "https://%s:%d%s" % (self.name, self.port, url)
        for _hop in range(3):
            conn, ours = self._conn(url)
            parts = urlsplit(url)
            hdrs = {"User-Agent": self.agent, "Connection": "close", **(headers or {})}
            if ours:
                hdrs["Authorization"] = self.auth
                hdrs["Host"] = "%s:%d" % (self.name, self.port)
            try:
                conn.request(method, parts.path + ("?" + parts.query if parts.query else ""), body=body, headers=hdrs)
                resp = conn.getresponse()
                data = resp.read()
                answer = {k.lower(): v for k, v in resp.getheaders()}
            except (OSError, http.client.HTTPException) as exc:
                raise Failed("%s %s: %s: %s" % (method, parts.path, type(exc).__name__, exc))
            finally:
                conn.close()
            if follow and resp.status in (301, 302, 303, 307, 308) and answer.get("location"):
                url = answer["location"]
                continue
            return resp.status, answer, data
        raise Failed("%s %s: too many redirects" % (method, url))

    def expect(self, method, url, statuses, body=None, headers=None, follow=False, writing=False):
        status, answer, data = self.request(method, url, body, headers, follow)
        if status in statuses:
            return status, answer, data
        allow = {m.strip().upper() for m in answer.get("allow", "").split(",") if m.strip()}
        if writing and status == 405 and allow and method not in allow:
            raise Refused("%s %s: HTTP 405 Allow: %s" % (method, urlsplit(url).path, answer.get("allow")))
        raise Failed("%s %s: HTTP %d %s" % (method, urlsplit(url).path, status, data[:160]))

    def upload(self, repo, data):
        """POST + PATCH + PUT (the chunked flow docker uses), then check the blob is there."""
        digest = digest_of(data)
        _, answer, _ = self.expect("POST", "/v2/%s/blobs/uploads/" % repo, (202,), body=b"",
                                   headers={"Content-Length": "0"}, writing=True)
        location = answer["location"]
        _, answer, _ = self.expect("PATCH", location, (202,), body=data, writing=True,
                                   headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(data)),
                                            "Content-Range": "0-%d" % (len(data) - 1)})
        location = answer["location"]
        sep = "&" if "?" in location else "?"
        self.expect("PUT", location + sep + "digest=" + digest, (201,), body=b"", headers={"Content-Length": "0"},
                    writing=True)
        self.uploaded[digest] = len(data)
        return {"mediaType": LAYER, "size": len(data), "digest": digest}

    def push(self, repo, tag, layers):
        """Push an image made of ``layers`` (bytes); returns its digests."""
        descriptors = [self.upload(repo, data) for data in layers]
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [
            d["digest"] for d in descriptors]}, "config": {"Labels": {"dockyard.ops": tag}}}, sort_keys=True).encode()
        config_descriptor = self.upload(repo, config)
        config_descriptor["mediaType"] = CONFIG
        manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST, "config": config_descriptor,
                               "layers": descriptors}, sort_keys=True).encode()
        self.expect("PUT", "/v2/%s/manifests/%s" % (repo, tag), (201,), body=manifest, writing=True,
                    headers={"Content-Type": MANIFEST, "Content-Length": str(len(manifest))})
        _, answer, _ = self.expect("HEAD", "/v2/%s/manifests/%s" % (repo, tag), (200,), headers={"Accept": MANIFEST})
        if answer.get("docker-content-digest") != digest_of(manifest):
            raise Failed("HEAD %s:%s: digest %s, pushed %s" % (repo, tag, answer.get("docker-content-digest"),
                                                               digest_of(manifest)))
        return {"reference": "%s:%s" % (repo, tag), "manifest_digest": digest_of(manifest),
                "config": config_descriptor["digest"], "layers": [d["digest"] for d in descriptors]}

    def pull(self, reference, manifest_digest=None):
        """Manifest by tag (or digest) and every blob, each re-hashed."""
        repo, ref = reference.rsplit(":", 1) if "@" not in reference else reference.split("@", 1)
        _, _, data = self.expect("GET", "/v2/%s/manifests/%s" % (repo, ref), (200,), headers={"Accept": MANIFEST})
        if manifest_digest and digest_of(data) != manifest_digest:
            raise Failed("manifest of %s is %s, expected %s" % (reference, digest_of(data), manifest_digest))
        manifest = json.loads(data)
        blobs = [manifest["config"]["digest"]] + [layer["digest"] for layer in manifest["layers"]]
        for digest in blobs:
            _, _, body = self.expect("GET", "/v2/%s/blobs/%s" % (repo, digest), (200,), follow=True)
            if digest_of(body) != digest:
                raise Failed("blob %s of %s hashed to %s" % (digest, reference, digest_of(body)))
        return len(blobs)


def cmd_push(reg, args):
    layers = []
    for spec in args.layer:
        seed, size = spec.rsplit(":", 1)
        layers.append(blob_bytes(seed, int(size)))
    print(json.dumps(reg.push(args.repo, args.tag, layers)))
    return 0


def cmd_pull(reg, args):
    with open(args.images) as handle:
        images = json.load(handle)
    problems = []
    for image in images:
        try:
            reg.pull(image["reference"], image.get("manifest_digest"))
        except (Failed, Refused) as exc:
            problems.append({"reference": image["reference"], "problem": str(exc)})
    print(json.dumps({"pulled": len(images) - len(problems), "failed": problems}))
    return 0


def cmd_auth(reg, args):
    status, _, _ = reg.request("GET", "/v2/")
    print(json.dumps({"user": args.user, "status": status}))
    return 0


def cmd_delete(reg, args):
    status, _, body = reg.request("DELETE", "/v2/%s/manifests/%s" % (args.repo, args.digest))
    print(json.dumps({"status": status, "body": body[:200].decode("utf-8", "replace")}))
    return 0


def cmd_loop(reg, args):
    with open(args.pull) as handle:
        target = json.load(handle)
    summary = {"rounds": 0, "pulls": {"ok": 0, "failed": 0}, "pushes": {"ok": 0, "failed": 0, "refused": 0},
               "errors": [], "refused_times": [], "pushed": [], "started": time.time(), "stopped_by": None}
    deadline = time.monotonic() + args.max_seconds
    prefix = "%s-%d" % (args.tag_prefix, int(time.time()))
    while True:
        if os.path.exists(args.stop_file):
            summary["stopped_by"] = "stop-file"
            break
        if time.monotonic() > deadline:
            summary["stopped_by"] = "max-seconds"
            break
        round_ok = True
        start = time.time()
        try:
            reg.pull(target["reference"], target["manifest_digest"])
            summary["pulls"]["ok"] += 1
        except (Failed, Refused) as exc:
            round_ok = False
            summary["pulls"]["failed"] += 1
            if len(summary["errors"]) < KEEP_ERRORS:
                summary["errors"].append({"time": start, "kind": "pull", "problem": str(exc)})
        start = time.time()
        tag = "%s-%d" % (prefix, summary["rounds"])
        try:
            layer = blob_bytes("%s-%s" % (prefix, summary["rounds"]), 1024)
            pushed = reg.push(args.push_repo, tag, [layer])
            summary["pushes"]["ok"] += 1
            summary["pushed"].append({"reference": pushed["reference"], "manifest_digest": pushed["manifest_digest"]})
        except Refused as exc:
            summary["pushes"]["refused"] += 1
            summary["refused_times"].append([round(start, 3), round(time.time(), 3)])
            if len(summary["errors"]) < KEEP_ERRORS:
                summary["errors"].append({"time": start, "kind": "push-refused", "problem": str(exc)})
        except Failed as exc:
            round_ok = False
            summary["pushes"]["failed"] += 1
            if len(summary["errors"]) < KEEP_ERRORS:
                summary["errors"].append({"time": start, "kind": "push", "problem": str(exc)})
        summary["rounds"] += 1
        if round_ok and args.started_file and not os.path.exists(args.started_file):
            with open(args.started_file, "w") as handle:
                handle.write("started\n")
        time.sleep(args.interval)
    summary["ended"] = time.time()
    summary["uploaded"] = reg.uploaded
    text = json.dumps(summary, sort_keys=True)
    if args.out:
        with open(args.out + ".tmp", "w") as handle:
            handle.write(text + "\n")
        os.replace(args.out + ".tmp", args.out)
    print(text)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="registry DNS name (SNI, certificate, Host)")
    parser.add_argument("--port", type=int, default=443)
    parser.add_argument("--resolve", required=True, help="address of the proxy")
    parser.add_argument("--ca", required=True, help="CA certificate (PEM)")
    parser.add_argument("--user", required=True)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--user-agent", default="dockyard-ops-lab/1")
    sub = parser.add_subparsers(dest="command", required=True)
    push = sub.add_parser("push")
    push.add_argument("--repo", required=True)
    push.add_argument("--tag", required=True)
    push.add_argument("--layer", action="append", required=True, help="SEED:SIZE; the same seed, the same blob")
    pull = sub.add_parser("pull")
    pull.add_argument("--images", required=True, help="JSON file: list of {reference, manifest_digest}")
    sub.add_parser("auth")
    delete = sub.add_parser("delete")
    delete.add_argument("--repo", required=True)
    delete.add_argument("--digest", required=True)
    loop = sub.add_parser("loop")
    loop.add_argument("--pull", required=True, help="JSON file: {reference, manifest_digest} pulled every round")
    loop.add_argument("--push-repo", required=True)
    loop.add_argument("--tag-prefix", default="loop")
    loop.add_argument("--stop-file", required=True)
    loop.add_argument("--started-file")
    loop.add_argument("--out")
    loop.add_argument("--interval", type=float, default=0.2)
    loop.add_argument("--max-seconds", type=float, default=900.0)
    args = parser.parse_args(argv)
    reg = Registry(args)
    return {"auth": cmd_auth, "delete": cmd_delete, "push": cmd_push, "pull": cmd_pull, "loop": cmd_loop}[args.command](reg, args)


if __name__ == "__main__":
    sys.exit(main())
