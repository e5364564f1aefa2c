# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: how the collection reads scalar role inputs: booleans, integers, strings, durations.

Private to the dockyard.registry collection; other collections must not import it. No Ansible
import. Each helper takes the name of the variable it reads (``var``) and raises ``ValueError``
naming it: ``_bool`` (true/false and the ``_TRUE``/``_FALSE`` strings), ``_int`` (integers and
integer strings, with bounds), ``_str``, ``_choice``, ``_dict``, ``_str_list``, ``_abs_path``,
``_url``, and Go durations (``parse_duration``: ``168h``, ``1h30m``, ``500ms``). Values may be
secrets, so ``_str`` names only the type of a value it refuses, never the value.
"""

from __future__ import annotations

import re

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
