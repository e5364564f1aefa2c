# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: nginx decisions for the dockyard.registry collection.

This file is private to the dockyard.registry collection; other collections must not import it.
It imports nothing from Ansible and raises ``ValueError`` (naming the variable at fault) on bad
input. It decides:

* what ``nginx -V`` says about an installed binary and whether the wanted build differs from it
  (``needs_build``): a rebuild happens only when the version or the configure arguments differ;
* which configure arguments a build gets (``configure_args``);
* what the registry ``upstream`` block says, from a list of backend dicts (``build_upstream``),
  and whether a load-balancing method and the per-backend flags fit together
  (``upstream_problems``);
* whether two listeners of the proxy (or a backend on the proxy host) want the same port
  (``listen_problems``).
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass, field

from ansible_collections.dockyard.registry.plugins.module_utils import _scalars

# ---------------------------------------------------------------------------------------------
# Versions and `nginx -V`
# ---------------------------------------------------------------------------------------------

_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_V_VERSION = re.compile(r"^nginx version:\s*(?:[\w.-]+/)?(\d+\.\d+\.\d+)\b", re.MULTILINE)
_V_ARGS = re.compile(r"^configure arguments:(.*)$", re.MULTILINE)

# Options whose position matters: modules are linked (and their filters run) in this order.
_ORDERED_OPTIONS = ("--add-module", "--add-dynamic-module")
# Options the role derives from its own variables; flags must not set them a second time.
_DERIVED_OPTIONS = ("--prefix", "--user", "--group")
_OPTION = re.compile(r"^--[a-z0-9][a-z0-9_-]*(=.*)?$", re.DOTALL)


def validate_version(version, var="nginx_version"):
    """Return ``version`` as a string when it is X.Y.Z, else raise ValueError."""
    text = "" if version is None else str(version).strip()
    if not _VERSION.match(text):
        raise ValueError("%s must be an nginx release like 1.26.3, got %r" % (var, version))
    return text


def version_tuple(version, var="nginx_version"):
    return tuple(int(part) for part in validate_version(version, var).split("."))


def version_at_least(version, minimum):
    """True when ``version`` >= ``minimum`` (both X.Y.Z strings)."""
    return version_tuple(version) >= version_tuple(minimum, "minimum")


@dataclass(frozen=True)
class InstalledNginx:
    """What ``nginx -V`` printed."""

    version: str
    configure_args: list = field(default_factory=list)
    raw_configure_args: str = ""


def split_configure_args(text):
    """Split the ``configure arguments:`` line the way the shell that ran configure did.

    nginx quotes values containing blanks with single quotes (``--with-cc-opt='-O2 -g'``).
    """
    try:
        return shlex.split(text or "")
    except ValueError as exc:
        raise ValueError("cannot split configure arguments %r: %s" % (text, exc))


def parse_nginx_v(output):
    """Parse the output of ``nginx -V`` (nginx prints it on stderr; pass stdout + stderr).

    Returns an :class:`InstalledNginx`; raises ValueError when there is no version line.
    A binary built without any configure argument prints no ``configure arguments:`` line.
    """
    text = output or ""
    match = _V_VERSION.search(text)
    if not match:
        raise ValueError("no 'nginx version: nginx/X.Y.Z' line in nginx -V output: %r" % text[:200])
    args_match = _V_ARGS.search(text)
    raw = args_match.group(1).strip() if args_match else ""
    return InstalledNginx(version=match.group(1), configure_args=split_configure_args(raw), raw_configure_args=raw)


def _option_name(arg):
    return arg.split("=", 1)[0]


def normalize_configure_args(args):
    """Canonical form of a configure argument list, for comparison.

    configure reads its arguments left to right: for a ``--name=value`` option the last one wins,
    and a repeated ``--with-x`` flag is the same as one; neither depends on position. Module
    options (``--add-module=``, ``--add-dynamic-module=``) keep their order.
    """
    values = {}
    flags = set()
    ordered = []
    for arg in args or []:
        arg = str(arg)
        name = _option_name(arg)
        if name in _ORDERED_OPTIONS:
            ordered.append(arg)
        elif "=" in arg:
            values[name] = arg.split("=", 1)[1]
        else:
            flags.add(arg)
    return (tuple(sorted(values.items())), tuple(sorted(flags)), tuple(ordered))


