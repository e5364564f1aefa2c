# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of ``_registry_config.storage``: every storage driver for registry 2.x and 3.x.

Every structure is rendered to YAML the way the role's template does (sorted keys, block style)
and parsed back before it is compared, so what is checked is what the registry would read.
"""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.dockyard.registry.plugins.module_utils import _registry_config as rc
from ansible_collections.dockyard.registry.tests.unit.plugins.module_utils._registry_config.inputs import (
    OSS,
    S3_CEPH,
    SECRET,
    expected,
    params,
    rendered,
)


# ---------------------------------------------------------------------------------------------
# Storage drivers x registry major version
# ---------------------------------------------------------------------------------------------

CASES = [
    pytest.param(
        {"storage_driver": "filesystem", "storage_filesystem": {"rootdirectory": "/var/lib/registry", "maxthreads": 100}},
        {"filesystem": {"rootdirectory": "/var/lib/registry", "maxthreads": 100}},
        {"filesystem": {"rootdirectory": "/var/lib/registry", "maxthreads": 100}},
        id="filesystem",
    ),
    pytest.param(
        {"storage_driver": "filesystem", "storage_filesystem": {}},
        {"filesystem": {"rootdirectory": "/var/lib/registry"}},
        {"filesystem": {"rootdirectory": "/var/lib/registry"}},
        id="filesystem-default-root",
    ),
    pytest.param(
        {"storage_driver": "inmemory"},
        {"inmemory": {}},
        {"inmemory": {}},
        id="inmemory",
    ),
    pytest.param(
        # AWS S3: no endpoint, virtual-hosted style on both versions, SSE-KMS.
        {"storage_driver": "s3", "storage_s3": {
            "accesskey": "AKIA", "secretkey": "aws-secret", "region": "eu-central-1", "bucket": "reg",
            "encrypt": True, "keyid": "arn:aws:kms:eu-central-1:1:key/x", "storageclass": "STANDARD",
            "objectacl": "bucket-owner-full-control", "multipartcopychunksize": 33554432,
            "multipartcopymaxconcurrency": 100, "multipartcopythresholdsize": 33554432}},
        {"s3": {"accesskey": "AKIA", "secretkey": "aws-secret", "region": "eu-central-1", "bucket": "reg",
                "encrypt": True, "keyid": "arn:aws:kms:eu-central-1:1:key/x", "storageclass": "STANDARD",
                "objectacl": "bucket-owner-full-control", "multipartcopychunksize": 33554432,
                "multipartcopymaxconcurrency": 100, "multipartcopythresholdsize": 33554432}},
        {"s3": {"accesskey": "AKIA", "secretkey": "aws-secret", "region": "eu-central-1", "bucket": "reg",
                "encrypt": True, "keyid": "arn:aws:kms:eu-central-1:1:key/x", "storageclass": "STANDARD",
                "objectacl": "bucket-owner-full-control", "multipartcopychunksize": 33554432,
                "multipartcopymaxconcurrency": 100, "multipartcopythresholdsize": 33554432}},
        id="s3-aws",
    ),
    pytest.param(
        # Ceph RGW / MinIO: path style. 2.8 does it by itself with regionendpoint (and has no
        # forcepathstyle key); 3.x must be told.
        {"storage_driver": "s3", "storage_s3": S3_CEPH},
        {"s3": dict(S3_CEPH)},
        {"s3": dict(S3_CEPH, forcepathstyle=True)},
        id="s3-ceph-path-style",
    ),
    pytest.param(
        # Ceph RGW with rgw_dns_name: virtual-hosted style is a 3.x-only choice (2.x is refused below).
        {"storage_driver": "s3", "storage_s3": dict(S3_CEPH, forcepathstyle=True)},
        {"s3": dict(S3_CEPH)},
        {"s3": dict(S3_CEPH, forcepathstyle=True)},
        id="s3-explicit-path-style",
    ),
    pytest.param(
        {"storage_driver": "s3", "storage_s3": {"region": "us-east-1", "bucket": "reg"},
         "storage_s3_instance_credentials": True},
        {"s3": {"region": "us-east-1", "bucket": "reg"}},
        {"s3": {"region": "us-east-1", "bucket": "reg"}},
        id="s3-instance-credentials",
    ),
    pytest.param(
        # The recipe (2.x): native oss driver with exactly its keys. 3.x: s3 driver at the OSS S3
        # endpoint, virtual-hosted style, SigV4 with the general region id.
        {"storage_driver": "oss", "storage_oss": OSS},
        {"oss": {"accesskeyid": "LTAIexample", "accesskeysecret": "oss-secret", "region": "oss-cn-beijing",
                 "bucket": "images", "rootdirectory": "registry"}},
        {"s3": {"accesskey": "LTAIexample", "secretkey": "oss-secret", "region": "cn-beijing",
                "regionendpoint": "https://s3.oss-cn-beijing.aliyuncs.com", "forcepathstyle": False,
                "bucket": "images", "rootdirectory": "registry", "v4auth": True}},
        id="oss",
    ),
    pytest.param(
        {"storage_driver": "oss", "storage_oss": dict(OSS, region="cn-hangzhou", internal=True, secure=True,
                                                      encrypt=True, chunksize=10485760)},
        {"oss": {"accesskeyid": "LTAIexample", "accesskeysecret": "oss-secret", "region": "oss-cn-hangzhou",
                 "bucket": "images", "rootdirectory": "registry", "internal": True, "secure": True,
                 "encrypt": True, "chunksize": 10485760}},
        {"s3": {"accesskey": "LTAIexample", "secretkey": "oss-secret", "region": "cn-hangzhou",
                "regionendpoint": "https://s3.oss-cn-hangzhou-internal.aliyuncs.com", "forcepathstyle": False,
                "bucket": "images", "rootdirectory": "registry", "v4auth": True, "secure": True,
                "encrypt": True, "chunksize": 10485760}},
        id="oss-internal",
    ),
    pytest.param(
        # A custom (CNAME) domain: the native driver's `endpoint`, or the s3 regionendpoint.
        {"storage_driver": "oss", "storage_oss": dict(OSS, endpoint="oss.example.cn")},
        {"oss": {"accesskeyid": "LTAIexample", "accesskeysecret": "oss-secret", "region": "oss-cn-beijing",
                 "bucket": "images", "rootdirectory": "registry", "endpoint": "oss.example.cn"}},
        {"s3": {"accesskey": "LTAIexample", "secretkey": "oss-secret", "region": "cn-beijing",
                "regionendpoint": "https://oss.example.cn", "forcepathstyle": False,
                "bucket": "images", "rootdirectory": "registry", "v4auth": True}},
        id="oss-custom-endpoint",
    ),
    pytest.param(
        {"storage_driver": "azure", "storage_azure": {"accountname": "acct", "accountkey": "a2V5", "container": "reg",
                                                      "realm": "core.chinacloudapi.cn"}},
        {"azure": {"accountname": "acct", "accountkey": "a2V5", "container": "reg", "realm": "core.chinacloudapi.cn"}},
        {"azure": {"accountname": "acct", "accountkey": "a2V5", "container": "reg", "realm": "core.chinacloudapi.cn"}},
        id="azure",
    ),
    pytest.param(
        {"storage_driver": "gcs", "storage_gcs": {"bucket": "reg", "keyfile": "/etc/gcs/key.json",
                                                  "rootdirectory": "/dockyard", "chunksize": 5242880}},
        {"gcs": {"bucket": "reg", "keyfile": "/etc/gcs/key.json", "rootdirectory": "/dockyard", "chunksize": 5242880}},
        {"gcs": {"bucket": "reg", "keyfile": "/etc/gcs/key.json", "rootdirectory": "/dockyard", "chunksize": 5242880}},
        id="gcs",
    ),
]


@pytest.mark.parametrize("inputs, storage_2x, storage_3x", CASES)
def test_storage_driver_per_major_version(inputs, storage_2x, storage_3x):
    assert rendered(rc.build_config(params(**inputs), "2.8.3")) == expected(storage_2x)
    assert rendered(rc.build_config(params(**inputs), "3.0.0")) == expected(storage_3x)


def test_version_derived_from_image_tag():
    oss = params(storage_driver="oss", storage_oss=OSS)
    assert "oss" in rc.build_config(dict(oss, image="registry:2.8.3"), "")["storage"]
    assert "s3" in rc.build_config(dict(oss, image="registry:3.0.0"), "")["storage"]


def test_recipe_config_with_a_2x_image():
    """The recipe's config.yml (native oss, delete off, redirect on, inmemory cache, upload purging,
    debug server, nosniff) is the floor; only the listen addresses differ (private, not 0.0.0.0)."""
    recipe_inputs = params(
        image="registry:2.8.3",
        storage_driver="oss",
        storage_oss={"accesskeyid": "<id>", "accesskeysecret": "<key>", "region": "oss-cn-beijing",
                     "bucket": "<bucket>", "rootdirectory": "<root>"},
        log_level="debug",
        log_fields={"service": "registry", "environment": "staging"},
        public_url="",
        http_draintimeout="",
        health_storagedriver_enabled=False,
        prometheus_enabled=False,
    )
    recipe = yaml.safe_load("""
