#!/usr/bin/env python3
"""List the registry's blobs in the lab bucket (operations scenario, runs on the controller).

Uses the lab's own S3 client (lab/images/s3/s3lite.py through dockyard_lab.s3, an implementation
independent of the collection's) to ListObjectsV2 every key under ``docker/registry/v2/blobs/``
(all pages) and prints ``{"sha256:<hex>": <size of its data>, ...}`` as JSON. The credentials are
the ones the lab image boots with (lab/images/s3/lab.env).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

PREFIX = "docker/registry/v2/blobs/"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab-dir", required=True, help="the repository's lab/ directory")
    parser.add_argument("--address", required=True, help="address of the lab S3 host")
    args = parser.parse_args(argv)
    sys.path.insert(0, args.lab_dir)
    from dockyard_lab.s3 import load_s3lite  # pylint: disable=import-outside-toplevel,import-error

    s3lite = load_s3lite()
    env = s3lite.read_env(os.path.join(args.lab_dir, "images", "s3", "lab.env"))
    client = s3lite.S3Client.from_env(env, "http://%s:%s" % (args.address, env["S3_PORT"]))
    blobs, token = {}, None
    while True:
        query = {"list-type": "2", "prefix": PREFIX}
        if token:
            query["continuation-token"] = token
        root = s3lite.ET.fromstring(client.request("GET", "/" + env["S3_BUCKET"], query=query).body)
        for contents in root.iter(s3lite.S3_NS + "Contents"):
            key = contents.findtext(s3lite.S3_NS + "Key")
            parts = key[len(PREFIX):].split("/")  # sha256/ab/<hex>/data
            if len(parts) == 4 and parts[3] == "data":
                blobs["%s:%s" % (parts[0], parts[2])] = int(contents.findtext(s3lite.S3_NS + "Size") or 0)
        token = root.findtext(s3lite.S3_NS + "NextContinuationToken")
        if root.findtext(s3lite.S3_NS + "IsTruncated") != "true" or not token:
            break
    print(json.dumps(blobs, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
