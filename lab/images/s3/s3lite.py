#!/usr/bin/env python3
"""A small S3 client on the Python standard library only (AWS Signature Version 4).

Used by the dockyard-lab/s3 image's bootstrap to create the registry's bucket and probe it with a
PUT, and by the lab tests (tests/lab/test_s3_image.py) to talk to the image from the Docker host:
neither the image nor the controller venv carries boto3.

    python3 s3lite.py --env lab.env --endpoint http://127.0.0.1:7480 ensure-bucket
    python3 s3lite.py --env lab.env --endpoint http://172.18.0.2:7480 list-buckets
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import hmac
import http.client
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass

S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def read_env(path: str) -> dict:
    """KEY=VALUE lines of a lab.env file (comments and blank lines skipped, nothing evaluated)."""
    facts = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                facts[key.strip()] = value.strip()
    return facts


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes

    def error_code(self) -> str:
        try:
            return ET.fromstring(self.body).findtext("Code") or ""
        except ET.ParseError:
            return ""


class S3Error(Exception):
    def __init__(self, method: str, path: str, resp: Response):
        self.response = resp
        super().__init__(f"{method} {path}: HTTP {resp.status} {resp.error_code()} {resp.body[:300]!r}")


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_headers(method: str, host: str, path: str, query: dict, headers: dict, payload_hash: str,
                  access_key: str, secret_key: str, region: str, now: datetime.datetime | None = None,
                  service: str = "s3") -> dict:
    """Headers (incl. Authorization) that sign a request with AWS Signature Version 4.

    ``path`` is the unencoded object path ("/bucket/key"), ``query`` maps names to values ("" for
    a bare ``?uploads``), ``headers`` are extra headers to send and sign.
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    datestamp = amz_date[:8]
    all_headers = {k.lower(): str(v).strip() for k, v in headers.items()}
    all_headers.update({"host": host, "x-amz-date": amz_date, "x-amz-content-sha256": payload_hash})
    signed = sorted(all_headers)
    canonical_query = "&".join(
        f"{urllib.parse.quote(str(k), safe='')}={urllib.parse.quote(str(v), safe='')}"
        for k, v in sorted((str(k), str(v)) for k, v in query.items())
    )
    canonical_request = "\n".join([
        method,
        urllib.parse.quote(path, safe="/"),
        canonical_query,
        "".join(f"{k}:{all_headers[k]}\n" for k in signed),
        ";".join(signed),
        payload_hash,
    ])
    scope = f"{datestamp}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join([
        "AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest(),
    ])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), datestamp), region), service), "aws4_request")
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    all_headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={';'.join(signed)}, "
        f"Signature={signature}"
    )
    return all_headers


