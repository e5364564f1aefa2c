# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: draining registry backends out of the nginx upstream, and back in.

This file is private to the dockyard.registry collection; other collections must not import it.
It imports nothing from Ansible and raises ``ValueError`` on bad input. It owns:

* what an upstream ``server`` line of a registry backend looks like in ``nginx.conf``, drained or
  not (``server_directive``): the nginx role's template and the ``nginx_drain`` module both write
  lines through it, so a rerun of the role renders byte for byte what the module wrote;
* finding and rewriting those lines in a rendered ``nginx.conf`` (``upstream_members``,
  ``set_drained``) and refusing a drain that would leave no backend taking traffic;
* the upstream state file every proxy keeps (``load_state``/``dump_state``): where nginx's files
  are, and which backends are drained and why (``rolling``, ``pending``: new and not yet healthy,
  ``absent``: being removed), so the nginx role keeps a drained backend drained;
* which backends the nginx role must render ``down`` (``plan_drained``);
* which nginx worker processes a graceful reload left behind (``old_workers_left``): once they
  have exited, every request that could still reach a drained backend is done.

A drained line is the backend's normal line plus the ``down`` parameter, tagged in the trailing
comment::

    server 10.0.0.11:5000 max_fails=1 fail_timeout=10s;  # dockyard-backend=backend1
    server 10.0.0.11:5000 max_fails=1 fail_timeout=10s down;  # dockyard-backend=backend1 drained

A backend the inventory already marks ``down`` (``dockyard_lb_down``) keeps its ``down`` when it is
put back (the tag is then ``drained-kept-down``).
"""

from __future__ import annotations

import json
import re

#: Tag in the trailing comment of every generated upstream server line.
MARKER = "dockyard-backend"
#: Default path of the upstream state file on a proxy (the nginx role writes it there).
STATE_FILE = "/etc/dockyard/nginx-upstream.json"
STATE_VERSION = 1
#: Why a backend is drained.
REASONS = ("rolling", "pending", "absent", "manual")

_FLAG_ADDED = "drained"
_FLAG_KEPT = "drained-kept-down"
_NAME = re.compile(r"^[A-Za-z0-9_.:@\[\]-]+$")
_LINE = re.compile(
    r"^(?P<indent>[ \t]*)server[ \t]+(?P<params>[^;#\n]*?)[ \t]*;[ \t]*#[ \t]*" + MARKER
    + r"=(?P<name>\S+)(?:[ \t]+(?P<flag>" + _FLAG_KEPT + "|" + _FLAG_ADDED + r"))?[ \t]*$",
    re.MULTILINE)
_ANY_SERVER = re.compile(r"^[ \t]*server[ \t]+(?P<endpoint>[^\s;]+)[^;\n]*;", re.MULTILINE)


def _check_name(name):
    text = "" if name is None else str(name).strip()
    if not text or not _NAME.match(text):
        raise ValueError("backend name %r is not an inventory host name" % (name,))
    return text


def server_directive(line, name, drained=False):
    """The whole ``server ...;  # dockyard-backend=<name>[ flag]`` directive (no indentation).

    ``line`` is what follows ``server`` for the backend as the inventory describes it (see
    ``_nginx.build_upstream``); ``drained`` adds ``down`` unless the line already has it.
    """
    params = str(line or "").split()
    if not params or ";" in str(line) or "#" in str(line):
        raise ValueError("server line %r is not an nginx upstream server" % (line,))
    name = _check_name(name)
    text = "server " + " ".join(params)
    flag = ""
    if drained:
        if "down" in params[1:]:
            flag = " " + _FLAG_KEPT
        else:
            text += " down"
            flag = " " + _FLAG_ADDED
    return "%s;  # %s=%s%s" % (text, MARKER, name, flag)


def _parse(match):
    params = match.group("params").split()
    flag = match.group("flag") or ""
    base = list(params)
    if flag == _FLAG_ADDED and "down" in base[1:]:
        # drop the one `down` the drain added (the last one)
        index = len(base) - 1 - base[::-1].index("down")
        del base[index]
    return {
        "name": match.group("name"),
        "endpoint": params[0] if params else "",
        "line": " ".join(base),
        "drained": bool(flag),
        "down": "down" in params[1:],
        "backup": "backup" in params[1:],
    }


def upstream_members(conf_text):
    """Every generated upstream server line of ``conf_text``, in order.

    Each item: ``name``, ``endpoint`` (``host:port``), ``line`` (the line without the drain's
    ``down``), ``drained``, ``down`` (as nginx sees it now) and ``backup``.
    """
    return [_parse(m) for m in _LINE.finditer(conf_text or "")]


def server_endpoints(conf_text):
    """The endpoint of every ``server`` line of ``conf_text`` (generated or not)."""
    return [m.group("endpoint") for m in _ANY_SERVER.finditer(conf_text or "")]


def set_drained(conf_text, name, drained, allow_none_active=False):
    """Rewrite the server line(s) of backend ``name``.

    Returns ``(new_text, found)``. ``found`` is False when no generated line names the backend (the
    text is then unchanged). Raises ValueError when draining it would leave no server taking
    traffic (every other one is ``down`` or ``backup``), unless ``allow_none_active``.
    """
    name = _check_name(name)
    members = upstream_members(conf_text)
    mine = [m for m in members if m["name"] == name]
    if not mine:
        return conf_text, False
    if drained and not allow_none_active and not all(m["down"] for m in mine):
        active = [m["name"] for m in members if m["name"] != name and not m["down"] and not m["backup"]]
        if not active:
            others = ", ".join("%s (%s)" % (m["name"], "drained" if m["drained"] else "down" if m["down"] else "backup")
                               for m in members if m["name"] != name) or "none"
            raise ValueError("draining %s would leave no backend taking traffic in the upstream; the others: %s. "
                             "Put another backend back first (a rerun of playbooks/registry.yml brings healthy "
                             "backends back)" % (name, others))

    def replace(match):
        if match.group("name") != name:
            return match.group(0)
        member = _parse(match)
        return match.group("indent") + server_directive(member["line"], name, drained)

    return _LINE.sub(replace, conf_text), True


# ---------------------------------------------------------------------------------------------
# The upstream state file
# ---------------------------------------------------------------------------------------------

def _check_reason(reason):
    if reason not in REASONS:
        raise ValueError("drain reason %r is not one of %s" % (reason, ", ".join(REASONS)))
    return reason


def new_state(conf, binary, pid_file, drained=None):
    """A state dict: where nginx's files are and which backends are drained (name -> reason)."""
    state = {"version": STATE_VERSION, "conf": str(conf), "binary": str(binary), "pid_file": str(pid_file),
             "drained": {}}
    for key in ("conf", "binary", "pid_file"):
        if not state[key].startswith("/"):
            raise ValueError("state file: %s must be an absolute path, got %r" % (key, state[key]))
    for name, reason in (drained or {}).items():
        state["drained"][_check_name(name)] = _check_reason(reason)
    return state


