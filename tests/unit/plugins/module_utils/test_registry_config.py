# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the registry config.yml model (no Ansible involved).

Every structure is rendered to YAML the way the role's template does (sorted keys, block style)
and parsed back before it is compared, so what is checked is what the registry would read.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from ansible_collections.dockyard.registry.plugins.module_utils import _registry_config as rc

SECRET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01"

# What every storage case shares: the role defaults (defaults/main.yml) as the role passes them.
BASE = {
    "host": "backend1",
    "image": "docker.io/library/registry:3.0.0",
    "backends": ["backend1"],
    "env": {"OTEL_TRACES_EXPORTER": "none"},
    "network_mode": "bridge",
    "listen_address": "10.0.0.11",
    "listen_on_all_interfaces": False,
    "port": 5000,
    "http_secret": SECRET,
    "public_url": "https://registry.example.com",
    "relativeurls": False,
    "http_draintimeout": "30s",
    "headers": {"X-Content-Type-Options": ["nosniff"]},
    "storage_driver": "filesystem",
    "storage_filesystem": {"rootdirectory": "/var/lib/registry"},
    "storage_s3": {},
    "storage_s3_instance_credentials": False,
    "storage_oss": {},
    "storage_azure": {},
    "storage_gcs": {},
    "storage_extra_params": {},
    "filesystem_shared": False,
    "delete_enabled": False,
    "redirect_disable": False,
    "readonly": False,
    "blobdescriptor_cache": "inmemory",
    "blobdescriptor_cache_size": 0,
    "tag_concurrencylimit": 0,
    "uploadpurging_enabled": True,
    "uploadpurging_age": "168h",
    "uploadpurging_interval": "24h",
    "uploadpurging_dryrun": False,
    "redis_addrs": [],
    "redis_username": "",
    "redis_password": "",
    "redis_db": 0,
    "redis_dialtimeout": "",
    "redis_readtimeout": "",
    "redis_writetimeout": "",
    "redis_pool_maxidle": 0,
    "redis_pool_size": 0,
    "redis_pool_idletimeout": "",
    "redis_tls_enabled": False,
    "redis_tls_certificate": "",
    "redis_tls_key": "",
    "redis_tls_clientcas": [],
    "log_level": "info",
    "log_formatter": "text",
    "log_fields": {"service": "registry"},
    "log_accesslog_disabled": False,
    "notifications": {},
    "health_storagedriver_enabled": True,
    "health_storagedriver_interval": "10s",
    "health_storagedriver_threshold": 3,
    "debug_enabled": True,
    "debug_address": "127.0.0.1",
    "debug_port": 5001,
    "prometheus_enabled": True,
    "prometheus_path": "/metrics",
    "auth_htpasswd_enabled": False,
    "auth_htpasswd_realm": "registry.example.com",
    "auth_htpasswd_path": "/etc/distribution/htpasswd",
}

# The sections that do not depend on the storage driver, with the defaults above.
COMMON = {
    "version": "0.1",
    "log": {"level": "info", "formatter": "text", "fields": {"service": "registry"}},
    "http": {
        "addr": ":5000",
        "secret": SECRET,
        "host": "https://registry.example.com",
        "draintimeout": "30s",
        "headers": {"X-Content-Type-Options": ["nosniff"]},
        "debug": {"addr": ":5001", "prometheus": {"enabled": True, "path": "/metrics"}},
    },
    "health": {"storagedriver": {"enabled": True, "interval": "10s", "threshold": 3}},
}
STORAGE_OPTIONS = {
    "delete": {"enabled": False},
    "redirect": {"disable": False},
    "cache": {"blobdescriptor": "inmemory"},
    "maintenance": {
        "uploadpurging": {"enabled": True, "age": "168h", "interval": "24h", "dryrun": False},
        "readonly": {"enabled": False},
    },
}

S3_CEPH = {
    "accesskey": "AKIDCEPH",
    "secretkey": "ceph-secret",
    "region": "us-east-1",
    "regionendpoint": "http://10.0.0.5:7480",
    "bucket": "registry",
    "secure": False,
    "v4auth": True,
    "chunksize": 10485760,
    "rootdirectory": "/dockyard",
}
OSS = {
    "accesskeyid": "LTAIexample",
    "accesskeysecret": "oss-secret",
    "region": "oss-cn-beijing",
    "bucket": "images",
    "rootdirectory": "registry",
}


