# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: the ``storage.<driver>`` section of the registry ``config.yml``, per major version.

Private to the dockyard.registry collection; other collections must not import it. No Ansible
import. The six drivers the registry role configures (filesystem, s3, oss, azure, gcs, inmemory):
which keys each accepts in registry 2.x and 3.x, which credentials it needs, and how Aliyun OSS is
reached (the native ``oss`` driver of 2.x, or the ``s3`` driver at the OSS endpoint in
virtual-hosted style in 3.x). ``ValueError`` names the role variable at fault.
"""

from __future__ import annotations

import re

from ansible_collections.dockyard.registry.plugins.module_utils._scalars import (
    _abs_path,
    _bool,
    _choice,
    _dict,
    _duration,
    _int,
    _is_blank,
    _shown,
    _str,
    _url,
)

DRIVERS = ("filesystem", "s3", "oss", "azure", "gcs", "inmemory")
# Drivers Distribution has (or had) that this role does not configure.
_UNSUPPORTED_DRIVERS = {
    "swift": "OpenStack Swift was removed in registry 3.x and is not configured by this role",
    "s3aws": "use registry_storage_driver: s3 (s3aws is the same driver under another name)",
}

DEFAULT_FILESYSTEM_ROOT = "/var/lib/registry"
MIN_S3_CHUNK = 5 * 1024 * 1024
GCS_CHUNK_MULTIPLE = 256 * 1024


_S3_COMMON = (
    "accesskey", "secretkey", "region", "regionendpoint", "bucket", "encrypt", "keyid", "secure",
    "skipverify", "v4auth", "chunksize", "multipartcopychunksize", "multipartcopymaxconcurrency",
    "multipartcopythresholdsize", "rootdirectory", "storageclass", "useragent", "objectacl",
)


_S3_KEYS = {
    2: _S3_COMMON + ("forcepathstyle",),  # accepted for the 2.x refusal messages, never written
    3: _S3_COMMON + ("forcepathstyle", "usedualstack", "accelerate", "loglevel"),
}
_S3_BOOLS = ("encrypt", "secure", "skipverify", "v4auth", "usedualstack", "accelerate")


_OSS_KEYS = (
    "accesskeyid", "accesskeysecret", "region", "bucket", "rootdirectory", "internal", "secure",
    "encrypt", "chunksize", "endpoint", "api",
)


_AZURE_KEYS = {
    2: ("accountname", "accountkey", "container", "realm"),
    3: (
        "accountname", "accountkey", "container", "realm", "rootdirectory", "credentials", "serviceurl",
        "max_retries", "retry_delay", "copy_status_poll_max_retry", "copy_status_poll_delay",
    ),
}
_GCS_KEYS = ("bucket", "keyfile", "credentials", "rootdirectory", "chunksize")


_FILESYSTEM_KEYS = ("rootdirectory", "maxthreads")


_OSS_REGION = re.compile(r"^(?:oss-)?([a-z]{2,}(?:-[a-z0-9]+)+)$")


def _check_keys(var, given, allowed, major):
    unknown = sorted(key for key in given if key not in allowed)
    if unknown:
        raise ValueError(
            "%s: unknown key(s) %s for registry %d.x; valid keys: %s "
            "(registry_storage_extra_params passes keys through unchecked)"
            % (var, ", ".join(unknown), major, ", ".join(sorted(allowed)))
        )


def _present(section):
    """The keys of a driver dict whose values are not blank."""
    return {key: value for key, value in section.items() if not _is_blank(value)}


def oss_region_id(region, var="registry_storage_oss.region"):
    """``cn-beijing`` from ``oss-cn-beijing`` or ``cn-beijing``."""
    text = _str(var, region, required=True)
    match = _OSS_REGION.match(text)
    if not match:
        raise ValueError("%s must be an OSS region such as oss-cn-beijing or cn-beijing, got %r" % (var, region))
    return match.group(1)


def oss_s3_endpoint(region, internal=False, secure=True):
    """The S3-compatible OSS endpoint for a region: ``https://s3.oss-<region>[-internal].aliyuncs.com``."""
    return "%s://s3.oss-%s%s.aliyuncs.com" % (
        "https" if secure else "http", oss_region_id(region), "-internal" if internal else "")


