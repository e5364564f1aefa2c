# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of ``_registry_config.sections``: every section but the storage driver.

Every structure is rendered to YAML the way the role's template does (sorted keys, block style)
and parsed back before it is compared, so what is checked is what the registry would read.
"""

from __future__ import annotations

import pytest

import copy

import yaml

from ansible_collections.dockyard.registry.plugins.module_utils import _registry_config as rc
from ansible_collections.dockyard.registry.tests.unit.plugins.module_utils._registry_config.inputs import (
    S3_CEPH,
    params,
    rendered,
)


def test_zero_duration_refused_where_it_makes_no_sense():
    errors = rc.config_errors(params(uploadpurging_interval="0"))
    assert errors == ["registry_uploadpurging_interval must be longer than zero, got '0'"]


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


TOKEN = dict(auth_token_enabled=True, auth_token_realm="https://registry.example.com/token",
             auth_token_service="registry.example.com", auth_token_issuer="dockyard.registry",
             auth_token_rootcertbundle="/etc/docker/registry/token-bundle.pem")


def test_token_auth_2x_and_3x():
    two = rc.build_config(params(**TOKEN), "2.8.2")["auth"]
    assert two == {"token": {"realm": "https://registry.example.com/token", "service": "registry.example.com",
                             "issuer": "dockyard.registry", "rootcertbundle": "/etc/docker/registry/token-bundle.pem"}}
    three = rc.build_config(params(**TOKEN), "3")["auth"]["token"]
    assert three["signingalgorithms"] == ["ES256"]


@pytest.mark.parametrize("change, var", [
    ({"auth_token_realm": "registry.example.com/token"}, "registry_auth_token_realm"),
    ({"auth_token_realm": ""}, "registry_auth_token_realm"),
    ({"auth_token_service": ""}, "registry_auth_token_service"),
    ({"auth_token_issuer": None}, "registry_auth_token_issuer"),
    ({"auth_token_rootcertbundle": "token-bundle.pem"}, "registry_auth_token_rootcertbundle"),
    ({"auth_htpasswd_enabled": True, "auth_htpasswd_realm": "r", "auth_htpasswd_path": "/h"}, "registry_auth_htpasswd_enabled"),
])
def test_token_auth_refuses_bad_inputs_naming_the_variable(change, var):
    errors = rc.config_errors(params(**dict(TOKEN, **change)), "2.8.2")
    assert any(var in e for e in errors), errors


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


TLS = {"tls_enabled": True, "tls_certificate": "/etc/dockyard/tls/backend.crt",
       "tls_key": "/etc/dockyard/tls/backend.key", "tls_clientcas": ["/etc/dockyard/tls/ca.crt"],
       "tls_minimum_version": "tls1.2"}


def test_mutual_tls_section():
    for major in ("2", "3"):
        config = rc.build_config(params(**TLS), major)
        assert config["http"]["tls"] == {"certificate": "/etc/dockyard/tls/backend.crt",
                                         "key": "/etc/dockyard/tls/backend.key",
                                         "clientcas": ["/etc/dockyard/tls/ca.crt"], "minimumtls": "tls1.2"}
    assert "tls" not in rc.build_config(params(**dict(TLS, tls_enabled="false")), "3")["http"]
    assert "tls" not in rc.build_config(params(), "3")["http"]


def test_mutual_tls_refusals():
    assert rc.config_errors(params(**dict(TLS, tls_clientcas=[]))) == [
        "registry_tls_client_ca is empty: without client CAs the registry would accept any TLS client"]
    assert any("registry_tls_minimum_version" in e for e in rc.config_errors(params(**dict(TLS, tls_minimum_version="tls1.0"))))
    assert any("registry_tls_key" in e for e in rc.config_errors(params(**dict(TLS, tls_key="backend.key"))))
    assert any("registry_debug_enabled" in e for e in rc.config_errors(params(**dict(TLS, debug_enabled=False))))