def _describe_difference(installed, wanted):
    inst_values, inst_flags, inst_ordered = normalize_configure_args(installed)
    want_values, want_flags, want_ordered = normalize_configure_args(wanted)
    parts = []
    inst_values, want_values = dict(inst_values), dict(want_values)
    added = sorted(set(want_flags) - set(inst_flags))
    removed = sorted(set(inst_flags) - set(want_flags))
    for name in sorted(set(inst_values) | set(want_values)):
        if name not in inst_values:
            added.append("%s=%s" % (name, want_values[name]))
        elif name not in want_values:
            removed.append("%s=%s" % (name, inst_values[name]))
        elif inst_values[name] != want_values[name]:
            parts.append("%s %r -> %r" % (name, inst_values[name], want_values[name]))
    if added:
        parts.insert(0, "adds " + " ".join(added))
    if removed:
        parts.append("drops " + " ".join(removed))
    if inst_ordered != want_ordered:
        parts.append("module list %s -> %s" % (list(inst_ordered), list(want_ordered)))
    return "; ".join(parts)


def needs_build(installed_output, wanted_version, wanted_args):
    """Decide whether nginx must be (re)built.

    ``installed_output`` is the combined output of ``<prefix>/sbin/nginx -V`` or None when there is
    no binary. Returns ``(bool, reason)``; the reason is one line an operator can read.
    """
    wanted_version = validate_version(wanted_version)
    wanted_args = [str(arg) for arg in (wanted_args or [])]
    if installed_output is None:
        return True, "nginx is not installed; building %s" % wanted_version
    try:
        installed = parse_nginx_v(installed_output)
    except ValueError as exc:
        return True, "cannot read the installed nginx (%s); rebuilding %s" % (exc, wanted_version)
    if installed.version != wanted_version:
        return True, "installed nginx %s, wanted %s" % (installed.version, wanted_version)
    if normalize_configure_args(installed.configure_args) != normalize_configure_args(wanted_args):
        return True, "configure arguments differ: %s" % _describe_difference(installed.configure_args, wanted_args)
    return False, "nginx %s is installed with the wanted configure arguments" % wanted_version


def configure_args(prefix, user, group, flags=(), extra_flags=(), required_flags=()):
    """The full ``./configure`` argument list: derived options first, then the flags, de-duplicated.

    ``flags`` is ``nginx_configure_flags``, ``extra_flags`` ``nginx_configure_extra_flags`` and
    ``required_flags`` what enabled features need (e.g. ``--with-http_v2_module`` for HTTP/2).
    """
    if not prefix or not str(prefix).startswith("/"):
        raise ValueError("nginx_prefix must be an absolute path, got %r" % (prefix,))
    for var, value in (("nginx_user", user), ("nginx_group", group)):
        if not value or re.search(r"[\s'\"]", str(value)):
            raise ValueError("%s must be a plain user/group name, got %r" % (var, value))
    result = ["--prefix=%s" % str(prefix).rstrip("/"), "--user=%s" % user, "--group=%s" % group]
    seen = set(result)
    for var, items in (("nginx_configure_flags", flags), ("nginx_configure_extra_flags", extra_flags),
                       ("required by enabled features", required_flags)):
        if items is None:
            continue
        if isinstance(items, (str, bytes)) or not isinstance(items, (list, tuple)):
            raise ValueError("%s must be a list of configure arguments, got %r" % (var, items))
        for item in items:
            arg = str(item).strip()
            if not _OPTION.match(arg):
                raise ValueError("%s: %r is not a configure option (expected --name or --name=value)" % (var, item))
            if _option_name(arg) in _DERIVED_OPTIONS:
                raise ValueError("%s: do not set %s there; it comes from nginx_%s"
                                 % (var, _option_name(arg), _option_name(arg)[2:]))
            if arg not in seen:
                seen.add(arg)
                result.append(arg)
    return result