def _storage_filesystem(params, major):
    var = "registry_storage_filesystem"
    section = _present(_dict(var, params.get("storage_filesystem")))
    _check_keys(var, section, _FILESYSTEM_KEYS, major)
    out = {"rootdirectory": _abs_path(var + ".rootdirectory", section.get("rootdirectory")) or DEFAULT_FILESYSTEM_ROOT}
    if "maxthreads" in section:
        out["maxthreads"] = _int(var + ".maxthreads", section["maxthreads"], minimum=25)
    return "filesystem", out


def _s3_credentials(var, section, key_id, key_secret, instance_credentials=None):
    """Both keys, or (only where the SDK can fetch instance credentials) neither."""
    has_id = not _is_blank(section.get(key_id))
    has_secret = not _is_blank(section.get(key_secret))
    if has_id and has_secret:
        return
    if instance_credentials is None:
        raise ValueError("%s: %s and %s are required (vault them)" % (var, key_id, key_secret))
    if not _bool("registry_storage_s3_instance_credentials", instance_credentials):
        raise ValueError(
            "%s: %s and %s are required (vault them); leave both unset only with "
            "registry_storage_s3_instance_credentials: true (EC2 instance profile / IRSA)" % (var, key_id, key_secret)
        )
    if has_id != has_secret:
        raise ValueError("%s: set both %s and %s, or neither" % (var, key_id, key_secret))


def _storage_s3(params, major):
    var = "registry_storage_s3"
    section = _present(_dict(var, params.get("storage_s3")))
    _check_keys(var, section, _S3_KEYS[major], major)
    _s3_credentials(var, section, "accesskey", "secretkey",
                    instance_credentials=params.get("storage_s3_instance_credentials", False))
    out = {}
    for key in ("accesskey", "secretkey", "keyid", "useragent", "storageclass", "objectacl"):
        if key in section:
            out[key] = _str("%s.%s" % (var, key), section[key])
    out["bucket"] = _str(var + ".bucket", section.get("bucket"), required=True)
    out["region"] = _str(var + ".region", section.get("region"), required=True)
    endpoint = _url(var + ".regionendpoint", section.get("regionendpoint"))
    if endpoint:
        out["regionendpoint"] = endpoint
    for key in _S3_BOOLS:
        if key in section:
            out[key] = _bool("%s.%s" % (var, key), section[key])
    for key in ("chunksize", "multipartcopychunksize"):
        if key in section:
            out[key] = _int("%s.%s" % (var, key), section[key], minimum=MIN_S3_CHUNK)
    if "multipartcopymaxconcurrency" in section:
        out["multipartcopymaxconcurrency"] = _int(var + ".multipartcopymaxconcurrency",
                                                  section["multipartcopymaxconcurrency"], minimum=1)
    if "multipartcopythresholdsize" in section:
        out["multipartcopythresholdsize"] = _int(var + ".multipartcopythresholdsize",
                                                 section["multipartcopythresholdsize"], minimum=0)
    if "rootdirectory" in section:
        out["rootdirectory"] = _str(var + ".rootdirectory", section["rootdirectory"])
    if "loglevel" in section:
        out["loglevel"] = _str(var + ".loglevel", section["loglevel"])
    if out.get("keyid") and not out.get("encrypt"):
        raise ValueError("%s.keyid is only used with %s.encrypt: true" % (var, var))

    is_oss = "aliyuncs.com" in endpoint
    path_style = None if "forcepathstyle" not in section else _bool(var + ".forcepathstyle", section["forcepathstyle"])
    if major == 2:
        if path_style is False and endpoint:
            raise ValueError(
                "%s.forcepathstyle: false is not possible with registry 2.x: Distribution 2.8 always sends "
                "path-style requests when regionendpoint is set (use a 3.x image for virtual-hosted style)" % var
            )
        if path_style is True and not endpoint:
            raise ValueError(
                "%s.forcepathstyle: true needs regionendpoint with registry 2.x (2.8 uses path style only for "
                "custom endpoints; the key itself exists only in 3.x)" % var
            )
        if is_oss:
            raise ValueError(
                "%s.regionendpoint %s is Aliyun OSS, which rejects the path-style requests Distribution 2.8 "
                "sends to a regionendpoint (403 SecondLevelDomainForbidden); use registry_storage_driver: oss "
                "(the native oss driver of 2.x images) or a 3.x image" % (var, _shown(endpoint))
            )
    else:
        if path_style is None and endpoint:
            # MinIO, Ceph RGW and most S3 implementations expect path style at a custom endpoint,
            # and 2.x always did it; virtual-hosted style is an explicit choice.
            path_style = not is_oss
        if is_oss and path_style:
            raise ValueError(
                "%s.forcepathstyle: Aliyun OSS (%s) accepts only virtual-hosted style requests "
                "(403 SecondLevelDomainForbidden); set forcepathstyle: false" % (var, _shown(endpoint))
            )
        if path_style is not None:
            out["forcepathstyle"] = path_style
    return "s3", out


