# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Role inputs shared by the ``_registry_config`` tests: the role defaults and the expected sections.

Every structure is rendered to YAML the way the role's template does (sorted keys, block style)
and parsed back before it is compared, so what is checked is what the registry would read.
"""

from __future__ import annotations

import copy

import yaml


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