def params(**overrides):
    out = copy.deepcopy(BASE)
    out.update(overrides)
    return out


def rendered(config):
    """What the role writes (to_nice_yaml(indent=2, sort_keys=true)) as the registry reads it back."""
    text = yaml.safe_dump(config, indent=2, sort_keys=True, default_flow_style=False, allow_unicode=True)
    return yaml.safe_load(text)


def expected(storage, **sections):
    out = copy.deepcopy(COMMON)
    out["storage"] = dict(copy.deepcopy(STORAGE_OPTIONS), **storage)
    out.update(sections)
    return out


# ---------------------------------------------------------------------------------------------
# Durations
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, seconds", [
    ("168h", 168 * 3600),
    ("24h", 86400),
    ("10s", 10),
    ("1h30m", 5400),
    ("2h10m5s", 7805),
    ("500ms", 0.5),
    ("1.5h", 5400),
    (".5s", 0.5),
    ("300us", 0.0003),
    ("300\u00b5s", 0.0003),
    ("100ns", 1e-7),
    ("0", 0),
    (" 45m ", 2700),
])
def test_parse_duration_valid(text, seconds):
    assert rc.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["", "7d", "10", "1 h", "h", "1h-30m", "-5s", "1.2.3s", "10S", "1w", 10, 1.5, True, None])
def test_parse_duration_invalid(value):
    with pytest.raises(ValueError, match="registry_x must be a Go duration"):
        rc.parse_duration(value, "registry_x")


def test_zero_duration_refused_where_it_makes_no_sense():
    errors = rc.config_errors(params(uploadpurging_interval="0"))
    assert errors == ["registry_uploadpurging_interval must be longer than zero, got '0'"]


# ---------------------------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("image, version, major", [
    ("docker.io/library/registry:3.0.0", "", 3),
    ("registry:2", "", 2),
    ("registry:2.8.3", None, 2),
    ("localhost:5000/dockyard/registry:2.8.2-debian", "", 2),
    ("registry:3.0.0-rc.1", "", 3),
    ("registry:v3.0.0", "", 3),
    ("registry:3.0.0@sha256:" + "a" * 64, "", 3),
    ("registry:latest", "2", 2),
    ("registry@sha256:" + "b" * 64, 3, 3),
    ("registry:3.0.0", "2.8.3", 2),  # explicit wins
    ("mirror.local:5000/registry", "v3.0", 3),
])
def test_major_version(image, version, major):
    assert rc.major_version(image, version) == major


@pytest.mark.parametrize("image, version, message", [
    ("registry:latest", "", r"cannot derive .* tag 'latest'.*set registry_version"),
    ("localhost:5000/registry", "", r"cannot derive .* tag ''"),
    ("registry:1.0", "", r"registry 1, which is not supported"),
    ("registry:3.0.0", "4", r"major version 4 is not supported"),
    ("registry:3.0.0", "three", r"registry_version must be a registry release"),
    ("registry:3.0.0", True, r"registry_version must be a registry release"),
])
def test_major_version_errors(image, version, message):
    with pytest.raises(ValueError, match=message):
        rc.major_version(image, version)


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


# ---------------------------------------------------------------------------------------------
# What a version cannot do, and other refusals
# ---------------------------------------------------------------------------------------------