class S3Client:
    """Path-style S3 requests to one endpoint (``host_header`` overrides the Host that is sent and
    signed, e.g. ``registry.s3:7480`` for a virtual-hosted request to the same address)."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, region: str = "default",
                 *, timeout: float = 60.0, host_header: str | None = None):
        url = urllib.parse.urlsplit(endpoint)
        if url.scheme not in ("http", "https"):
            raise ValueError(f"endpoint must be http(s)://host[:port], not {endpoint!r}")
        self.scheme, self.hostname = url.scheme, url.hostname
        self.port = url.port or (443 if url.scheme == "https" else 80)
        default_port = 443 if url.scheme == "https" else 80
        self.host = host_header or (self.hostname if self.port == default_port else f"{self.hostname}:{self.port}")
        self.access_key, self.secret_key, self.region, self.timeout = access_key, secret_key, region, timeout

    @classmethod
    def from_env(cls, env: dict, endpoint: str, **kwargs) -> "S3Client":
        return cls(endpoint, env["S3_ACCESS_KEY"], env["S3_SECRET_KEY"], env.get("S3_REGION", "default"), **kwargs)

    def request(self, method: str, path: str, *, query: dict | None = None, body: bytes = b"",
                headers: dict | None = None, expect=(200,)) -> Response:
        query = query or {}
        payload_hash = hashlib.sha256(body).hexdigest()
        signed = sigv4_headers(method, self.host, path, query, headers or {}, payload_hash,
                               self.access_key, self.secret_key, self.region)
        target = urllib.parse.quote(path, safe="/")
        if query:
            target += "?" + "&".join(
                urllib.parse.quote(str(k), safe="") + (f"={urllib.parse.quote(str(v), safe='')}" if v != "" else "")
                for k, v in sorted(query.items()))
        conn_cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        conn = conn_cls(self.hostname, self.port, timeout=self.timeout)
        try:
            send_headers = {k: v for k, v in signed.items()}
            if body or method in ("PUT", "POST"):
                send_headers["content-length"] = str(len(body))
            conn.request(method, target, body=body or None, headers=send_headers)
            raw = conn.getresponse()
            resp = Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, raw.read())
        finally:
            conn.close()
        if expect and resp.status not in expect:
            raise S3Error(method, path, resp)
        return resp

    # Buckets and objects ------------------------------------------------------------------------

    def list_buckets(self) -> list:
        root = ET.fromstring(self.request("GET", "/").body)
        return [b.findtext(f"{S3_NS}Name") for b in root.iter(f"{S3_NS}Bucket")]

    def create_bucket(self, bucket: str) -> bool:
        """Create ``bucket``; False when it already exists and is ours."""
        resp = self.request("PUT", f"/{bucket}", expect=None)
        if resp.status == 200:
            return True
        if resp.status == 409 and resp.error_code() == "BucketAlreadyOwnedByYou":
            return False
        raise S3Error("PUT", f"/{bucket}", resp)

    def put_object(self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        resp = self.request("PUT", f"/{bucket}/{key}", body=data, headers={"content-type": content_type})
        return resp.headers.get("etag", "").strip('"')

    def get_object(self, bucket: str, key: str) -> bytes:
        return self.request("GET", f"/{bucket}/{key}").body

    def delete_object(self, bucket: str, key: str) -> None:
        self.request("DELETE", f"/{bucket}/{key}", expect=(204, 200))

    def list_objects(self, bucket: str, prefix: str = "") -> list:
        query = {"list-type": "2", "prefix": prefix} if prefix else {"list-type": "2"}
        root = ET.fromstring(self.request("GET", f"/{bucket}", query=query).body)
        return [c.findtext(f"{S3_NS}Key") for c in root.iter(f"{S3_NS}Contents")]

    # Multipart uploads --------------------------------------------------------------------------

    def create_multipart_upload(self, bucket: str, key: str) -> str:
        resp = self.request("POST", f"/{bucket}/{key}", query={"uploads": ""})
        return ET.fromstring(resp.body).findtext(f"{S3_NS}UploadId")

    def upload_part(self, bucket: str, key: str, upload_id: str, number: int, data: bytes) -> str:
        resp = self.request("PUT", f"/{bucket}/{key}", query={"partNumber": number, "uploadId": upload_id}, body=data)
        return resp.headers["etag"]

    def complete_multipart_upload(self, bucket: str, key: str, upload_id: str, etags: list) -> Response:
        parts = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
                        for n, etag in enumerate(etags, start=1))
        body = f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()
        return self.request("POST", f"/{bucket}/{key}", query={"uploadId": upload_id}, body=body,
                            headers={"content-type": "application/xml"})

    def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self.request("DELETE", f"/{bucket}/{key}", query={"uploadId": upload_id}, expect=(204, 200, 404))


def ensure_bucket(client: S3Client, bucket: str, timeout: float = 60.0, probe_key: str = ".dockyard-s3-probe") -> None:
    """Create ``bucket`` (if missing) and prove it takes a PUT: put, read back and delete a probe
    object. Retries until ``timeout`` (a new gateway or user may need a moment)."""
    deadline = time.monotonic() + timeout
    data = b"dockyard-s3 probe\n"
    while True:
        try:
            created = client.create_bucket(bucket)
            client.put_object(bucket, probe_key, data, content_type="text/plain")
            if client.get_object(bucket, probe_key) != data:
                raise RuntimeError("probe object read back differently")
            client.delete_object(bucket, probe_key)
            print(f"bucket {bucket} {'created' if created else 'exists'}; PUT/GET/DELETE probe passed",
                  file=sys.stderr)
            return
        except (OSError, http.client.HTTPException, S3Error, RuntimeError) as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"s3lite: bucket {bucket} is not usable: {exc}")
            time.sleep(0.5)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="/etc/dockyard-s3/lab.env", help="lab.env with the S3_* facts")
    parser.add_argument("--endpoint", help="http://host:port (default: 127.0.0.1 and S3_PORT)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ensure-bucket", help="create S3_BUCKET if missing, then a PUT/GET/DELETE probe")
    p.add_argument("--timeout", type=float, default=60.0)
    sub.add_parser("list-buckets", help="print the buckets of the lab user")
    args = parser.parse_args(argv)
    env = read_env(args.env)
    client = S3Client.from_env(env, args.endpoint or f"http://127.0.0.1:{env.get('S3_PORT', '7480')}")
    if args.cmd == "ensure-bucket":
        ensure_bucket(client, env["S3_BUCKET"], timeout=args.timeout)
    elif args.cmd == "list-buckets":
        print("\n".join(client.list_buckets()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
