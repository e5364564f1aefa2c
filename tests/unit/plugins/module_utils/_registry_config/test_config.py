# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of ``_registry_config.config``: refusals name the variable, every problem is reported at once,
and no message echoes a secret.
"""

from __future__ import annotations

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _registry_config as rc
from ansible_collections.dockyard.registry.tests.unit.plugins.module_utils._registry_config.inputs import (
    OSS,
    S3_CEPH,
    SECRET,
    params,
)


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
    pytest.param({"headers": {"Bad Header": ["x"]}}, "3", r"registry_headers: 'Bad' followed by ' ' is not a valid HTTP header name",
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
# Values that may hold a secret are never echoed (issue 10, item 5)
# ---------------------------------------------------------------------------------------------

TOKEN = "tok3n-never-shown"


def _endpoint(**overrides):
    endpoint = {"name": "audit", "url": "https://audit.internal/events"}
    endpoint.update(overrides)
    return {"endpoints": [endpoint]}


LEAKS = [
    pytest.param({"notifications": _endpoint(headers={"Authorization": {"value": "Bearer " + TOKEN}})},
                 "registry_notifications.endpoints[0].headers[Authorization] must be a list of strings",
                 id="header-value-a-dict"),
    pytest.param({"notifications": _endpoint(headers={"Authorization: Bearer " + TOKEN: ["x"]})},
                 "registry_notifications.endpoints[0].headers: 'Authorization' followed by ':' is not a valid "
                 "HTTP header name", id="header-line-as-name"),
    pytest.param({"notifications": _endpoint(url="ftp://hook:%s@audit.internal/events" % TOKEN)},
                 r"registry_notifications.endpoints[0].url must be an http:// or https:// URL, got "
                 r"'ftp://***@audit.internal/events'", id="notification-url-credentials"),
    pytest.param({"notifications": _endpoint(url="https://audit.internal/events?token=%s x" % TOKEN)},
                 "registry_notifications.endpoints[0].url must be an http:// or https:// URL, got "
                 "'https://audit.internal/events?***'", id="notification-url-query"),
    pytest.param({"storage_driver": "s3", "storage_s3": dict(S3_CEPH, regionendpoint="http://ak:%s@ceph /" % TOKEN)},
                 "registry_storage_s3.regionendpoint must be an http:// or https:// URL, got 'http://***@ceph /'",
                 id="s3-endpoint-credentials"),
    pytest.param({"storage_driver": "s3", "storage_s3": dict(
        S3_CEPH, regionendpoint="https://ak:%s@s3.oss-cn-beijing.aliyuncs.com" % TOKEN, forcepathstyle=True)},
        "registry_storage_s3.forcepathstyle: Aliyun OSS ('https://***@s3.oss-cn-beijing.aliyuncs.com') accepts only",
        id="oss-endpoint-credentials"),
    pytest.param({"blobdescriptor_cache": "redis", "redis_addrs": ["redis://:%s@cache:6379/0" % TOKEN]},
                 "registry_redis_addrs[0] must be host:port, got 'redis://***@cache:6379/0'", id="redis-url"),
    pytest.param({"blobdescriptor_cache": "redis", "redis_addrs": {"cache:6379": TOKEN}},
                 "registry_redis_addrs must be a list of strings, got a dict", id="redis-addrs-a-dict"),
    pytest.param({"env": {"TZ": {"password": TOKEN}}},
                 "registry_env: the value of TZ must be a string (quote it), got a dict", id="env-value-a-dict"),
    pytest.param({"public_url": "https://admin:%s@registry.example.com/v2" % TOKEN},
                 "got 'https://***@registry.example.com/v2'", id="public-url-credentials"),
]


@pytest.mark.parametrize("overrides, message", LEAKS)
def test_invalid_values_that_may_hold_a_secret_are_not_echoed(overrides, message):
    errors = rc.config_errors(params(**overrides), "3")
    text = "\n".join(errors)
    assert TOKEN not in text, text
    assert message in text, text


def test_version_errors_never_raise_and_name_the_variables():
    assert rc.version_errors("registry:3.0.0", "") == []
    assert rc.version_errors("registry:latest", "2") == []
    assert rc.version_errors("registry:stable", "") == [
        "registry_version: cannot derive the registry major version from the tag 'stable' of registry_image "
        "'registry:stable'; pin a numeric tag (e.g. registry:3.0.0) or set registry_version (2 or 3)"]
    assert rc.version_errors("registry:3.0.0", "x") == [
        "registry_version must be a registry release such as 2.8.3 or 3.0.0 (or just 2 or 3), got 'x'"]
