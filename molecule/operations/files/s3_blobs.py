#!/usr/bin/env python3
"""List the registry's blobs in the lab bucket (operations scenario, runs on the controller).

Uses the lab's own S3 client (lab/s3client.py, an implementation independent of the collection's)
to ListObjectsV2 every key under ``docker/registry/v2/blobs/`` and prints
``{"sha256:<hex>": <size of data>, ...}`` as JSON. Credentials come from lab/images/s3/lab.env.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import xml.etree.ElementTree as ET

PREFIX = "docker/registry/v2/blobs/"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab-dir", required=True, help="the repository's lab/ directory")
    parser.add_argument("--address", required=True, help="address of the lab S3 host")
    args = parser.parse_args(argv)
    sys.path.insert(0, args.lab_dir)
    import s3client  # pylint: disable=import-outside-toplevel,import-error

    env = {}
    with open(os.path.join(args.lab_dir, "images", "s3", "lab.env")) as handle:
        for line in handle:
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                env[key.strip()] = value.strip()
    client = s3client.S3("http://%s:%s" % (args.address, env["S3_PORT"]), env["S3_ACCESS_KEY"],
                         env["S3_SECRET_KEY"], env.get("S3_REGION", "us-east-1"))
    blobs, token = {}, None
    while True:
        query = {"list-type": "2", "prefix": PREFIX}
        if token:
            query["continuation-token"] = token
        status, _, body = client.request("GET", "/" + env["S3_BUCKET"], query=query)
        if status != 200:
            raise SystemExit("ListObjectsV2: HTTP %d: %r" % (status, body[:300]))
        root = ET.fromstring(body)
        token, truncated = None, False
        for element in root:
            tag = element.tag.rsplit("}", 1)[-1]
            if tag == "Contents":
                fields = {c.tag.rsplit("}", 1)[-1]: c.text for c in element}
                key = fields["Key"]
                # docker/registry/v2/blobs/sha256/ab/<hex>/data
                parts = key[len(PREFIX):].split("/")
                if len(parts) == 4 and parts[3] == "data":
                    blobs["%s:%s" % (parts[0], parts[2])] = int(fields.get("Size") or 0)
            elif tag == "IsTruncated":
                truncated = (element.text or "") == "true"
            elif tag == "NextContinuationToken":
                token = element.text
        if not truncated or not token:
            break
    print(json.dumps(blobs, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