# ---------------------------------------------------------------------------------------------
# nginx value syntax
# ---------------------------------------------------------------------------------------------

_TIME = re.compile(r"^(?:\d+(?:ms|s|m|h|d|w|M|y)?)(?:\s*\d+(?:ms|s|m|h|d|w|M|y))*$")
_SIZE = re.compile(r"^\d+[kKmMgG]?$")


def is_nginx_time(value):
    """True for an nginx time value (``10``, ``10s``, ``1m30s``, ``500ms``)."""
    return isinstance(value, (str, int)) and not isinstance(value, bool) and bool(_TIME.match(str(value).strip()))


def is_nginx_size(value):
    """True for an nginx size value (``64k``, ``10m``, ``1g``, ``4096``)."""
    return isinstance(value, (str, int)) and not isinstance(value, bool) and bool(_SIZE.match(str(value).strip()))


# ---------------------------------------------------------------------------------------------
# Upstream
# ---------------------------------------------------------------------------------------------

#: Load-balancing methods; ``url_hash`` is the recipe's name for ``hash``.
LB_METHODS = ("round_robin", "least_conn", "ip_hash", "hash", "url_hash", "random")
_METHOD_ALIASES = {"url_hash": "hash"}
#: Methods that cannot have a ``backup`` server (nginx: "balancing method does not support parameter backup").
NO_BACKUP_METHODS = ("ip_hash", "hash", "random")
#: The first nginx release that knows the method.
METHOD_MIN_VERSION = {"round_robin": "0.0.1", "least_conn": "1.3.1", "ip_hash": "0.0.1", "hash": "1.7.2",
                      "random": "1.15.1"}

#: Per-backend host variables (docs/inventory.md) and their defaults.
BACKEND_HOSTVARS = {
    "address": "dockyard_backend_address",
    "port": "dockyard_backend_port",
    "weight": "dockyard_lb_weight",
    "down": "dockyard_lb_down",
    "backup": "dockyard_lb_backup",
    "max_fails": "dockyard_lb_max_fails",
    "fail_timeout": "dockyard_lb_fail_timeout",
}
BACKEND_DEFAULTS = {"port": 5000, "weight": 1, "down": False, "backup": False, "max_fails": 1, "fail_timeout": "10s"}

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$")


def normalize_method(method, var="nginx_lb_method"):
    text = str(method or "").strip()
    if text not in LB_METHODS:
        raise ValueError("%s=%r is not a load-balancing method; valid: %s" % (var, method, ", ".join(LB_METHODS)))
    return _METHOD_ALIASES.get(text, text)


def _as_bool(value, what):
    return _scalars._bool(what, value)


def _as_int(value, what, minimum=None, maximum=None):
    return _scalars._int(what, value, minimum, maximum)


def format_address(address, port):
    """``host:port`` for nginx; IPv6 literals are bracketed."""
    host = str(address).strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        if ipaddress.ip_address(host).version == 6:
            return "[%s]:%d" % (host, port)
    except ValueError:
        pass
    return "%s:%d" % (host, port)


def _check_address(address, what):
    host = str(address or "").strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise ValueError("%s is empty" % what)
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if not _HOSTNAME.match(host):
        raise ValueError("%s=%r is neither an IP address nor a host name" % (what, address))
    return host


def default_backend_address(name, hostvars):
    """Where a backend without ``dockyard_backend_address`` listens (see the registry role)."""
    ansible_host = hostvars.get("ansible_host")
    if ansible_host:
        try:
            ipaddress.ip_address(str(ansible_host))
            return str(ansible_host)
        except ValueError:
            pass
    default_ipv4 = hostvars.get("ansible_default_ipv4") or {}
    if isinstance(default_ipv4, dict) and default_ipv4.get("address"):
        return str(default_ipv4["address"])
    return str(ansible_host or name)