REFUSALS = [
    pytest.param({"storage_driver": "oss", "storage_oss": dict(OSS, api="native")}, "3.0.0",
                 r"registry_storage_driver: 'oss' with registry_storage_oss.api: native is not available in registry 3.x "
                 r"\(Distribution 3.0 removed the native oss driver\); use registry_storage_oss.api: s3",
                 id="native-oss-on-3x"),
    pytest.param({"storage_driver": "oss", "storage_oss": dict(OSS, api="s3")}, "2.8.3",
                 r"registry_storage_oss.api: s3 is not possible with registry 2.x: .*SecondLevelDomainForbidden",
                 id="oss-via-s3-on-2x"),
    pytest.param({"storage_driver": "s3", "storage_s3": dict(S3_CEPH, regionendpoint="https://s3.oss-cn-beijing.aliyuncs.com",
                                                             secure=True)}, "2.8.3",
                 r"registry_storage_s3.regionendpoint .* is Aliyun OSS, which rejects the path-style requests",
                 id="oss-endpoint-with-s3-on-2x"),
    pytest.param({"storage_driver": "s3", "storage_s3": dict(S3_CEPH, regionendpoint="https://s3.oss-cn-beijing.aliyuncs.com",
                                                             forcepathstyle=True)}, "3.0.0",
                 r"registry_storage_s3.forcepathstyle: Aliyun OSS .* accepts only virtual-hosted style",
                 id="oss-endpoint-path-style-on-3x"),
    pytest.param({"storage_driver": "s3", "storage_s3": dict(S3_CEPH, forcepathstyle=False)}, "2.8.3",
                 r"registry_storage_s3.forcepathstyle: false is not possible with registry 2.x: Distribution 2.8 always sends "
                 r"path-style requests when regionendpoint is set",
                 id="virtual-hosted-on-2x"),
    pytest.param({"storage_driver": "s3", "storage_s3": {"accesskey": "a", "secretkey": "b", "region": "us-east-1",
                                                         "bucket": "x", "forcepathstyle": True}}, "2.8.3",
                 r"registry_storage_s3.forcepathstyle: true needs regionendpoint with registry 2.x",
                 id="path-style-without-endpoint-on-2x"),
    pytest.param({"storage_driver": "s3", "storage_s3": dict(S3_CEPH, usedualstack=True)}, "2.8.3",
                 r"registry_storage_s3: unknown key\(s\) usedualstack for registry 2.x; valid keys: .*registry_storage_extra_params",
                 id="3x-only-s3-key-on-2x"),
    pytest.param({"storage_driver": "s3", "storage_s3": dict(S3_CEPH, bucket="")}, "3",
                 r"registry_storage_s3.bucket is required", id="s3-no-bucket"),
    pytest.param({"storage_driver": "s3", "storage_s3": {"bucket": "b", "accesskey": "a", "secretkey": "s"}}, "3",
                 r"registry_storage_s3.region is required", id="s3-no-region"),
    pytest.param({"storage_driver": "s3", "storage_s3": {"bucket": "b", "region": "us-east-1"}}, "3",
                 r"registry_storage_s3: accesskey and secretkey are required \(vault them\); leave both unset only with "
                 r"registry_storage_s3_instance_credentials: true", id="s3-no-credentials"),
    pytest.param({"storage_driver": "s3", "storage_s3": {"bucket": "b", "region": "us-east-1", "accesskey": "a"}}, "3",
                 r"registry_storage_s3: accesskey and secretkey are required", id="s3-half-credentials"),
    pytest.param({"storage_driver": "s3", "storage_s3": {"bucket": "b", "region": "us-east-1", "accesskey": "a"},
                  "storage_s3_instance_credentials": True}, "3",
                 r"registry_storage_s3: set both accesskey and secretkey, or neither", id="s3-half-credentials-iam"),
    pytest.param({"storage_driver": "s3", "storage_s3": dict(S3_CEPH, chunksize=1024)}, "3",
                 r"registry_storage_s3.chunksize must be at least 5242880", id="s3-small-chunks"),
    pytest.param({"storage_driver": "s3", "storage_s3": dict(S3_CEPH, regionendpoint="10.0.0.5:7480")}, "3",
                 r"registry_storage_s3.regionendpoint must be an http:// or https:// URL", id="s3-endpoint-no-scheme"),
    pytest.param({"storage_driver": "s3", "storage_s3": dict(S3_CEPH, keyid="k")}, "3",
                 r"registry_storage_s3.keyid is only used with registry_storage_s3.encrypt: true", id="s3-keyid-no-encrypt"),
    pytest.param({"storage_driver": "s3", "storage_s3": dict(S3_CEPH, secure="maybe")}, "3",
                 r"registry_storage_s3.secure must be a boolean", id="s3-bad-bool"),
    pytest.param({"storage_driver": "oss", "storage_oss": {"region": "oss-cn-beijing", "bucket": "b"}}, "2",
                 r"registry_storage_oss: accesskeyid and accesskeysecret are required \(vault them\)$", id="oss-no-credentials"),
    pytest.param({"storage_driver": "oss", "storage_oss": dict(OSS, bucket="")}, "2",
                 r"registry_storage_oss.bucket is required", id="oss-no-bucket"),
    pytest.param({"storage_driver": "oss", "storage_oss": dict(OSS, region="beijing")}, "3",
                 r"registry_storage_oss.region must be an OSS region such as oss-cn-beijing", id="oss-bad-region"),
    pytest.param({"storage_driver": "oss", "storage_oss": dict(OSS, api="auto-ish")}, "3",
                 r"registry_storage_oss.api must be one of auto, native, s3", id="oss-bad-api"),
    pytest.param({"storage_driver": "swift"}, "2",
                 r"registry_storage_driver: 'swift' is not supported: OpenStack Swift was removed in registry 3.x", id="swift"),
    pytest.param({"storage_driver": "ceph"}, "3",
                 r"registry_storage_driver must be one of filesystem, s3, oss, azure, gcs, inmemory, got 'ceph'", id="unknown-driver"),
    pytest.param({"storage_driver": "filesystem", "storage_filesystem": {"rootdir": "/x"}}, "3",
                 r"registry_storage_filesystem: unknown key\(s\) rootdir for registry 3.x; valid keys: maxthreads, rootdirectory",
                 id="filesystem-typo"),
    pytest.param({"storage_driver": "filesystem", "storage_filesystem": {"rootdirectory": "data"}}, "3",
                 r"registry_storage_filesystem.rootdirectory must be an absolute path", id="filesystem-relative"),
    pytest.param({"storage_driver": "azure", "storage_azure": {"accountname": "a", "accountkey": "k"}}, "3",
                 r"registry_storage_azure.container is required", id="azure-no-container"),
    pytest.param({"storage_driver": "azure", "storage_azure": {"container": "c", "credentials": {"type": "default_credentials"}}}, "2",
                 r"registry_storage_azure: unknown key\(s\) credentials for registry 2.x", id="azure-credentials-on-2x"),
    pytest.param({"storage_driver": "gcs", "storage_gcs": {"bucket": "b", "chunksize": 300000}}, "3",
                 r"registry_storage_gcs.chunksize must be a multiple of 262144", id="gcs-chunk"),
    pytest.param({"tag_concurrencylimit": 8}, "2.8.3",
                 r"registry_tag_concurrencylimit \(storage.tag.concurrencylimit\) exists only in registry 3.x", id="tag-on-2x"),
    pytest.param({"blobdescriptor_cache_size": 5000}, "2.8.3",
                 r"registry_blobdescriptor_cache_size \(storage.cache.blobdescriptorsize\) exists only in registry 3.x",
                 id="cache-size-on-2x"),
    pytest.param({"blobdescriptor_cache": "redis"}, "3",
                 r"registry_redis_addrs is required with registry_blobdescriptor_cache: redis", id="redis-no-addr"),
    pytest.param({"blobdescriptor_cache": "redis", "redis_addrs": ["r1:6379", "r2:6379"]}, "2.8.3",
                 r"registry_redis_addrs: registry 2.x takes exactly one Redis address", id="redis-cluster-on-2x"),
    pytest.param({"blobdescriptor_cache": "redis", "redis_addrs": ["r1"]}, "3",
                 r"registry_redis_addrs\[0\] must be host:port", id="redis-no-port"),
    pytest.param({"blobdescriptor_cache": "redis", "redis_addrs": ["r1:6379"], "redis_username": "reg"}, "2",
                 r"registry_redis_username \(Redis ACL user\) exists only in registry 3.x", id="redis-user-on-2x"),
    pytest.param({"blobdescriptor_cache": "redis", "redis_addrs": ["r1:6379"], "redis_tls_enabled": True}, "3",
                 r"registry_redis_tls_enabled: registry 3.x enables Redis TLS through a client certificate", id="redis-tls-3x"),
    pytest.param({"blobdescriptor_cache": "redis", "redis_addrs": ["r1:6379"], "redis_tls_certificate": "/c.pem",
                  "redis_tls_key": "/k.pem"}, "2",
                 r"registry_redis_tls_certificate/key/clientcas exist only in registry 3.x", id="redis-cert-on-2x"),
    pytest.param({"blobdescriptor_cache": "redis", "redis_addrs": ["r1:6379"], "redis_dialtimeout": "10"}, "3",
                 r"registry_redis_dialtimeout must be a Go duration string", id="redis-bare-number"),
    pytest.param({"listen_address": "0.0.0.0"}, "3",
                 r"registry_listen_address '0.0.0.0' listens on every interface, so clients could reach the backend "
                 r"directly and bypass the proxy", id="wildcard-listen"),
    pytest.param({"listen_address": "backend1.internal"}, "3",
                 r"registry_listen_address must be an IP address \(Docker publishes ports on IP addresses only\)",
                 id="listen-name-on-bridge"),
    pytest.param({"listen_address": ""}, "3", r"registry_listen_address is empty: set dockyard_backend_address",
                 id="no-listen-address"),
    pytest.param({"port": 70000}, "3", r"registry_port must be at most 65535", id="bad-port"),
    pytest.param({"network_mode": "host", "port": 5001}, "3",
                 r"registry_debug_port 5001 must differ from registry_port", id="debug-port-clash"),
    pytest.param({"http_secret": ""}, "3", r"registry_http_secret is empty", id="no-secret"),
    pytest.param({"http_secret": "short"}, "3", r"registry_http_secret must be at least 16 characters", id="short-secret"),
    pytest.param({"public_url": "registry.example.com"}, "3",
                 r"registry_public_url must be the external URL clients use", id="public-url-no-scheme"),
    pytest.param({"public_url": "https://registry.example.com/v2/"}, "3",
                 r"registry_public_url must be the external URL clients use", id="public-url-path"),
    pytest.param({"headers": {"Bad Header": ["x"]}}, "3", r"registry_headers: 'Bad Header' is not a valid HTTP header name",
                 id="bad-header"),
    pytest.param({"log_level": "verbose"}, "3", r"registry_log_level must be one of error, warn, info, debug", id="log-level"),
    pytest.param({"log_formatter": "xml"}, "3", r"registry_log_formatter must be one of text, json, logstash", id="log-format"),
    pytest.param({"uploadpurging_age": "7d"}, "3", r"registry_uploadpurging_age must be a Go duration string", id="age-7d"),
    pytest.param({"health_storagedriver_interval": "often"}, "3",
                 r"registry_health_storagedriver_interval must be a Go duration string", id="health-interval"),
    pytest.param({"http_draintimeout": "30"}, "3", r"registry_http_draintimeout must be a Go duration string", id="drain"),
    pytest.param({"prometheus_path": "metrics"}, "3", r"registry_prometheus_path must start with /", id="prom-path"),
    pytest.param({"auth_htpasswd_enabled": True, "auth_htpasswd_path": ""}, "3", r"registry_auth_htpasswd_path is required",
                 id="htpasswd-no-path"),
    pytest.param({"notifications": {"endpoints": [{"name": "hook"}]}}, "3",
                 r"registry_notifications.endpoints\[0\].url is required", id="notification-no-url"),
    pytest.param({"notifications": {"endpoints": [{"name": "hook", "url": "http://h/e", "timeout": "1"}]}}, "3",
                 r"registry_notifications.endpoints\[0\].timeout must be a Go duration string", id="notification-timeout"),
    pytest.param({"notifications": {"endpoints": [{"name": "a", "url": "http://h/e"}, {"name": "a", "url": "http://h/f"}]}}, "3",
                 r"registry_notifications.endpoints\[1\].name 'a' is used twice", id="notification-dup"),
    pytest.param({"notifications": {"endpoint": []}}, "3",
                 r"registry_notifications: unknown key\(s\) endpoint; valid keys: endpoints, events", id="notification-typo"),
    pytest.param({"storage_driver": "inmemory", "backends": ["b1", "b2"]}, "3",
                 r"registry_storage_driver: 'inmemory' keeps images inside one process; 2 backends \(b1, b2\)", id="inmemory-lb"),
    pytest.param({"backends": ["b1", "b2", "b3"]}, "3",
                 r"registry_storage_driver: 'filesystem' with 3 backends \(b1, b2, b3\): each host would keep its own copy.*"
                 r"registry_filesystem_shared: true", id="filesystem-lb"),
    pytest.param({"env": {"REGISTRY_HTTP_SECRET": "x"}}, "3",
                 r"registry_env: REGISTRY_HTTP_SECRET would override config.yml from the environment", id="env-override"),
    pytest.param({"env": {"AWS_SECRET_ACCESS_KEY": "x"}}, "3",
                 r"registry_env: AWS_SECRET_ACCESS_KEY looks like a secret; secrets belong in config.yml", id="env-secret"),
    pytest.param({"env": {"AWS_CA_BUNDLE": "/etc/ssl/certs/ca.pem"}}, "2.8.3",
                 r"registry_env: AWS_CA_BUNDLE makes Distribution 2.8 panic at start", id="env-ca-bundle-2x"),
    pytest.param({"env": {"DEBUG": True}}, "3", r"registry_env: the value of DEBUG must be a string \(quote it\)", id="env-bool"),
    pytest.param({"env": {"1X": "y"}}, "3", r"registry_env: '1X' is not a valid environment variable name", id="env-name"),
]


