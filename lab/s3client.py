#!/usr/bin/env python3
"""A tiny S3 client (AWS Signature Version 4) using only the Python standard library.

The lab needs to talk S3 from places where boto3 is not installed (the controller's venv, the lab
hosts' system Python): ListBuckets for health checks, PUT/GET/DELETE of small objects and a
multipart upload for tests. Path-style requests only (``http://host:port/bucket/key``).

Command line (used by the molecule verifier inside lab hosts)::

    python3 s3client.py --endpoint http://s3:7480 --access-key K --secret-key S [--region R] list-buckets
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import hmac
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sign_v4(method: str, url: str, *, access_key: str, secret_key: str, region: str = "us-east-1",
            body: bytes = b"", headers: dict | None = None, service: str = "s3",
            now: datetime.datetime | None = None) -> dict:
    """Return the headers (incl. Authorization) that sign this request with SigV4."""
    parts = urllib.parse.urlsplit(url)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    datestamp = now.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(body).hexdigest()
    out = {k.lower(): str(v).strip() for k, v in (headers or {}).items()}
    out["host"] = parts.netloc
    out["x-amz-date"] = amz_date
    out["x-amz-content-sha256"] = payload_hash
    signed = sorted(out)
    canonical_headers = "".join(f"{k}:{out[k]}\n" for k in signed)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    canonical_query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}" for k, v in sorted(query))
    canonical_uri = urllib.parse.quote(parts.path or "/", safe="/-_.~")
    canonical_request = "\n".join([method, canonical_uri, canonical_query, canonical_headers,
                                   ";".join(signed), payload_hash])
    scope = f"{datestamp}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret_key).encode(), datestamp), region), service), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out["authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                            f"SignedHeaders={';'.join(signed)}, Signature={signature}")
    del out["host"]
    return out


class S3:
    """Minimal path-style S3 client."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, region: str = "us-east-1",
                 timeout: float = 30.0):
        self.endpoint = endpoint.rstrip("/")
        self.access_key, self.secret_key, self.region, self.timeout = access_key, secret_key, region, timeout

    def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None,
                query: dict | None = None) -> tuple[int, dict, bytes]:
        url = self.endpoint + urllib.parse.quote(path, safe="/-_.~")
        if query:
            url += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        signed = sign_v4(method, url, access_key=self.access_key, secret_key=self.secret_key,
                         region=self.region, body=body, headers=headers)
        req = urllib.request.Request(url, data=body if method in ("PUT", "POST") else None,
                                     method=method, headers=signed)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def list_buckets(self) -> list[str]:
        status, _, body = self.request("GET", "/")
        if status != 200:
            raise RuntimeError(f"ListBuckets: HTTP {status}: {body[:300]!r}")
        root = ET.fromstring(body)
        return [el.text for el in root.iter() if el.tag.endswith("}Name") or el.tag == "Name"]

    def put_object(self, bucket: str, key: str, data: bytes) -> None:
        status, _, body = self.request("PUT", f"/{bucket}/{key}", body=data)
        if status != 200:
            raise RuntimeError(f"PutObject {bucket}/{key}: HTTP {status}: {body[:300]!r}")

    def get_object(self, bucket: str, key: str) -> bytes:
        status, _, body = self.request("GET", f"/{bucket}/{key}")
        if status != 200:
            raise RuntimeError(f"GetObject {bucket}/{key}: HTTP {status}: {body[:300]!r}")
        return body

    def delete_object(self, bucket: str, key: str) -> None:
        status, _, body = self.request("DELETE", f"/{bucket}/{key}")
        if status not in (200, 204):
            raise RuntimeError(f"DeleteObject {bucket}/{key}: HTTP {status}: {body[:300]!r}")

    def multipart_upload(self, bucket: str, key: str, parts: list[bytes]) -> None:
        status, _, body = self.request("POST", f"/{bucket}/{key}", query={"uploads": ""})
        if status != 200:
            raise RuntimeError(f"CreateMultipartUpload: HTTP {status}: {body[:300]!r}")
        upload_id = next(el.text for el in ET.fromstring(body).iter() if el.tag.endswith("UploadId"))
        etags = []
        for number, data in enumerate(parts, start=1):
            status, headers, body = self.request("PUT", f"/{bucket}/{key}", body=data,
                                                 query={"partNumber": str(number), "uploadId": upload_id})
            if status != 200:
                raise RuntimeError(f"UploadPart {number}: HTTP {status}: {body[:300]!r}")
            etags.append({k.lower(): v for k, v in headers.items()}["etag"])
        xml = "<CompleteMultipartUpload>" + "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in enumerate(etags, start=1)
        ) + "</CompleteMultipartUpload>"
        status, _, body = self.request("POST", f"/{bucket}/{key}", body=xml.encode(), query={"uploadId": upload_id})
        if status != 200 or b"Error" in body:
            raise RuntimeError(f"CompleteMultipartUpload: HTTP {status}: {body[:300]!r}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--access-key", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("command", choices=["list-buckets"])
    args = parser.parse_args(argv)
    client = S3(args.endpoint, args.access_key, args.secret_key, args.region)
    print(json.dumps(client.list_buckets()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