def _storage_oss(params, major):
    var = "registry_storage_oss"
    section = _present(_dict(var, params.get("storage_oss")))
    _check_keys(var, section, _OSS_KEYS, major)
    api = _choice(var + ".api", section.get("api", "auto"), ("auto", "native", "s3"))
    if api == "auto":
        api = "native" if major == 2 else "s3"
    if api == "native" and major != 2:
        raise ValueError(
            "registry_storage_driver: 'oss' with %s.api: native is not available in registry %d.x "
            "(Distribution 3.0 removed the native oss driver); use %s.api: s3 (the default for 3.x "
            "images: the s3 driver at https://s3.oss-<region>.aliyuncs.com, virtual-hosted style) "
            "or a 2.x image" % (var, major, var)
        )
    if api == "s3" and major == 2:
        raise ValueError(
            "%s.api: s3 is not possible with registry 2.x: Distribution 2.8 forces path-style requests "
            "whenever regionendpoint is set and OSS rejects them (403 SecondLevelDomainForbidden); "
            "use %s.api: native (the default for 2.x) or a 3.x image" % (var, var)
        )
    _s3_credentials(var, section, "accesskeyid", "accesskeysecret")
    region = oss_region_id(section.get("region"), var + ".region")
    bucket = _str(var + ".bucket", section.get("bucket"), required=True)
    internal = _bool(var + ".internal", section["internal"]) if "internal" in section else None
    secure = _bool(var + ".secure", section["secure"]) if "secure" in section else None
    encrypt = _bool(var + ".encrypt", section["encrypt"]) if "encrypt" in section else None
    chunksize = _int(var + ".chunksize", section["chunksize"], minimum=MIN_S3_CHUNK) if "chunksize" in section else None
    rootdirectory = _str(var + ".rootdirectory", section.get("rootdirectory"))
    endpoint = _str(var + ".endpoint", section.get("endpoint"))

    if api == "native":
        # Exactly the recipe's keys; the optional ones only when the operator set them.
        out = {
            "accesskeyid": _str(var + ".accesskeyid", section["accesskeyid"]),
            "accesskeysecret": _str(var + ".accesskeysecret", section["accesskeysecret"]),
            "region": "oss-" + region,
            "bucket": bucket,
        }
        if rootdirectory:
            out["rootdirectory"] = rootdirectory
        for key, value in (("internal", internal), ("secure", secure), ("encrypt", encrypt),
                           ("chunksize", chunksize)):
            if value is not None:
                out[key] = value
        if endpoint:
            out["endpoint"] = endpoint
        return "oss", out

    if endpoint:
        regionendpoint = endpoint if re.match(r"^https?://", endpoint) else (
            "%s://%s" % ("http" if secure is False else "https", endpoint))
        _url(var + ".endpoint", regionendpoint)
    else:
        regionendpoint = oss_s3_endpoint(region, internal=bool(internal), secure=secure is not False)
    out = {
        "accesskey": _str(var + ".accesskeyid", section["accesskeyid"]),
        "secretkey": _str(var + ".accesskeysecret", section["accesskeysecret"]),
        "region": region,
        "regionendpoint": regionendpoint,
        "forcepathstyle": False,
        "bucket": bucket,
        "v4auth": True,
    }
    if rootdirectory:
        # Both drivers strip leading slashes, so the same value reaches the same objects.
        out["rootdirectory"] = rootdirectory
    for key, value in (("secure", secure), ("encrypt", encrypt), ("chunksize", chunksize)):
        if value is not None:
            out[key] = value
    return "s3", out