@pytest.mark.parametrize("overrides, version, message", REFUSALS)
def test_refusals_name_the_variable(overrides, version, message):
    errors = rc.config_errors(params(**overrides), version)
    assert len(errors) == 1, errors
    assert errors[0].startswith("registry_")
    with pytest.raises(ValueError, match=message):
        rc.build_config(params(**overrides), version)


def test_aws_ca_bundle_is_fine_on_3x():
    assert rc.config_errors(params(env={"AWS_CA_BUNDLE": "/etc/ssl/certs/ca.pem"}), "3") == []


def test_every_problem_is_reported_at_once():
    errors = rc.config_errors(params(
        image="registry:2.8.3",
        storage_driver="s3", storage_s3={"bucket": "b", "region": "us-east-1"},
        uploadpurging_age="7d", tag_concurrencylimit=4, log_level="loud", http_secret="",
        env={"REGISTRY_STORAGE": "s3"},
    ), "")
    assert [e.split(" ")[0].split(":")[0].split(".")[0] for e in errors] == [
        "registry_log_level",
        "registry_storage_s3",
        "registry_uploadpurging_age",
        "registry_tag_concurrencylimit",
        "registry_http_secret",
        "registry_env",
    ]
    with pytest.raises(ValueError) as info:
        rc.build_config(params(uploadpurging_age="7d", log_level="loud"), "3")
    assert str(info.value).count("\n") == 1


