# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: every ``config.yml`` section but the storage driver.

Private to the dockyard.registry collection; other collections must not import it. No Ansible
import. ``storage.{delete,redirect,cache,maintenance,tag}``, ``http`` (listen addresses, secret,
debug server, headers), ``log``, ``auth`` (htpasswd, or token: the token service's JWTs), ``notifications``, ``redis`` (2.x and 3.x shapes) and
``health``, each built from the role inputs for a major version; ``ValueError`` names the role
variable at fault.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.dockyard.registry.plugins.module_utils._inventory import host_port
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
    _str_list,
    _url,
)
from ansible_collections.dockyard.registry.plugins.module_utils._registry_config.storage import (
    _present,
)

CONTAINER_PORT = 5000
CONTAINER_DEBUG_PORT = 5001

LOG_LEVELS = ("error", "warn", "info", "debug")


LOG_FORMATTERS = ("text", "json", "logstash")


BLOBDESCRIPTOR_CACHES = ("inmemory", "redis", "none")


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
    http_addr = host_port("" if _is_wildcard(address) else address, port) if host_network else ":%d" % CONTAINER_PORT

    debug_addr = ""
    if _bool("registry_debug_enabled", params.get("debug_enabled", True)):
        debug_address = _str("registry_debug_address", params.get("debug_address", "127.0.0.1"), required=True)
        debug_port = _int("registry_debug_port", params.get("debug_port", CONTAINER_DEBUG_PORT), minimum=1, maximum=65535)
        if not host_network:
            _ip("registry_debug_address", debug_address)
        if host_network and debug_port == port:
            raise ValueError("registry_debug_port %d must differ from registry_port with registry_network_mode: host" % port)
        debug_addr = host_port(debug_address, debug_port) if host_network else ":%d" % CONTAINER_DEBUG_PORT
    return http_addr, debug_addr


def _headers(var, value):
    headers = {}
    for name, payload in _dict(var, value).items():
        text = str(name)
        bad = re.search(r"[^A-Za-z0-9!#$%&'*+.^_`|~-]", text)
        if bad or not text:
            # Never the whole key: "Authorization: Bearer <token>" written as a name would leak the
            # token. Only the valid characters before the first bad one (a header name) are shown.
            raise ValueError(
                "%s: %s is not a valid HTTP header name; write {Name: [value, ...]}"
                % (var, "%r followed by %r" % (text[:bad.start()], bad.group(0)) if bad and bad.start() else "a key")
            )
        values = _str_list("%s[%s]" % (var, name), payload)
        if values:
            headers[str(name)] = values
    return headers


TLS_MINIMUM_VERSIONS = ("tls1.2", "tls1.3")


def _tls(params):
    """``http.tls``: the backend's certificate and key, and the client CAs every client certificate must
    chain to (the proxies'); the registry then refuses a TLS client without such a certificate."""
    if not _bool("registry_tls", params.get("tls_enabled", False)):
        return {}
    out = {
        "certificate": _abs_path("registry_tls_certificate", params.get("tls_certificate"), required=True),
        "key": _abs_path("registry_tls_key", params.get("tls_key"), required=True),
    }
    clientcas = _str_list("registry_tls_client_ca", params.get("tls_clientcas"))
    if not clientcas:
        raise ValueError("registry_tls_client_ca is empty: without client CAs the registry would accept any TLS client")
    out["clientcas"] = [_abs_path("registry_tls_client_ca", path, required=True) for path in clientcas]
    out["minimumtls"] = _choice("registry_tls_minimum_version", params.get("tls_minimum_version", "tls1.2"),
                                TLS_MINIMUM_VERSIONS)
    if not _bool("registry_debug_enabled", params.get("debug_enabled", True)):
        raise ValueError("registry_tls needs registry_debug_enabled: the health checks use the debug server's "
                         "/debug/health, which needs no client certificate")
    return out


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
                "or https://registry.example.com:5443 (no path), got %s" % (_shown(public_url),)
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
    tls = _tls(params)
    if tls:
        out["tls"] = tls
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


def _auth_token(params, major):
    """``auth.token``: the registry verifies the token service's ES256 JWTs (``x5c`` header) against
    a bundle of the proxies' token-signing certificates; 3.x also pins the algorithm."""
    token = {
        "realm": _url("registry_auth_token_realm", params.get("auth_token_realm"), required=True),
        "service": _str("registry_auth_token_service", params.get("auth_token_service"), required=True),
        "issuer": _str("registry_auth_token_issuer", params.get("auth_token_issuer"), required=True),
        "rootcertbundle": _abs_path("registry_auth_token_rootcertbundle", params.get("auth_token_rootcertbundle"),
                                    required=True),
    }
    if major >= 3:
        token["signingalgorithms"] = ["ES256"]
    return {"token": token}


def _auth(params, major):
    htpasswd = _bool("registry_auth_htpasswd_enabled", params.get("auth_htpasswd_enabled", False))
    if _bool("registry_auth_token_enabled", params.get("auth_token_enabled", False)):
        if htpasswd:
            raise ValueError("registry_auth_token_enabled (dockyard_auth_mode: token) and registry_auth_htpasswd_enabled "
                             "are both true: a registry has one auth method; set registry_auth_htpasswd_enabled: false")
        return _auth_token(params, major)
    if not htpasswd:
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
            raise ValueError("registry_redis_addrs[%d] must be host:port, got %s" % (index, _shown(addr)))
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
