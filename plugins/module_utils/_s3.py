# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: a minimal read-only S3 client (AWS Signature Version 4), standard library only.

This file is private to the dockyard.registry collection; other collections must not import it.
It imports nothing from Ansible. The garbage-collection module uses it to measure what it removes
from an S3-compatible bucket (AWS, Ceph RGW, MinIO, OSS's S3 API): HEAD of an object (its size) and
ListObjectsV2 under a prefix. It owns:

* ``sign_v4``: the SigV4 ``Authorization`` header of one request (pure; tested against AWS's
  published example);
* ``object_url``: path-style (``<endpoint>/<bucket>/<key>``, what Distribution uses whenever
  ``regionendpoint`` is set) or virtual-hosted AWS URLs;
* ``S3``: ``head_object`` and ``list_objects``.

The secret key is used only to sign; it never appears in a URL, a header value or a message.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.client
import ssl
import xml.etree.ElementTree as ET
from urllib.parse import quote, urlsplit

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_QUOTE_SAFE = "-_.~"


def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def canonical_query(params):
    return "&".join("%s=%s" % (quote(str(k), safe=_QUOTE_SAFE), quote(str(v), safe=_QUOTE_SAFE))
                    for k, v in sorted((params or {}).items()))


def sign_v4(method, host, path, query=None, headers=None, access_key="", secret_key="", region="us-east-1",
            payload_sha256=EMPTY_SHA256, now=None, service="s3"):
    """The headers (``x-amz-date``, ``x-amz-content-sha256``, ``authorization`` and the given ones)
    that sign one request. ``path`` is already URI-encoded; ``query`` a dict."""
    if not access_key or not secret_key:
        raise ValueError("S3 credentials are missing (accesskey/secretkey)")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    datestamp = now.strftime("%Y%m%d")
    out = {str(k).lower(): " ".join(str(v).split()) for k, v in (headers or {}).items()}
    out["host"] = host
    out["x-amz-date"] = amz_date
    out["x-amz-content-sha256"] = payload_sha256
    signed = sorted(out)
    canonical = "\n".join([method, path or "/", canonical_query(query),
                           "".join("%s:%s\n" % (k, out[k]) for k in signed), ";".join(signed), payload_sha256])
    scope = "%s/%s/%s/aws4_request" % (datestamp, region, service)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret_key).encode("utf-8"), datestamp), region), service), "aws4_request")
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    out["authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
                            % (access_key, scope, ";".join(signed), signature))
    return out


def object_url(endpoint, bucket, key, region="us-east-1", path_style=None):
    """``(scheme, host, path)`` of an object. With an endpoint: path style unless ``path_style`` is
    False; without one: AWS virtual-hosted style."""
    if not bucket:
        raise ValueError("S3 bucket is empty")
    key = str(key or "").lstrip("/")
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else "https://" + endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("S3 endpoint %r is not an http(s) URL" % (endpoint,))
        if path_style is False:
            return parts.scheme, "%s.%s" % (bucket, parts.netloc), "/" + quote(key, safe="/" + _QUOTE_SAFE)
        path = "/" + quote(bucket, safe=_QUOTE_SAFE)
        return parts.scheme, parts.netloc, path + ("/" + quote(key, safe="/" + _QUOTE_SAFE) if key else "")
    return "https", "%s.s3.%s.amazonaws.com" % (bucket, region), "/" + quote(key, safe="/" + _QUOTE_SAFE)


class S3Error(Exception):
    """An S3 request that did not get the expected answer."""


class S3:
    """HEAD and ListObjectsV2 against one bucket."""

    def __init__(self, bucket, access_key, secret_key, region="us-east-1", endpoint=None, path_style=None,
                 timeout=30.0, ca_path=None, validate_certs=True):
        self.bucket, self.region, self.endpoint, self.path_style = bucket, region or "us-east-1", endpoint, path_style
        self._access_key, self._secret_key, self.timeout = access_key, secret_key, timeout
        self._context = ssl.create_default_context(cafile=ca_path) if ca_path else ssl.create_default_context()
        if not validate_certs:
            self._context.check_hostname = False
            self._context.verify_mode = ssl.CERT_NONE

    def _request(self, method, key, query=None):
        scheme, host, path = object_url(self.endpoint, self.bucket, key, self.region, self.path_style)
        headers = sign_v4(method, host, path, query, access_key=self._access_key, secret_key=self._secret_key,
                          region=self.region)
        headers.pop("host", None)
        target = path + ("?" + canonical_query(query) if query else "")
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, timeout=self.timeout, context=self._context)
        else:
            conn = http.client.HTTPConnection(host, timeout=self.timeout)
        try:
            conn.request(method, target, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
        except (OSError, http.client.HTTPException) as exc:
            raise S3Error("%s %s://%s%s: %s" % (method, scheme, host, path, exc))
        finally:
            conn.close()

    def head_object(self, key):
        """Size in bytes of an object, or None when it does not exist."""
        status, headers, body = self._request("HEAD", key)
        if status == 404:
            return None
        if status != 200:
            raise S3Error("HEAD %s: HTTP %d" % (key, status))
        return int(headers.get("content-length", "0"))

    def list_objects(self, prefix="", limit=100000):
        """``{key: size}`` of every object under ``prefix`` (ListObjectsV2, all pages)."""
        result, token = {}, None
        while True:
            query = {"list-type": "2", "prefix": prefix, "max-keys": "1000"}
            if token:
                query["continuation-token"] = token
            status, _headers, body = self._request("GET", "", query)
            if status != 200:
                raise S3Error("ListObjectsV2 %s: HTTP %d: %s" % (prefix, status, body[:200]))
            root = ET.fromstring(body)
            token = None
            truncated = False
            for element in root:
                tag = element.tag.rsplit("}", 1)[-1]
                if tag == "Contents":
                    fields = {child.tag.rsplit("}", 1)[-1]: child.text for child in element}
                    result[fields.get("Key", "")] = int(fields.get("Size") or 0)
                elif tag == "IsTruncated":
                    truncated = (element.text or "").strip().lower() == "true"
                elif tag == "NextContinuationToken":
                    token = element.text
            if not truncated or not token or len(result) >= limit:
                return result