def test_errors_never_echo_secret_values():
    secret_dict = {"password": "hunter2-secret"}
    errors = rc.config_errors(params(http_secret=secret_dict, storage_driver="s3",
                                     storage_s3=dict(S3_CEPH, secretkey=["ceph-secret-in-a-list"])), "3")
    assert errors and all("hunter2" not in e and "ceph-secret" not in e for e in errors)


def test_lb_problem_messages_do_not_contain_digests_or_secrets():
    me = params(host="b1")
    other = params(host="b2", http_secret="x" * 40)
    me["lb_peers"] = {"b1": rc.lb_fingerprint(me), "b2": rc.lb_fingerprint(other)}
    errors = rc.config_errors(me, "3")
    assert len(errors) == 1
    assert SECRET not in errors[0] and rc.lb_fingerprint(other)["http_secret"] not in errors[0]


# ---------------------------------------------------------------------------------------------
# The other sections
# ---------------------------------------------------------------------------------------------


def test_redis_2x():
    config = rc.build_config(params(
        blobdescriptor_cache="redis", redis_addrs=["redis.internal:6379"], redis_password="pw", redis_db=2,
        redis_dialtimeout="10ms", redis_readtimeout="10ms", redis_writetimeout="10ms",
        redis_pool_maxidle=16, redis_pool_size=64, redis_pool_idletimeout="300s", redis_tls_enabled=True,
    ), "2.8.3")
    assert rendered(config)["redis"] == {
        "addr": "redis.internal:6379", "password": "pw", "db": 2,
        "dialtimeout": "10ms", "readtimeout": "10ms", "writetimeout": "10ms",
        "pool": {"maxidle": 16, "maxactive": 64, "idletimeout": "300s"},
        "tls": {"enabled": True},
    }
    assert config["storage"]["cache"] == {"blobdescriptor": "redis"}


