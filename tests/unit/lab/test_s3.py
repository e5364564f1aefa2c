"""Unit tests for lab/dockyard_lab/s3.py: the lab's S3 client (lab/images/s3/s3lite.py)."""

from __future__ import annotations

import datetime
import hashlib
import subprocess
import sys

from dockyard_lab import s3


def test_s3lite_signature_matches_aws_reference_vector():
    """AWS's published SigV4 example (GET object, 'Examplebucket', 20130524)."""
    s3lite = s3.load_s3lite()
    headers = s3lite.sigv4_headers(
        "GET", "examplebucket.s3.amazonaws.com", "/test.txt", {}, {"Range": "bytes=0-9"},
        hashlib.sha256(b"").hexdigest(), "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "us-east-1", now=datetime.datetime(2013, 5, 24, tzinfo=datetime.timezone.utc))
    assert headers["authorization"].endswith(
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")


def test_s3lite_program_is_self_contained_and_skips_the_command_line():
    """What is sent to a lab host over stdin runs with a bare python3 -I (no lab/ on the path)."""
    program = s3.s3lite_program("print(s3lite.S3Client('http://s3:7480', 'k', 's').host, sys.argv[1])\n")
    res = subprocess.run([sys.executable, "-I", "-", "arg"], input=program, capture_output=True, text=True,
                         check=False, cwd="/")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "s3:7480 arg\n"