version: 0.1
log:
  level: debug
  formatter: text
  fields:
    service: registry
    environment: staging
storage:
  oss:
    accesskeyid: <id>
    accesskeysecret: <key>
    region: oss-cn-beijing
    bucket: <bucket>
    rootdirectory: <root>
  delete:
    enabled: false
  redirect:
    disable: false
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: true
      age: 168h
      interval: 24h
      dryrun: false
http:
  addr: 0.0.0.0:5000
  debug:
    addr: 0.0.0.0:5001
  headers:
    X-Content-Type-Options: [nosniff]
""")
    ours = rendered(rc.build_config(recipe_inputs, ""))
    # Ours: the version as a string (both parse the same), private addresses, a secret shared by
    # every backend, explicit readonly: false, and the storage health check switched off above.
    assert ours["version"] == "0.1" and recipe["version"] == 0.1
    assert ours["http"].pop("addr") == ":5000" and recipe["http"].pop("addr") == "0.0.0.0:5000"
    assert ours["http"]["debug"].pop("addr") == ":5001" and recipe["http"]["debug"].pop("addr") == "0.0.0.0:5001"
    assert ours["http"].pop("secret") == SECRET
    assert ours["storage"]["maintenance"].pop("readonly") == {"enabled": False}
    assert ours.pop("health") == {"storagedriver": {"enabled": False}}
    del ours["version"], recipe["version"]
    assert ours == recipe


def test_storage_extra_params_pass_through():
    config = rc.build_config(params(storage_driver="s3", storage_s3=S3_CEPH,
                                    storage_extra_params={"usefipsendpoint": False, "skipverify": True}), "3")
    assert config["storage"]["s3"]["usefipsendpoint"] is False
    assert config["storage"]["s3"]["skipverify"] is True


def test_blank_driver_values_are_left_out():
    config = rc.build_config(params(storage_driver="s3", storage_s3=dict(S3_CEPH, rootdirectory="", keyid=None)), "3")
    assert "rootdirectory" not in config["storage"]["s3"]
    assert "keyid" not in config["storage"]["s3"]


def test_string_booleans_and_integers_from_extra_vars():
    config = rc.build_config(params(storage_driver="s3", storage_s3=dict(S3_CEPH, secure="false", chunksize="10485760"),
                                    delete_enabled="yes", port="5000"), "3")
    assert config["storage"]["s3"]["secure"] is False
    assert config["storage"]["s3"]["chunksize"] == 10485760
    assert config["storage"]["delete"] == {"enabled": True}