def test_redis_3x():
    config = rc.build_config(params(
        blobdescriptor_cache="redis", redis_addrs=["10.0.0.7:6379", "[fd00::7]:6379"], redis_username="registry",
        redis_password="pw", redis_dialtimeout="10ms", redis_pool_maxidle=16, redis_pool_size=64,
        redis_pool_idletimeout="300s", redis_tls_certificate="/etc/distribution/redis.crt",
        redis_tls_key="/etc/distribution/redis.key", redis_tls_clientcas=["/etc/distribution/ca.crt"],
    ), "3.0.0")
    assert rendered(config)["redis"] == {
        "addrs": ["10.0.0.7:6379", "[fd00::7]:6379"], "username": "registry", "password": "pw",
        "dialtimeout": "10ms", "maxidleconns": 16, "poolsize": 64, "connmaxidletime": "300s",
        "tls": {"certificate": "/etc/distribution/redis.crt", "key": "/etc/distribution/redis.key",
                "clientcas": ["/etc/distribution/ca.crt"]},
    }


def test_redis_section_only_with_the_redis_cache():
    assert "redis" not in rc.build_config(params(redis_addrs=["r:6379"]), "3")


def test_3x_only_storage_options():
    config = rc.build_config(params(tag_concurrencylimit=8, blobdescriptor_cache_size=20000), "3.0.0")
    assert config["storage"]["tag"] == {"concurrencylimit": 8}
    assert config["storage"]["cache"] == {"blobdescriptor": "inmemory", "blobdescriptorsize": 20000}


