# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import http.server
import threading
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _s3

# AWS's published Signature Version 4 examples for S3 (examplebucket, 2013-05-24).
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
WHEN = datetime.datetime(2013, 5, 24, tzinfo=datetime.timezone.utc)


def test_sign_v4_matches_the_aws_get_object_example():
    headers = _s3.sign_v4("GET", "examplebucket.s3.amazonaws.com", "/test.txt", headers={"Range": "bytes=0-9"},
                          access_key=AWS_KEY, secret_key=AWS_SECRET, now=WHEN)
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")


def test_sign_v4_matches_the_aws_list_objects_example():
    headers = _s3.sign_v4("GET", "examplebucket.s3.amazonaws.com", "/", query={"max-keys": "2", "prefix": "J"},
                          access_key=AWS_KEY, secret_key=AWS_SECRET, now=WHEN)
    assert headers["authorization"].endswith(
        "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    assert AWS_SECRET not in str(headers)


def test_sign_v4_needs_credentials():
    with pytest.raises(ValueError):
        _s3.sign_v4("GET", "h", "/", access_key="", secret_key="x")


def test_object_url_styles():
    assert _s3.object_url("http://10.0.0.5:7480", "reg", "docker/a b") == ("http", "10.0.0.5:7480", "/reg/docker/a%20b")
    assert _s3.object_url("http://10.0.0.5:7480", "reg", "") == ("http", "10.0.0.5:7480", "/reg")
    assert _s3.object_url("https://s3.oss-cn-beijing.aliyuncs.com", "reg", "k", path_style=False) == (
        "https", "reg.s3.oss-cn-beijing.aliyuncs.com", "/k")
    assert _s3.object_url(None, "reg", "/k", region="eu-west-1") == ("https", "reg.s3.eu-west-1.amazonaws.com", "/k")
    for endpoint, bucket in (("ftp://x", "b"), ("http://x", "")):
        with pytest.raises(ValueError):
            _s3.object_url(endpoint, bucket, "k")


class FakeS3(http.server.BaseHTTPRequestHandler):
    objects = {}

    def log_message(self, *args):
        pass

    def _reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        if not self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 Credential=k/"):
            return self._reply(403)
        key = urlsplit(self.path).path.split("/", 2)[2]
        if key in self.objects:
            return self.send_size(key)
        return self._reply(404)

    def send_size(self, key):
        self.send_response(200)
        self.send_header("Content-Length", str(self.objects[key]))
        self.end_headers()

    def do_GET(self):
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        keys = sorted(k for k in self.objects if k.startswith(query.get("prefix", "")))
        start = int(query.get("continuation-token", "0"))
        page = keys[start:start + 2]  # two per page: exercises continuation
        more = start + 2 < len(keys)
        xml = "<ListBucketResult><IsTruncated>%s</IsTruncated>%s%s</ListBucketResult>" % (
            "true" if more else "false",
            "<NextContinuationToken>%d</NextContinuationToken>" % (start + 2) if more else "",
            "".join("<Contents><Key>%s</Key><Size>%d</Size></Contents>" % (k, self.objects[k]) for k in page))
        self._reply(200, xml.encode())


def test_head_and_list_against_a_local_fake():
    FakeS3.objects = {"r/a": 3, "r/b": 5, "r/c": 7, "other": 1}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeS3)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = _s3.S3("bkt", "k", "s", endpoint="http://127.0.0.1:%d" % server.server_address[1])
        assert client.head_object("r/b") == 5
        assert client.head_object("r/none") is None
        assert client.list_objects("r/") == {"r/a": 3, "r/b": 5, "r/c": 7}
        wrong = _s3.S3("bkt", "wrong", "s", endpoint="http://127.0.0.1:%d" % server.server_address[1])
        with pytest.raises(_s3.S3Error):
            wrong.head_object("r/a")
    finally:
        server.shutdown()
        server.server_close()
