# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: the Distribution registry ``config.yml`` model of the dockyard.registry collection.

This file is private to the dockyard.registry collection; other collections must not import it.
It imports nothing from Ansible and raises ``ValueError`` (naming the role variable at fault) on
bad input. It decides:

* which registry major version an image runs (``major_version``: explicit ``registry_version``
  or the image tag);
* whether a Go duration string (``168h``, ``10s``, ``1h30m``) is valid (``parse_duration``);
* what ``config.yml`` says for a set of role inputs and a major version (``build_config``), with
  every problem collected and named by its role variable (``config_errors``);
* what every backend behind the load balancer must share (storage, ``http.secret``, Redis) as
  comparable fingerprints (``lb_fingerprint``), and which peers differ (part of ``config_errors``).

``params`` holds the role inputs under the role variable names without the ``registry_`` prefix
(``storage_driver`` is ``registry_storage_driver``); the role builds it in ``vars/main.yml``.

Version differences handled here (checked against the 2.8.2 and 3.x sources):

* 3.x removed the native ``oss`` (and ``swift``) drivers; Aliyun OSS is reached through the ``s3``
  driver at ``https://s3.oss-<region>[-internal].aliyuncs.com`` in virtual-hosted style.
* ``storage.s3.forcepathstyle`` exists only in 3.x (default false); 2.8 forces path-style requests
  whenever ``regionendpoint`` is set, which OSS rejects (403 SecondLevelDomainForbidden).
* Redis: ``redis.addr`` + ``pool.{maxidle,maxactive,idletimeout}`` + ``tls.enabled`` in 2.x;
  ``redis.addrs`` + ``maxidleconns``/``poolsize``/``connmaxidletime`` + client-certificate
  ``tls.{certificate,key,clientcas}`` in 3.x.
* ``storage.tag.concurrencylimit`` and ``storage.cache.blobdescriptorsize`` exist only in 3.x (2.8
  would read an unknown ``storage.tag`` key as a second storage driver and refuse to start).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re

SUPPORTED_MAJORS = (2, 3)
DRIVERS = ("filesystem", "s3", "oss", "azure", "gcs", "inmemory")
# Drivers Distribution has (or had) that this role does not configure.
_UNSUPPORTED_DRIVERS = {
    "swift": "OpenStack Swift was removed in registry 3.x and is not configured by this role",
    "s3aws": "use registry_storage_driver: s3 (s3aws is the same driver under another name)",
}

CONTAINER_PORT = 5000
CONTAINER_DEBUG_PORT = 5001
DEFAULT_FILESYSTEM_ROOT = "/var/lib/registry"
MIN_S3_CHUNK = 5 * 1024 * 1024
GCS_CHUNK_MULTIPLE = 256 * 1024

LOG_LEVELS = ("error", "warn", "info", "debug")
LOG_FORMATTERS = ("text", "json", "logstash")
BLOBDESCRIPTOR_CACHES = ("inmemory", "redis", "none")

# ---------------------------------------------------------------------------------------------
# Scalars
# ---------------------------------------------------------------------------------------------

# Go's time.ParseDuration: "0", or one or more <decimal><unit> (units ns us µs μs ms s m h).
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_DURATION_SECONDS = {
    "ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
}
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def parse_duration(value, var="duration"):
    """Return the seconds in a Go duration string (``168h``, ``1h30m``, ``500ms``, ``0``).

    Bare numbers are refused: Distribution would read them as nanoseconds, which is never what
    an operator means. Negative durations are refused too.
    """
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(
            "%s must be a Go duration string with a unit such as 10s, 24h or 1h30m, got %r" % (var, value)
        )
    text = value.strip()
    if text == "0":
        return 0.0
    pos = 0
    total = 0.0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if not match:
            break
        total += float(match.group(1)) * _DURATION_SECONDS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError(
            "%s must be a Go duration string with a unit such as 10s, 24h or 1h30m "
            "(units: ns, us, ms, s, m, h), got %r" % (var, value)
        )
    return total