def test_storage_switches():
    config = rc.build_config(params(delete_enabled=True, redirect_disable=True, readonly=True,
                                    blobdescriptor_cache="none", uploadpurging_enabled=False), "3")
    assert config["storage"]["delete"] == {"enabled": True}
    assert config["storage"]["redirect"] == {"disable": True}
    assert "cache" not in config["storage"]
    assert config["storage"]["maintenance"] == {"uploadpurging": {"enabled": False}, "readonly": {"enabled": True}}


def test_host_network_binds_the_private_address():
    config = rc.build_config(params(network_mode="host", listen_address="10.0.0.11", port=5050,
                                    debug_address="10.0.0.11", debug_port=5051), "3")
    assert config["http"]["addr"] == "10.0.0.11:5050"
    assert config["http"]["debug"]["addr"] == "10.0.0.11:5051"


def test_host_network_ipv6_and_names():
    config = rc.build_config(params(network_mode="host", listen_address="fd00::11", debug_address="::1"), "3")
    assert config["http"]["addr"] == "[fd00::11]:5000"
    assert config["http"]["debug"]["addr"] == "[::1]:5001"
    config = rc.build_config(params(network_mode="host", listen_address="backend1.internal"), "3")
    assert config["http"]["addr"] == "backend1.internal:5000"


def test_listen_on_all_interfaces_when_asked():
    config = rc.build_config(params(listen_address="0.0.0.0", listen_on_all_interfaces=True), "3")
    assert config["http"]["addr"] == ":5000"
    config = rc.build_config(params(network_mode="host", listen_address="0.0.0.0", listen_on_all_interfaces=True), "3")
    assert config["http"]["addr"] == ":5000"


def test_debug_server_off_and_prometheus_off():
    assert "debug" not in rc.build_config(params(debug_enabled=False), "3")["http"]
    assert rc.build_config(params(prometheus_enabled=False), "3")["http"]["debug"] == {"addr": ":5001"}


def test_http_options():
    config = rc.build_config(params(public_url="https://registry.example.com:5443/", relativeurls=True,
                                    http_draintimeout="", headers={"X-Content-Type-Options": "nosniff",
                                                                   "Strict-Transport-Security": ["max-age=63072000"]}), "3")
    assert config["http"]["host"] == "https://registry.example.com:5443"
    assert config["http"]["relativeurls"] is True
    assert "draintimeout" not in config["http"]
    assert config["http"]["headers"] == {"X-Content-Type-Options": ["nosniff"],
                                         "Strict-Transport-Security": ["max-age=63072000"]}
    assert "host" not in rc.build_config(params(public_url=""), "3")["http"]


def test_log_options():
    config = rc.build_config(params(log_level="warn", log_formatter="json", log_fields={},
                                    log_accesslog_disabled=True), "3")
    assert config["log"] == {"level": "warn", "formatter": "json", "accesslog": {"disabled": True}}


def test_htpasswd_auth():
    config = rc.build_config(params(auth_htpasswd_enabled=True), "3")
    assert config["auth"] == {"htpasswd": {"realm": "registry.example.com", "path": "/etc/distribution/htpasswd"}}
    assert "auth" not in rc.build_config(params(), "3")


def test_notifications():
    config = rc.build_config(params(notifications={
        "endpoints": [
            {"name": "audit", "url": "https://audit.internal/events",
             "headers": {"Authorization": "Bearer token"}, "timeout": "2s", "threshold": 5, "backoff": "3s",
             "ignoredmediatypes": ["application/octet-stream"], "ignore": {"actions": ["pull"]}},
            {"name": "off", "url": "http://127.0.0.1:9/x", "disabled": True},
        ],
        "events": {"includereferences": True},
    }), "3")
    assert rendered(config)["notifications"] == {
        "endpoints": [
            {"name": "audit", "url": "https://audit.internal/events", "headers": {"Authorization": ["Bearer token"]},
             "timeout": "2s", "threshold": 5, "backoff": "3s", "ignoredmediatypes": ["application/octet-stream"],
             "ignore": {"actions": ["pull"]}},
            {"name": "off", "url": "http://127.0.0.1:9/x", "disabled": True, "timeout": "1s", "threshold": 10,
             "backoff": "1s"},
        ],
        "events": {"includereferences": True},
    }
    assert "notifications" not in rc.build_config(params(notifications={"endpoints": []}), "3")


