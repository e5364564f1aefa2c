# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: how the collection reads scalar role inputs: booleans, integers, strings, durations.

Private to the dockyard.registry collection; other collections must not import it. No Ansible
import. Each helper takes the name of the variable it reads (``var``) and raises ``ValueError``
naming it: ``_bool`` (true/false and the ``_TRUE``/``_FALSE`` strings, exactly what the roles'
``| bool`` reads), ``_int`` (integers and integer strings, with bounds), ``_float``, ``_str``,
``_choice``, ``_dict``, ``_str_list``, ``_abs_path``, ``_url``, and Go durations
(``parse_duration``: ``168h``, ``1h30m``, ``500ms``). ``scalar_problems`` checks role inputs against
the types of their argument specs (the ``dockyard.registry.scalar_problems`` lookup). Values may be
secrets, so ``_str`` and ``_str_list`` name only the type of a value they refuse, never the value,
and ``_shown`` is how a message shows a string that may carry credentials (URLs, addresses).
"""

from __future__ import annotations

import math
import re

# Go's time.ParseDuration: "0", or one or more <decimal><unit> (units ns us µs μs ms s m h).
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


_DURATION_SECONDS = {
    "ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
}
# The spellings of a boolean ansible-core's `bool` filter reads (in any case, nothing around them).
# The roles read every boolean with `| bool`, so these and nothing else are booleans here too:
# `boolean()` of module arguments and keywords also reads y/t/n/f and surrounding spaces, which
# `| bool` turns into False; preflight refuses them instead.
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
BOOL_WORDS = "true or false (yes/no, on/off, 1/0, any case)"
_INTEGER = re.compile(r"^\s*[-+]?\d+\s*$")


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
    """``value`` as True or False: a boolean, 0 or 1, or one of the ``_TRUE``/``_FALSE`` strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
    raise ValueError("%s must be a boolean: %s, got %r" % (var, BOOL_WORDS, value))


def _int(var, value, minimum=None, maximum=None, strings=True):
    """``value`` as an int: an integer (never a boolean) or, unless ``strings`` is false, a string of
    digits (what ``| int`` reads as the same number)."""
    if isinstance(value, bool):
        raise ValueError("%s must be an integer, got %r" % (var, value))
    if isinstance(value, int):
        number = int(value)
    elif strings and isinstance(value, str) and _INTEGER.match(value):
        number = int(value)
    else:
        raise ValueError("%s must be an integer, got %r" % (var, value))
    if minimum is not None and number < minimum:
        raise ValueError("%s must be at least %d, got %d" % (var, minimum, number))
    if maximum is not None and number > maximum:
        raise ValueError("%s must be at most %d, got %d" % (var, maximum, number))
    return number


def _float(var, value):
    """``value`` as a finite float: a number (never a boolean) or a string that spells one."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("%s must be a number, got %r" % (var, value))
    try:
        number = float(value)
    except ValueError:
        raise ValueError("%s must be a number, got %r" % (var, value))
    if not math.isfinite(number):
        raise ValueError("%s must be a finite number, got %r" % (var, value))
    return number


_READERS = {"bool": (_bool, "a boolean: " + BOOL_WORDS), "int": (_int, "an integer"), "float": (_float, "a number")}


def scalar_problems(values, options):
    """Messages for the ``values`` (name -> value) that are not what their argument-spec ``options``
    (name -> ``{type, default, no_log, ...}``, the ``options`` of a meta/argument_specs.yml) say:
    ``bool``, ``int`` or ``float``. An empty value (None) is accepted where the spec has no default."""
    problems = []
    for name in sorted(values):
        spec = options.get(name) or {}
        reader = _READERS.get(spec.get("type"))
        value = values[name]
        if reader is None or (value is None and spec.get("default") is None):
            continue
        try:
            reader[0](name, value)
        except ValueError as exc:
            problems.append("%s must be %s (value hidden: no_log)" % (name, reader[1]) if spec.get("no_log") else str(exc))
    return problems


def hosts_scalar_problems(per_host, options):
    """``scalar_problems`` of every host's values (host -> {name: value}), one message per problem
    naming the hosts it was found on, in the order of ``per_host``."""
    hosts_of = {}
    for host, values in per_host.items():
        for problem in scalar_problems(values, options):
            hosts_of.setdefault(problem, []).append(host)
    return ["%s (%s: %s)" % (problem, "host" if len(hosts) == 1 else "hosts", ", ".join(hosts))
            for problem, hosts in hosts_of.items()]


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
        # The type only: header values, addresses and the like may be secrets.
        raise ValueError("%s must be a list of strings, got %s" % (var, _shown(value)))
    return [_str("%s[%d]" % (var, index), item, required=True) for index, item in enumerate(value)]


def _abs_path(var, value, required=False):
    text = _str(var, value, required=required)
    if text and not text.startswith("/"):
        raise ValueError("%s must be an absolute path, got %r" % (var, value))
    return text


def _url(var, value, required=False):
    text = _str(var, value, required=required)
    if text and not re.match(r"^https?://[^/\s]+(/\S*)?$", text):
        raise ValueError("%s must be an http:// or https:// URL, got %s" % (var, _shown(text)))
    return text


_CREDENTIALS = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)?.*@", re.DOTALL)


def _shown(value):
    """``value`` as an error message may show it, with whatever may be a credential hidden.

    A string loses everything between the scheme and its last ``@`` (``user:password@`` of a URL,
    a Redis or other address) and a query string or fragment (``?token=...``); other values show
    their type only (a list or a dict may hold anything). ``'https://***@host/path?***'``.
    """
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return repr(value)
    if not isinstance(value, str):
        return "a %s" % type(value).__name__
    text = value
    match = _CREDENTIALS.match(text)
    if match:
        text = (match.group(1) or "") + "***@" + text[match.end():]
    for mark in ("?", "#"):
        if mark in text:
            text = text.split(mark, 1)[0] + mark + "***"
    return repr(text)