def load_state(text):
    """Parse a state file; raises ValueError with what is wrong."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError("the upstream state file is not JSON: %s" % exc)
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        raise ValueError("the upstream state file is not a version %d dockyard state file" % STATE_VERSION)
    drained = data.get("drained") or {}
    if not isinstance(drained, dict):
        raise ValueError("the upstream state file's 'drained' must be a mapping of backend name to reason")
    return new_state(data.get("conf", ""), data.get("binary", ""), data.get("pid_file", ""), drained)


def dump_state(state):
    """The exact text of a state file (sorted keys: a rewrite with the same content is no change)."""
    checked = new_state(state["conf"], state["binary"], state["pid_file"], state.get("drained"))
    return json.dumps(checked, indent=2, sort_keys=True) + "\n"


def plan_drained(previous, backends, known_names=(), known_endpoints=(), healthy=None, absent=()):
    """Which backends the nginx role renders ``down``, as ``{name: reason}``.

    ``previous``: the drained mapping of the current state file. ``backends``: the upstream model's
    servers (dicts with ``name`` and ``endpoint``). A backend is *new* when neither its name is
    tagged in the current ``nginx.conf`` (``known_names``) nor its endpoint is there
    (``known_endpoints``, for a configuration written before the tags existed): a new backend is
    ``pending`` unless ``healthy[name]`` says the proxy's own probe reached it. ``absent``: names
    whose ``dockyard_backend_state`` is ``absent``. Backends no longer in ``backends`` are forgotten.
    """
    healthy = healthy or {}
    absent = set(absent)
    new = set(new_backends(backends, known_names, known_endpoints))
    result = {}
    for backend in backends:
        name = _check_name(backend["name"])
        if name in absent:
            result[name] = "absent"
        elif name in (previous or {}):
            result[name] = _check_reason(previous[name])
        elif name in new and not healthy.get(name):
            result[name] = "pending"
    return result


def new_backends(backends, known_names=(), known_endpoints=()):
    """Names of the backends a proxy has never had in its upstream: neither the name is tagged in
    its ``nginx.conf`` nor the endpoint is there (the one rule ``plan_drained`` and the nginx role's
    probe of new backends both apply)."""
    known_names, known_endpoints = set(known_names), set(known_endpoints)
    return [b["name"] for b in backends if b["name"] not in known_names and b.get("endpoint") not in known_endpoints]


# ---------------------------------------------------------------------------------------------
# nginx processes
# ---------------------------------------------------------------------------------------------

def parse_proc_stat(text):
    """``(pid, ppid, starttime)`` from the text of ``/proc/<pid>/stat``."""
    head, sep, tail = (text or "").rpartition(")")
    if not sep:
        raise ValueError("not a /proc/<pid>/stat line: %r" % (text or "")[:80])
    pid = int(head.split("(", 1)[0])
    fields = tail.split()
    # after the command: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    # utime stime cutime cstime priority nice num_threads itrealvalue starttime
    return pid, int(fields[1]), int(fields[19])


def children(processes, master_pid):
    """The processes (``(pid, ppid, starttime)`` tuples) whose parent is the nginx master."""
    return sorted((pid, start) for pid, ppid, start in processes if ppid == int(master_pid))


def old_workers_left(before, now):
    """Which of the master's children from before a reload (``(pid, starttime)``) still run."""
    current = set(now)
    return sorted(item for item in before if item in current)


def new_workers(before, now):
    """Children of the master that did not exist before the reload."""
    previous = set(before)
    return sorted(item for item in now if item not in previous)