def _storage_azure(params, major):
    var = "registry_storage_azure"
    section = _present(_dict(var, params.get("storage_azure")))
    _check_keys(var, section, _AZURE_KEYS[major], major)
    out = {"container": _str(var + ".container", section.get("container"), required=True)}
    has_credentials = "credentials" in section
    if has_credentials:
        out["credentials"] = dict(_dict(var + ".credentials", section["credentials"]))
    if not has_credentials or "accountname" in section:
        out["accountname"] = _str(var + ".accountname", section.get("accountname"), required=True)
    if not has_credentials or "accountkey" in section:
        out["accountkey"] = _str(var + ".accountkey", section.get("accountkey"), required=True)
    for key in ("realm", "serviceurl"):
        if key in section:
            out[key] = _str("%s.%s" % (var, key), section[key])
    if "rootdirectory" in section:
        out["rootdirectory"] = _str(var + ".rootdirectory", section["rootdirectory"])
    for key in ("max_retries", "copy_status_poll_max_retry"):
        if key in section:
            out[key] = _int("%s.%s" % (var, key), section[key], minimum=-1)
    for key in ("retry_delay", "copy_status_poll_delay"):
        if key in section:
            out[key] = _duration("%s.%s" % (var, key), section[key])
    return "azure", out


def _storage_gcs(params, major):
    var = "registry_storage_gcs"
    section = _present(_dict(var, params.get("storage_gcs")))
    _check_keys(var, section, _GCS_KEYS, major)
    out = {"bucket": _str(var + ".bucket", section.get("bucket"), required=True)}
    if "keyfile" in section:
        out["keyfile"] = _abs_path(var + ".keyfile", section["keyfile"])
    if "credentials" in section:
        out["credentials"] = dict(_dict(var + ".credentials", section["credentials"]))
    if "rootdirectory" in section:
        out["rootdirectory"] = _str(var + ".rootdirectory", section["rootdirectory"])
    if "chunksize" in section:
        chunk = _int(var + ".chunksize", section["chunksize"], minimum=GCS_CHUNK_MULTIPLE)
        if chunk % GCS_CHUNK_MULTIPLE:
            raise ValueError("%s.chunksize must be a multiple of 262144 (256 KiB), got %d" % (var, chunk))
        out["chunksize"] = chunk
    return "gcs", out


def _storage_inmemory(params, major):
    return "inmemory", {}


_STORAGE_BUILDERS = {
    "filesystem": _storage_filesystem,
    "s3": _storage_s3,
    "oss": _storage_oss,
    "azure": _storage_azure,
    "gcs": _storage_gcs,
    "inmemory": _storage_inmemory,
}


def storage_driver(params):
    """The validated ``registry_storage_driver``."""
    driver = _str("registry_storage_driver", params.get("storage_driver"), required=True)
    if driver in _UNSUPPORTED_DRIVERS:
        raise ValueError("registry_storage_driver: %r is not supported: %s" % (driver, _UNSUPPORTED_DRIVERS[driver]))
    if driver not in DRIVERS:
        raise ValueError("registry_storage_driver must be one of %s, got %r" % (", ".join(DRIVERS), driver))
    return driver


def build_storage_driver(params, major):
    """``(name, parameters)`` of the ``storage.<driver>`` section for a major version."""
    name, section = _STORAGE_BUILDERS[storage_driver(params)](params, major)
    extra = _dict("registry_storage_extra_params", params.get("storage_extra_params"))
    section.update(extra)
    return name, section