def _duration(var, value, allow_zero=False):
    seconds = parse_duration(value, var)
    if seconds == 0 and not allow_zero:
        raise ValueError("%s must be longer than zero, got %r" % (var, value))
    return value.strip()


def _is_blank(value):
    return value is None or (isinstance(value, str) and value.strip() == "")


def _bool(var, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE:
        return True
    if isinstance(value, str) and value.strip().lower() in _FALSE:
        return False
    raise ValueError("%s must be a boolean (true or false), got %r" % (var, value))


def _int(var, value, minimum=None, maximum=None):
    if isinstance(value, bool):
        raise ValueError("%s must be an integer, got %r" % (var, value))
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.match(r"^\s*-?\d+\s*$", value):
        number = int(value)
    else:
        raise ValueError("%s must be an integer, got %r" % (var, value))
    if minimum is not None and number < minimum:
        raise ValueError("%s must be at least %d, got %d" % (var, minimum, number))
    if maximum is not None and number > maximum:
        raise ValueError("%s must be at most %d, got %d" % (var, maximum, number))
    return number


def _str(var, value, required=False):
    if _is_blank(value):
        if required:
            raise ValueError("%s is required and must not be empty" % var)
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        # The type only: the value may be a secret.
        raise ValueError("%s must be a string, got a %s" % (var, type(value).__name__))
    return str(value).strip()


def _choice(var, value, choices):
    text = _str(var, value, required=True)
    if text not in choices:
        raise ValueError("%s must be one of %s, got %r" % (var, ", ".join(choices), value))
    return text


def _dict(var, value):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("%s must be a dictionary, got %r" % (var, type(value).__name__))
    return value


def _str_list(var, value):
    if _is_blank(value):
        return []
    if isinstance(value, str):
        return [value.strip()]
    if not isinstance(value, (list, tuple)):
        raise ValueError("%s must be a list of strings, got %r" % (var, value))
    return [_str("%s[%d]" % (var, index), item, required=True) for index, item in enumerate(value)]


def _abs_path(var, value, required=False):
    text = _str(var, value, required=required)
    if text and not text.startswith("/"):
        raise ValueError("%s must be an absolute path, got %r" % (var, value))
    return text


def _url(var, value, required=False):
    text = _str(var, value, required=required)
    if text and not re.match(r"^https?://[^/\s]+(/\S*)?$", text):
        raise ValueError("%s must be an http:// or https:// URL, got %r" % (var, value))
    return text


def _hostport(host, port):
    """``host:port`` with IPv6 literals in brackets; an empty host means every address."""
    if host and ":" in host and not host.startswith("["):
        host = "[%s]" % host
    return "%s:%s" % (host, port)


# ---------------------------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------------------------

_VERSION_TEXT = re.compile(r"^v?(\d+)(?:\.\d+){0,2}(?:[-+_.~].*)?$")


def image_tag(image):
    """The tag of an image reference (``''`` when it has none); a ``@digest`` is ignored."""
    reference = (image or "").split("@", 1)[0]
    name_part = reference.rsplit("/", 1)[-1]
    if ":" in name_part:
        return name_part.rsplit(":", 1)[1]
    return ""


def major_version(image=None, version=None):
    """Registry major version (2 or 3) from ``registry_version`` or else the image tag.

    ``version`` accepts ``3``, ``"3"``, ``"3.0.0"``, ``"v2.8.3"``; an empty value means
    "derive it from the tag of ``image``" (``registry:3.0.0`` -> 3, ``registry:2.8`` -> 2,
    ``dockyard/registry:2.8.2-debian`` -> 2).
    """
    if not _is_blank(version):
        text = str(version).strip()
        match = _VERSION_TEXT.match(text)
        if isinstance(version, bool) or not match:
            raise ValueError(
                "registry_version must be a registry release such as 2.8.3 or 3.0.0 (or just 2 or 3), got %r" % (version,)
            )
        major = int(match.group(1))
        if major not in SUPPORTED_MAJORS:
            raise ValueError(
                "registry_version %r: registry major version %d is not supported; supported: %s"
                % (version, major, ", ".join(str(m) for m in SUPPORTED_MAJORS))
            )
        return major
    tag = image_tag(image)
    match = _VERSION_TEXT.match(tag)
    if not match:
        raise ValueError(
            "registry_version: cannot derive the registry major version from the tag %r of registry_image %r; "
            "pin a numeric tag (e.g. registry:3.0.0) or set registry_version (2 or 3)" % (tag, image)
        )
    major = int(match.group(1))
    if major not in SUPPORTED_MAJORS:
        raise ValueError(
            "registry_version: the tag %r of registry_image %r means registry %d, which is not supported "
            "(supported: %s); set registry_version if the tag is not the registry release"
            % (tag, image, major, ", ".join(str(m) for m in SUPPORTED_MAJORS))
        )
    return major


# ---------------------------------------------------------------------------------------------
# Storage drivers
# ---------------------------------------------------------------------------------------------

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
                "%s.regionendpoint %r is Aliyun OSS, which rejects the path-style requests Distribution 2.8 "
                "sends to a regionendpoint (403 SecondLevelDomainForbidden); use registry_storage_driver: oss "
                "(the native oss driver of 2.x images) or a 3.x image" % (var, endpoint)
            )
    else:
        if path_style is None and endpoint:
            # MinIO, Ceph RGW and most S3 implementations expect path style at a custom endpoint,
            # and 2.x always did it; virtual-hosted style is an explicit choice.
            path_style = not is_oss
        if is_oss and path_style:
            raise ValueError(
                "%s.forcepathstyle: Aliyun OSS (%s) accepts only virtual-hosted style requests "
                "(403 SecondLevelDomainForbidden); set forcepathstyle: false" % (var, endpoint)
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


# ---------------------------------------------------------------------------------------------
# The other sections
# ---------------------------------------------------------------------------------------------


def _storage_cache(params, major):
    """``delete``, ``redirect`` and ``cache`` under ``storage``."""
    out = {
        "delete": {"enabled": _bool("registry_delete_enabled", params.get("delete_enabled", False))},
        "redirect": {"disable": _bool("registry_redirect_disable", params.get("redirect_disable", False))},
    }
    cache = _choice("registry_blobdescriptor_cache", params.get("blobdescriptor_cache", "inmemory"),
                    BLOBDESCRIPTOR_CACHES)
    if cache != "none":
        out["cache"] = {"blobdescriptor": cache}
    size = params.get("blobdescriptor_cache_size")
    if not _is_blank(size) and size != 0:
        if major < 3:
            raise ValueError("registry_blobdescriptor_cache_size (storage.cache.blobdescriptorsize) exists only in registry 3.x")
        if cache != "inmemory":
            raise ValueError("registry_blobdescriptor_cache_size applies only to registry_blobdescriptor_cache: inmemory")
        out["cache"]["blobdescriptorsize"] = _int("registry_blobdescriptor_cache_size", size, minimum=0)
    return out


def _storage_maintenance(params, major):
    """``maintenance.uploadpurging`` and ``maintenance.readonly`` under ``storage``."""
    purging = {"enabled": _bool("registry_uploadpurging_enabled", params.get("uploadpurging_enabled", True))}
    if purging["enabled"]:
        purging["age"] = _duration("registry_uploadpurging_age", params.get("uploadpurging_age", "168h"))
        purging["interval"] = _duration("registry_uploadpurging_interval", params.get("uploadpurging_interval", "24h"))
        purging["dryrun"] = _bool("registry_uploadpurging_dryrun", params.get("uploadpurging_dryrun", False))
    return {
        "maintenance": {
            "uploadpurging": purging,
            "readonly": {"enabled": _bool("registry_readonly", params.get("readonly", False))},
        }
    }


def _storage_tag(params, major):
    """``tag.concurrencylimit`` under ``storage`` (3.x only)."""
    limit = params.get("tag_concurrencylimit")
    if _is_blank(limit) or limit == 0:
        return {}
    if major < 3:
        raise ValueError(
            "registry_tag_concurrencylimit (storage.tag.concurrencylimit) exists only in registry 3.x; "
            "2.x would read storage.tag as a second storage driver and refuse to start"
        )
    return {"tag": {"concurrencylimit": _int("registry_tag_concurrencylimit", limit, minimum=0)}}


def _is_wildcard(address):
    return address in ("", "0.0.0.0", "::", "[::]", "*")


def _ip(var, value):
    text = _str(var, value, required=True).strip("[]")
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise ValueError("%s must be an IP address (Docker publishes ports on IP addresses only), got %r" % (var, value))
    return text


def listen_addresses(params):
    """``(http.addr, http.debug.addr or '')`` as the registry process sees them.

    With ``registry_network_mode: host`` the registry binds the backend address itself; on a
    bridge network it listens on every address inside the container and Docker publishes
    ``<registry_listen_address>:<registry_port>`` only.
    """
    host_network = _str("registry_network_mode", params.get("network_mode", "bridge")) == "host"
    address = _str("registry_listen_address", params.get("listen_address"))
    if not address:
        raise ValueError(
            "registry_listen_address is empty: set dockyard_backend_address to the backend's private IP "
            "(or gather facts, so the default IPv4 address can be used)"
        )
    port = _int("registry_port", params.get("port", CONTAINER_PORT), minimum=1, maximum=65535)
    all_interfaces = _bool("registry_listen_on_all_interfaces", params.get("listen_on_all_interfaces", False))
    if _is_wildcard(address) and not all_interfaces:
        raise ValueError(
            "registry_listen_address %r listens on every interface, so clients could reach the backend "
            "directly and bypass the proxy's TLS and authentication; use the backend's private address "
            "(dockyard_backend_address) or set registry_listen_on_all_interfaces: true" % (address,)
        )
    if not host_network and not _is_wildcard(address):
        _ip("registry_listen_address", address)
    http_addr = _hostport("" if _is_wildcard(address) else address, port) if host_network else ":%d" % CONTAINER_PORT

    debug_addr = ""
    if _bool("registry_debug_enabled", params.get("debug_enabled", True)):
        debug_address = _str("registry_debug_address", params.get("debug_address", "127.0.0.1"), required=True)
        debug_port = _int("registry_debug_port", params.get("debug_port", CONTAINER_DEBUG_PORT), minimum=1, maximum=65535)
        if not host_network:
            _ip("registry_debug_address", debug_address)
        if host_network and debug_port == port:
            raise ValueError("registry_debug_port %d must differ from registry_port with registry_network_mode: host" % port)
        debug_addr = _hostport(debug_address, debug_port) if host_network else ":%d" % CONTAINER_DEBUG_PORT
    return http_addr, debug_addr


def _headers(var, value):
    headers = {}
    for name, payload in _dict(var, value).items():
        if not re.match(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$", str(name)):
            raise ValueError("%s: %r is not a valid HTTP header name" % (var, name))
        values = _str_list("%s[%s]" % (var, name), payload)
        if values:
            headers[str(name)] = values
    return headers


def _http(params, major):
    http_addr, debug_addr = listen_addresses(params)
    secret = params.get("http_secret")
    if _is_blank(secret):
        raise ValueError(
            "registry_http_secret is empty: every backend behind the load balancer needs the same http.secret "
            "(set dockyard_http_secret, vaulted, or let the role generate one on the controller)"
        )
    secret = _str("registry_http_secret", secret)
    if len(secret) < 16:
        raise ValueError("registry_http_secret must be at least 16 characters long (it signs upload state)")
    out = {"addr": http_addr, "secret": secret}
    public_url = _str("registry_public_url", params.get("public_url"))
    if public_url:
        if not re.match(r"^https?://[^/\s]+/?$", public_url):
            raise ValueError(
                "registry_public_url must be the external URL clients use, like https://registry.example.com "
                "or https://registry.example.com:5443 (no path), got %r" % (public_url,)
            )
        out["host"] = public_url.rstrip("/")
    if _bool("registry_relativeurls", params.get("relativeurls", False)):
        out["relativeurls"] = True
    drain = params.get("http_draintimeout")
    if not _is_blank(drain):
        out["draintimeout"] = _duration("registry_http_draintimeout", drain, allow_zero=True)
    headers = _headers("registry_headers", params.get("headers"))
    if headers:
        out["headers"] = headers
    if debug_addr:
        debug = {"addr": debug_addr}
        if _bool("registry_prometheus_enabled", params.get("prometheus_enabled", True)):
            path = _str("registry_prometheus_path", params.get("prometheus_path", "/metrics")) or "/metrics"
            if not path.startswith("/"):
                raise ValueError("registry_prometheus_path must start with /, got %r" % (path,))
            debug["prometheus"] = {"enabled": True, "path": path}
        out["debug"] = debug
    return out


def _log(params, major):
    out = {
        "level": _choice("registry_log_level", params.get("log_level", "info"), LOG_LEVELS),
        "formatter": _choice("registry_log_formatter", params.get("log_formatter", "text"), LOG_FORMATTERS),
    }
    fields = _dict("registry_log_fields", params.get("log_fields"))
    if fields:
        out["fields"] = dict(fields)
    if _bool("registry_log_accesslog_disabled", params.get("log_accesslog_disabled", False)):
        out["accesslog"] = {"disabled": True}
    return out


def _auth(params, major):
    if not _bool("registry_auth_htpasswd_enabled", params.get("auth_htpasswd_enabled", False)):
        return None
    return {
        "htpasswd": {
            "realm": _str("registry_auth_htpasswd_realm", params.get("auth_htpasswd_realm"), required=True),
            "path": _abs_path("registry_auth_htpasswd_path", params.get("auth_htpasswd_path"), required=True),
        }
    }


_ENDPOINT_KEYS = ("name", "url", "disabled", "headers", "timeout", "threshold", "backoff", "ignoredmediatypes", "ignore")


def _notifications(params, major):
    var = "registry_notifications"
    section = _dict(var, params.get("notifications"))
    unknown = sorted(key for key in section if key not in ("endpoints", "events"))
    if unknown:
        raise ValueError("%s: unknown key(s) %s; valid keys: endpoints, events" % (var, ", ".join(unknown)))
    endpoints = section.get("endpoints") or []
    if not isinstance(endpoints, (list, tuple)):
        raise ValueError("%s.endpoints must be a list of endpoint dictionaries" % var)
    out_endpoints = []
    names = set()
    for index, raw in enumerate(endpoints):
        evar = "%s.endpoints[%d]" % (var, index)
        endpoint = _present(_dict(evar, raw))
        unknown = sorted(key for key in endpoint if key not in _ENDPOINT_KEYS)
        if unknown:
            raise ValueError("%s: unknown key(s) %s; valid keys: %s" % (evar, ", ".join(unknown), ", ".join(_ENDPOINT_KEYS)))
        item = {
            "name": _str(evar + ".name", endpoint.get("name"), required=True),
            "url": _url(evar + ".url", endpoint.get("url"), required=True),
            "timeout": _duration(evar + ".timeout", endpoint.get("timeout", "1s")),
            "threshold": _int(evar + ".threshold", endpoint.get("threshold", 10), minimum=1),
            "backoff": _duration(evar + ".backoff", endpoint.get("backoff", "1s")),
        }
        if item["name"] in names:
            raise ValueError("%s.name %r is used twice" % (evar, item["name"]))
        names.add(item["name"])
        if "disabled" in endpoint:
            item["disabled"] = _bool(evar + ".disabled", endpoint["disabled"])
        headers = _headers(evar + ".headers", endpoint.get("headers"))
        if headers:
            item["headers"] = headers
        if "ignoredmediatypes" in endpoint:
            item["ignoredmediatypes"] = _str_list(evar + ".ignoredmediatypes", endpoint["ignoredmediatypes"])
        if "ignore" in endpoint:
            ignore = _dict(evar + ".ignore", endpoint["ignore"])
            bad = sorted(key for key in ignore if key not in ("mediatypes", "actions"))
            if bad:
                raise ValueError("%s.ignore: unknown key(s) %s; valid keys: mediatypes, actions" % (evar, ", ".join(bad)))
            item["ignore"] = {key: _str_list("%s.ignore.%s" % (evar, key), ignore[key]) for key in ignore}
        out_endpoints.append(item)
    if not out_endpoints:
        return None
    out = {"endpoints": out_endpoints}
    events = _dict(var + ".events", section.get("events"))
    bad = sorted(key for key in events if key != "includereferences")
    if bad:
        raise ValueError("%s.events: unknown key(s) %s; valid key: includereferences" % (var, ", ".join(bad)))
    if "includereferences" in events:
        out["events"] = {"includereferences": _bool(var + ".events.includereferences", events["includereferences"])}
    return out


def _redis(params, major):
    if params.get("blobdescriptor_cache", "inmemory") != "redis":
        return None
    addrs = _str_list("registry_redis_addrs", params.get("redis_addrs"))
    if not addrs:
        raise ValueError("registry_redis_addrs is required with registry_blobdescriptor_cache: redis (list of host:port)")
    for index, addr in enumerate(addrs):
        if not re.match(r"^(\[[0-9a-fA-F:.]+\]|[^:\s\[\]]+):\d{1,5}$", addr):
            raise ValueError("registry_redis_addrs[%d] must be host:port, got %r" % (index, addr))
    out = {}
    if major == 2:
        if len(addrs) > 1:
            raise ValueError("registry_redis_addrs: registry 2.x takes exactly one Redis address (redis.addr); "
                             "several addresses (redis.addrs) need a 3.x image")
        out["addr"] = addrs[0]
    else:
        out["addrs"] = addrs
    username = _str("registry_redis_username", params.get("redis_username"))
    if username:
        if major == 2:
            raise ValueError("registry_redis_username (Redis ACL user) exists only in registry 3.x")
        out["username"] = username
    password = _str("registry_redis_password", params.get("redis_password"))
    if password:
        out["password"] = password
    db = params.get("redis_db")
    if not _is_blank(db) and db != 0:
        out["db"] = _int("registry_redis_db", db, minimum=0)
    for key in ("dialtimeout", "readtimeout", "writetimeout"):
        value = params.get("redis_" + key)
        if not _is_blank(value):
            out[key] = _duration("registry_redis_" + key, value)

    max_idle = params.get("redis_pool_maxidle")
    size = params.get("redis_pool_size")
    idle_timeout = params.get("redis_pool_idletimeout")
    pool = {}
    if not _is_blank(max_idle) and max_idle != 0:
        pool["maxidle" if major == 2 else "maxidleconns"] = _int("registry_redis_pool_maxidle", max_idle, minimum=0)
    if not _is_blank(size) and size != 0:
        pool["maxactive" if major == 2 else "poolsize"] = _int("registry_redis_pool_size", size, minimum=0)
    if not _is_blank(idle_timeout):
        pool["idletimeout" if major == 2 else "connmaxidletime"] = _duration("registry_redis_pool_idletimeout", idle_timeout)
    if pool:
        if major == 2:
            out["pool"] = pool
        else:
            out.update(pool)

    tls_enabled = _bool("registry_redis_tls_enabled", params.get("redis_tls_enabled", False))
    certificate = _abs_path("registry_redis_tls_certificate", params.get("redis_tls_certificate"))
    key = _abs_path("registry_redis_tls_key", params.get("redis_tls_key"))
    clientcas = _str_list("registry_redis_tls_clientcas", params.get("redis_tls_clientcas"))
    if major == 2:
        if certificate or key or clientcas:
            raise ValueError("registry_redis_tls_certificate/key/clientcas exist only in registry 3.x; "
                             "2.x knows only registry_redis_tls_enabled")
        if tls_enabled:
            out["tls"] = {"enabled": True}
    else:
        if bool(certificate) != bool(key):
            raise ValueError("registry_redis_tls_certificate and registry_redis_tls_key go together")
        if tls_enabled and not certificate:
            raise ValueError("registry_redis_tls_enabled: registry 3.x enables Redis TLS through a client "
                             "certificate; set registry_redis_tls_certificate and registry_redis_tls_key")
        if certificate:
            out["tls"] = {"certificate": certificate, "key": key}
            if clientcas:
                out["tls"]["clientcas"] = clientcas
    return out


def _health(params, major):
    enabled = _bool("registry_health_storagedriver_enabled", params.get("health_storagedriver_enabled", True))
    check = {"enabled": enabled}
    if enabled:
        check["interval"] = _duration("registry_health_storagedriver_interval",
                                      params.get("health_storagedriver_interval", "10s"))
        check["threshold"] = _int("registry_health_storagedriver_threshold",
                                  params.get("health_storagedriver_threshold", 3), minimum=1)
    return {"storagedriver": check}


# ---------------------------------------------------------------------------------------------
# Checks that are not about config.yml itself
# ---------------------------------------------------------------------------------------------

_SECRET_ENV = re.compile(r"(SECRET|PASSW|TOKEN|ACCESS_?KEY|ACCOUNT_?KEY|CREDENTIAL|PRIVATE_?KEY)", re.IGNORECASE)


def env_problems(params, major):
    """Problems with ``registry_env`` (the container environment is visible in ``docker inspect``)."""
    problems = []
    env = params.get("env")
    try:
        env = _dict("registry_env", env)
    except ValueError as exc:
        return [str(exc)]
    for name in sorted(env, key=str):
        value = env[name]
        text = str(name)
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", text):
            problems.append("registry_env: %r is not a valid environment variable name" % text)
        elif text.upper().startswith("REGISTRY_"):
            problems.append(
                "registry_env: %s would override config.yml from the environment, where docker inspect shows it "
                "and the backends' consistency check cannot see it; set the matching registry_* variable instead" % text
            )
        elif text == "AWS_CA_BUNDLE" and major == 2:
            problems.append("registry_env: AWS_CA_BUNDLE makes Distribution 2.8 panic at start; "
                            "mount the CA into the image's trust store instead")
        elif _SECRET_ENV.search(text):
            problems.append(
                "registry_env: %s looks like a secret; secrets belong in config.yml (mode 0600) only, never in the "
                "container environment that docker inspect shows" % text
            )
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            problems.append("registry_env: the value of %s must be a string (quote it), got %r" % (text, value))
    return problems


def topology_problems(params, driver):
    """Storage drivers that cannot be shared by several backends."""
    backends = params.get("backends") or []
    if not isinstance(backends, (list, tuple)) or len(backends) < 2:
        return []
    if driver == "inmemory":
        return ["registry_storage_driver: 'inmemory' keeps images inside one process; %d backends (%s) "
                "would each see different content. Use it for single-backend tests only"
                % (len(backends), ", ".join(str(b) for b in backends))]
    if driver == "filesystem" and not _bool("registry_filesystem_shared", params.get("filesystem_shared", False)):
        return ["registry_storage_driver: 'filesystem' with %d backends (%s): each host would keep its own "
                "copy and pushes through one backend would be missing on the others. Mount the same shared "
                "filesystem (NFS, CephFS) at registry_filesystem_host_dir on every backend and set "
                "registry_filesystem_shared: true, or use object storage (s3, oss, azure, gcs)"
                % (len(backends), ", ".join(str(b) for b in backends))]
    return []


# ---------------------------------------------------------------------------------------------
# Load-balancing consistency
# ---------------------------------------------------------------------------------------------

_LB_KINDS = ("storage", "http_secret", "redis")


def _digest(value):
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def lb_fingerprint(params):
    """Digests of what every backend behind the load balancer must share.

    They are computed from the role *inputs*, not from the rendered section, so a rolling
    upgrade from a 2.x image (native ``oss``) to a 3.x image (``s3`` at the OSS endpoint) over
    the same bucket compares equal. Only digests leave this function, never the secrets.
    """
    driver = params.get("storage_driver")
    driver = str(driver).strip() if driver is not None else ""
    section = params.get("storage_" + driver) if driver in DRIVERS else None
    inputs = _present(section) if isinstance(section, dict) else {}
    if driver == "oss":
        # The same bucket whatever the implementation (api) and however the region is written.
        inputs.pop("api", None)
        try:
            inputs["region"] = oss_region_id(inputs.get("region"))
        except ValueError:
            pass
    storage = {"driver": driver, "params": inputs, "extra": params.get("storage_extra_params") or {}}
    if driver == "filesystem":
        storage["shared"] = params.get("filesystem_shared", False)
    redis = None
    if params.get("blobdescriptor_cache", "inmemory") == "redis":
        redis = {"addrs": params.get("redis_addrs"), "db": params.get("redis_db") or 0}
    return {
        "storage": _digest(storage),
        "http_secret": _digest(str(params.get("http_secret") or "")),
        "redis": _digest(redis),
    }


def lb_problems(params):
    """Which backends would disagree with this one (``params['lb_peers']``: host -> fingerprint)."""
    peers = params.get("lb_peers") or {}
    if not isinstance(peers, dict) or not peers:
        return []
    me = str(params.get("host") or "this backend")
    mine = lb_fingerprint(params)
    differ = {kind: [] for kind in _LB_KINDS}
    for host in sorted(peers, key=str):
        theirs = peers[host]
        if str(host) == me or not isinstance(theirs, dict):
            continue
        for kind in _LB_KINDS:
            if theirs.get(kind) not in (None, mine[kind]):
                differ[kind].append(str(host))
    problems = []
    if differ["storage"]:
        problems.append(
            "registry_storage_driver/registry_storage_*: %s would use different storage than %s. Every backend "
            "behind the load balancer must use the same driver, bucket, credentials and rootdirectory, or an "
            "image pushed through one backend is missing on the others; define the storage once for the "
            "backends group, not per host" % (me, ", ".join(differ["storage"]))
        )
    if differ["http_secret"]:
        problems.append(
            "registry_http_secret: %s would get a different http.secret than %s. Chunked uploads that move "
            "between backends would fail with 'blob upload unknown'; set dockyard_http_secret once (vaulted) "
            "or leave it unset everywhere so the secret generated on the controller is used"
            % (me, ", ".join(differ["http_secret"]))
        )
    if differ["redis"]:
        problems.append(
            "registry_blobdescriptor_cache/registry_redis_*: %s would use a different Redis cache than %s; "
            "backends must share the cache (or all use inmemory)" % (me, ", ".join(differ["redis"]))
        )
    return problems


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


def _collect(params, version):
    """``(config, errors)``; ``config`` is None when anything is wrong."""
    errors = []
    if not isinstance(params, dict):
        return None, ["registry_config: the parameters must be a dictionary, got %r" % type(params).__name__]
    try:
        major = major_version(params.get("image"), version)
    except ValueError as exc:
        return None, [str(exc)]

    config = {"version": "0.1"}

    def run(key, builder):
        try:
            value = builder()
        except ValueError as exc:
            errors.append(str(exc))
            return
        if value is not None:
            config[key] = value

    storage = {}

    def run_storage(builder):
        try:
            storage.update(builder())
        except ValueError as exc:
            errors.append(str(exc))

    run("log", lambda: _log(params, major))
    run_storage(lambda: dict([build_storage_driver(params, major)]))
    run_storage(lambda: _storage_cache(params, major))
    run_storage(lambda: _storage_maintenance(params, major))
    run_storage(lambda: _storage_tag(params, major))
    config["storage"] = storage
    run("http", lambda: _http(params, major))
    run("auth", lambda: _auth(params, major))
    run("notifications", lambda: _notifications(params, major))
    run("redis", lambda: _redis(params, major))
    run("health", lambda: _health(params, major))

    errors.extend(env_problems(params, major))
    try:
        errors.extend(topology_problems(params, storage_driver(params)))
    except ValueError:
        pass  # already reported by the storage section
    errors.extend(lb_problems(params))
    return (None if errors else config), errors


def config_errors(params, version=None):
    """Every problem with the role inputs, each naming its variable; ``[]`` when all is well."""
    return _collect(params, version)[1]


def build_config(params, version=None):
    """The ``config.yml`` structure for ``params`` and a registry version (``''``: from the tag).

    Raises ValueError listing every problem (one per line), each naming its role variable.
    """
    config, errors = _collect(params, version)
    if errors:
        raise ValueError("\n".join(errors))
    return config
