"""Unit tests for lab/s3client.py: AWS Signature Version 4."""

from __future__ import annotations

import datetime

import s3client


def test_s3client_signature_matches_aws_reference_vector():
    """AWS's published SigV4 example (GET object, 'Examplebucket', 20130524)."""
    headers = s3client.sign_v4(
        "GET", "https://examplebucket.s3.amazonaws.com/test.txt",
        access_key="AKIAIOSFODNN7EXAMPLE", secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region="us-east-1", headers={"Range": "bytes=0-9"},
        now=datetime.datetime(2013, 5, 24, tzinfo=datetime.timezone.utc))
    assert headers["authorization"].endswith(
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