def backend_from_hostvars(name, hostvars):
    """A backend dict from one backend host's variables (the ``dockyard_backend_*``/``dockyard_lb_*`` contract).

    ``address`` falls back exactly as the registry role picks its listen address: ``ansible_host``
    when it is an IP address, else the host's default IPv4 address (facts), else ``ansible_host``
    as a name, else the inventory name. Values are returned as given (validation happens in
    :func:`normalize_backend`).
    """
    hostvars = hostvars or {}
    backend = {"name": str(name)}
    for key, var in BACKEND_HOSTVARS.items():
        value = hostvars.get(var)
        if value is None and key == "address":
            value = default_backend_address(name, hostvars)
        if value is None:
            value = BACKEND_DEFAULTS[key]
        backend[key] = value
    return backend


def normalize_backend(backend, index=0):
    """Validate one backend dict and return it with typed values. Raises ValueError naming the variable."""
    if not isinstance(backend, dict):
        raise ValueError("backend #%d must be a dict, got %r" % (index, backend))
    unknown = sorted(set(backend) - set(BACKEND_HOSTVARS) - {"name"})
    if unknown:
        raise ValueError("backend #%d has unknown keys %s; valid: name, %s"
                         % (index, ", ".join(unknown), ", ".join(BACKEND_HOSTVARS)))
    name = str(backend.get("name") or backend.get("address") or "#%d" % index)

    def what(key):
        return "%s (%s)" % (BACKEND_HOSTVARS[key], name)

    values = dict(BACKEND_DEFAULTS)
    values.update({k: v for k, v in backend.items() if v is not None})
    if "address" not in values:
        raise ValueError("%s is not set" % what("address"))
    fail_timeout = str(values["fail_timeout"]).strip()
    if not is_nginx_time(fail_timeout):
        raise ValueError("%s=%r is not an nginx time (e.g. 10s, 1m)" % (what("fail_timeout"), values["fail_timeout"]))
    return {
        "name": name,
        "address": _check_address(values["address"], what("address")),
        "port": _as_int(values["port"], what("port"), 1, 65535),
        "weight": _as_int(values["weight"], what("weight"), 1),
        "down": _as_bool(values["down"], what("down")),
        "backup": _as_bool(values["backup"], what("backup")),
        "max_fails": _as_int(values["max_fails"], what("max_fails"), 0),
        "fail_timeout": fail_timeout,
    }


def upstream_problems(backends, method="round_robin", group_var="nginx_backends_group", version=None):
    """Every reason the upstream cannot be built, as messages that name the variable. Empty when fine."""
    problems = []
    try:
        method = normalize_method(method)
    except ValueError as exc:
        problems.append(str(exc))
        method = None
    if method and version is not None:
        try:
            if not version_at_least(version, METHOD_MIN_VERSION[method]):
                problems.append("nginx_lb_method=%s needs nginx >= %s; nginx_version is %s"
                                % (method, METHOD_MIN_VERSION[method], version))
        except ValueError as exc:
            problems.append(str(exc))
    if not backends:
        problems.append("no backends: the group named by %s is empty or missing (and nginx_backends is empty); "
                        "add the registry hosts to it" % group_var)
        return problems
    normalized = []
    for index, backend in enumerate(backends):
        try:
            normalized.append(normalize_backend(backend, index))
        except ValueError as exc:
            problems.append(str(exc))
    seen = {}
    for backend in normalized:
        key = format_address(backend["address"], backend["port"])
        if key in seen:
            problems.append("backends %s and %s both point at %s; set dockyard_backend_address/dockyard_backend_port "
                            "so each backend is listed once" % (seen[key], backend["name"], key))
        seen.setdefault(key, backend["name"])
    if method in NO_BACKUP_METHODS:
        backups = [b["name"] for b in normalized if b["backup"]]
        if backups:
            problems.append("dockyard_lb_backup is true on %s, but nginx_lb_method=%s does not support backup servers; "
                            "use round_robin or least_conn, or drop backup" % (", ".join(backups), method))
    if normalized and len(normalized) == len(backends):
        active = [b for b in normalized if not b["down"] and not b["backup"]]
        if not active:
            problems.append("every backend is down or backup (dockyard_lb_down/dockyard_lb_backup); "
                            "at least one must take traffic")
    return problems