def test_health_check_off():
    assert rc.build_config(params(health_storagedriver_enabled=False), "3")["health"] == {
        "storagedriver": {"enabled": False}}


def test_filesystem_shared_by_several_backends_when_confirmed():
    assert rc.config_errors(params(backends=["b1", "b2"], filesystem_shared=True), "3") == []


def test_rendered_yaml_keeps_types():
    text = yaml.safe_dump(rc.build_config(params(storage_driver="s3", storage_s3=S3_CEPH), "3"), sort_keys=True)
    assert "version: '0.1'" in text
    assert "secure: false" in text
    assert "chunksize: 10485760" in text


def test_input_is_not_modified():
    inputs = params(storage_driver="s3", storage_s3=S3_CEPH, storage_extra_params={"skipverify": True})
    before = copy.deepcopy(inputs)
    rc.build_config(inputs, "3")
    assert inputs == before


def test_not_a_dict():
    assert rc.config_errors(["x"], "3") == ["registry_config: the parameters must be a dictionary, got 'list'"]


# ---------------------------------------------------------------------------------------------
# Load-balancing consistency
# ---------------------------------------------------------------------------------------------


def _with_peers(me, *others):
    peers = {p["host"]: rc.lb_fingerprint(p) for p in (me,) + others}
    return dict(me, lb_peers=peers)


def test_fingerprint_has_digests_only():
    fp = rc.lb_fingerprint(params(storage_driver="s3", storage_s3=S3_CEPH))
    assert sorted(fp) == ["http_secret", "redis", "storage"]
    assert all(len(v) == 64 for v in fp.values())
    assert "ceph-secret" not in str(fp) and SECRET not in str(fp)


def test_identical_backends_agree():
    b1 = params(host="b1", storage_driver="s3", storage_s3=S3_CEPH, backends=["b1", "b2"])
    b2 = params(host="b2", storage_driver="s3", storage_s3=dict(S3_CEPH), backends=["b1", "b2"],
                listen_address="10.0.0.12", port=5001)  # per-host address and port may differ
    assert rc.config_errors(_with_peers(b1, b2), "3") == []


def test_backends_disagreeing_are_named():
    b1 = params(host="b1", storage_driver="s3", storage_s3=S3_CEPH)
    b2 = params(host="b2", storage_driver="s3", storage_s3=S3_CEPH, http_secret="another-secret-of-enough-length")
    b3 = params(host="b3", storage_driver="s3", storage_s3=dict(S3_CEPH, bucket="other"))
    b4 = params(host="b4", storage_driver="s3", storage_s3=S3_CEPH, blobdescriptor_cache="redis", redis_addrs=["r:6379"])
    errors = rc.config_errors(_with_peers(b1, b2, b3, b4), "3")
    assert len(errors) == 3
    assert errors[0].startswith("registry_storage_driver/registry_storage_*: b1 would use different storage than b3.")
    assert errors[1].startswith("registry_http_secret: b1 would get a different http.secret than b2.")
    assert "blob upload unknown" in errors[1]
    assert errors[2].startswith("registry_blobdescriptor_cache/registry_redis_*: b1 would use a different Redis cache than b4")


def test_peers_not_in_this_run_are_skipped():
    b1 = params(host="b1")
    assert rc.config_errors(dict(b1, lb_peers={"b1": rc.lb_fingerprint(b1), "b2": None}), "3") == []


def test_oss_on_2x_and_3x_backends_share_the_bucket():
    """A rolling upgrade from a 2.x image (native oss) to 3.x (s3 at the OSS endpoint) compares equal."""
    old = params(host="b1", image="registry:2.8.3", storage_driver="oss", storage_oss=OSS)
    new = params(host="b2", image="registry:3.0.0", storage_driver="oss", storage_oss=dict(OSS, region="cn-beijing", api="s3"))
    assert rc.lb_fingerprint(old) == rc.lb_fingerprint(new)
    assert rc.config_errors(_with_peers(old, new), "") == []