def build_upstream(backends, method="round_robin", hash_key="$request_uri", hash_consistent=True,
                   random_two=False, group_var="nginx_backends_group", version=None):
    """The upstream model the nginx.conf template renders.

    Returns ``{"method": str, "directive": str or "", "servers": [{"name", "address", "line", ...}]}``
    where ``directive`` is the balancing directive without ``;`` and ``line`` what follows ``server``.
    Raises ValueError with every problem found.
    """
    problems = upstream_problems(backends, method, group_var, version)
    if problems:
        raise ValueError("; ".join(problems))
    method = normalize_method(method)
    if method == "hash":
        key = str(hash_key or "").strip()
        if not key or ";" in key or "{" in key or "}" in key:
            raise ValueError("nginx_lb_hash_key=%r is not an nginx hash key (e.g. $request_uri)" % (hash_key,))
        directive = "hash %s%s" % (key, " consistent" if _as_bool(hash_consistent, "nginx_lb_hash_consistent") else "")
    elif method == "random":
        directive = "random two" if _as_bool(random_two, "nginx_lb_random_two") else "random"
    elif method == "round_robin":
        directive = ""
    else:
        directive = method
    servers = []
    for index, raw in enumerate(backends):
        backend = normalize_backend(raw, index)
        params = []
        if backend["weight"] != 1:
            params.append("weight=%d" % backend["weight"])
        params.append("max_fails=%d" % backend["max_fails"])
        params.append("fail_timeout=%s" % backend["fail_timeout"])
        if backend["backup"]:
            params.append("backup")
        if backend["down"]:
            params.append("down")
        endpoint = format_address(backend["address"], backend["port"])
        backend["endpoint"] = endpoint
        backend["line"] = " ".join([endpoint] + params)
        servers.append(backend)
    return {"method": method, "directive": directive, "servers": servers}


# ---------------------------------------------------------------------------------------------
# Listeners
# ---------------------------------------------------------------------------------------------

_WILDCARDS = ("", "*", "0.0.0.0", "::")
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def _addresses_overlap(first, second):
    """Two listen addresses overlap when they are equal or either is a wildcard (conservative)."""
    first = str(first or "").strip().strip("[]")
    second = str(second or "").strip().strip("[]")
    if first in _WILDCARDS or second in _WILDCARDS:
        return True
    return first == second


def listen_problems(listeners, backends=(), local_names=()):
    """Port clashes among the proxy's listeners, and with backends that run on the proxy host.

    ``listeners``: list of ``{"var": "nginx_listen_port", "address": "*", "port": 443}``.
    ``backends``: backend dicts; one clashes when its address is loopback, or its address or name is
    one of ``local_names`` (the proxy's inventory name and addresses), and its port is a listener's port.
    """
    problems = []
    checked = []
    for listener in listeners or []:
        var = listener.get("var", "?")
        try:
            port = _as_int(listener.get("port"), var, 1, 65535)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        for other_var, other_address, other_port in checked:
            if port == other_port and _addresses_overlap(listener.get("address"), other_address):
                problems.append("%s and %s are both %d; give each listener its own port" % (other_var, var, port))
        checked.append((var, listener.get("address"), port))
    local = {str(name).strip().strip("[]") for name in local_names if name} | set(_LOOPBACK_NAMES)
    for index, raw in enumerate(backends or []):
        try:
            backend = normalize_backend(raw, index)
        except ValueError:
            continue  # reported by upstream_problems
        on_proxy = backend["address"] in local or backend["name"] in local or backend["address"].startswith("127.")
        if not on_proxy:
            continue
        for var, address, port in checked:
            if port == backend["port"]:
                problems.append("backend %s (%s) runs on the proxy host on port %d, which %s also uses; "
                                "change dockyard_backend_port or %s"
                                % (backend["name"], format_address(backend["address"], backend["port"]), port, var, var))
    return problems
