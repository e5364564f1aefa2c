# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of ``_scalars``: Go durations, booleans and numbers as the roles read them (the string helpers
are exercised through the config tests).
"""

from __future__ import annotations

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _scalars


@pytest.mark.parametrize("text, seconds", [
    ("168h", 168 * 3600),
    ("24h", 86400),
    ("10s", 10),
    ("1h30m", 5400),
    ("2h10m5s", 7805),
    ("500ms", 0.5),
    ("1.5h", 5400),
    (".5s", 0.5),
    ("300us", 0.0003),
    ("300\u00b5s", 0.0003),
    ("100ns", 1e-7),
    ("0", 0),
    (" 45m ", 2700),
])
def test_parse_duration_valid(text, seconds):
    assert _scalars.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["", "7d", "10", "1 h", "h", "1h-30m", "-5s", "1.2.3s", "10S", "1w", 10, 1.5, True, None])
def test_parse_duration_invalid(value):
    with pytest.raises(ValueError, match="registry_x must be a Go duration"):
        _scalars.parse_duration(value, "registry_x")


# --- Booleans and numbers: what `| bool` and `| int` read, and nothing else (issue 16) -------------

TRUE_WORDS = ["true", "True", "TRUE", "yes", "Yes", "on", "ON", "1", True, 1]
FALSE_WORDS = ["false", "False", "FALSE", "no", "NO", "off", "Off", "0", False, 0]
NOT_BOOLEANS = ["maybe", "y", "t", "n", "f", "", " true", "false ", "1.0", "enabled", 2, -1, 1.0, None, [], {}]


@pytest.mark.parametrize("value", TRUE_WORDS)
def test_bool_true(value):
    assert _scalars._bool("nginx_x", value) is True


@pytest.mark.parametrize("value", FALSE_WORDS)
def test_bool_false(value):
    assert _scalars._bool("nginx_x", value) is False


@pytest.mark.parametrize("value", NOT_BOOLEANS)
def test_bool_refuses_what_is_no_boolean_naming_the_variable_and_the_words(value):
    with pytest.raises(ValueError, match=r"^nginx_x must be a boolean: true or false \(yes/no, on/off, 1/0, any case\)"):
        _scalars._bool("nginx_x", value)


@pytest.mark.parametrize("value", TRUE_WORDS + FALSE_WORDS + NOT_BOOLEANS[:-3])
def test_bool_reads_exactly_what_ansible_bool_filter_reads(value, monkeypatch):
    """The roles read booleans with `| bool`: _bool accepts a value iff the filter reads it without
    its "coerced invalid value" deprecation, and then to the same boolean."""
    from ansible.plugins.filter import core  # pylint: disable=import-outside-toplevel

    coerced = []
    monkeypatch.setattr(core.display, "deprecated", lambda *args, **kwargs: coerced.append(args or kwargs))
    by_filter = core.to_bool(value)
    try:
        ours = _scalars._bool("x", value)
    except ValueError:
        assert coerced, "| bool reads %r as %r, _bool refuses it" % (value, by_filter)
    else:
        assert not coerced and ours is by_filter


@pytest.mark.parametrize("value, number", [(443, 443), ("443", 443), (" 5000 ", 5000), ("-1", -1), ("+7", 7), (0, 0)])
def test_int_reads_integers_and_digit_strings(value, number):
    assert _scalars._int("nginx_listen_port", value) == number


@pytest.mark.parametrize("value", ["44x", "", "1.5", "1e3", "0x10", "1_000", True, False, 1.0, None, [443]])
def test_int_refuses_the_rest(value):
    with pytest.raises(ValueError, match="^nginx_listen_port must be an integer"):
        _scalars._int("nginx_listen_port", value)


def test_int_bounds_and_real_ints_only():
    with pytest.raises(ValueError, match="must be at least 1, got 0"):
        _scalars._int("p", "0", minimum=1)
    with pytest.raises(ValueError, match="must be at most 65535, got 70000"):
        _scalars._int("p", 70000, maximum=65535)
    with pytest.raises(ValueError, match="p must be an integer, got '5000'"):
        _scalars._int("p", "5000", strings=False)


@pytest.mark.parametrize("value, number", [(1.5, 1.5), ("1.5", 1.5), (2, 2.0), ("0", 0.0)])
def test_float(value, number):
    assert _scalars._float("registry_cpus", value) == number


@pytest.mark.parametrize("value", ["fast", "nan", "inf", True, None])
def test_float_refuses(value):
    with pytest.raises(ValueError, match="registry_cpus must be a"):
        _scalars._float("registry_cpus", value)


OPTIONS = {
    "nginx_blob_cache": {"type": "bool", "default": False},
    "nginx_listen_port": {"type": "int", "default": 443},
    "nginx_uid": {"type": "int"},
    "registry_cpus": {"type": "float", "default": 0},
    "nginx_server_name": {"type": "str"},
    "secret_count": {"type": "int", "no_log": True, "default": 1},
}


def test_scalar_problems_lists_each_bad_value_by_its_type():
    assert _scalars.scalar_problems({"nginx_blob_cache": "maybe", "nginx_listen_port": "44x", "registry_cpus": "x",
                                     "nginx_server_name": "anything", "not_in_spec": "maybe"}, OPTIONS) == [
        "nginx_blob_cache must be a boolean: true or false (yes/no, on/off, 1/0, any case), got 'maybe'",
        "nginx_listen_port must be an integer, got '44x'",
        "registry_cpus must be a number, got 'x'",
    ]


def test_scalar_problems_accepts_strings_that_spell_the_type_and_none_without_default():
    assert _scalars.scalar_problems({"nginx_blob_cache": "No", "nginx_listen_port": "8443", "nginx_uid": None,
                                     "registry_cpus": "1.5"}, OPTIONS) == []
    assert _scalars.scalar_problems({"nginx_blob_cache": None, "nginx_listen_port": None}, OPTIONS) == [
        "nginx_blob_cache must be a boolean: true or false (yes/no, on/off, 1/0, any case), got None",
        "nginx_listen_port must be an integer, got None",
    ]


def test_scalar_problems_hides_no_log_values():
    problems = _scalars.scalar_problems({"secret_count": "hunter2"}, OPTIONS)
    assert problems == ["secret_count must be an integer (value hidden: no_log)"]


def test_hosts_scalar_problems_names_the_hosts():
    per_host = {"proxy1": {"nginx_blob_cache": "maybe"}, "proxy2": {"nginx_blob_cache": "maybe", "nginx_listen_port": "x"},
                "backend1": {"nginx_blob_cache": True}}
    assert _scalars.hosts_scalar_problems(per_host, OPTIONS) == [
        "nginx_blob_cache must be a boolean: true or false (yes/no, on/off, 1/0, any case), got 'maybe'"
        " (hosts: proxy1, proxy2)",
        "nginx_listen_port must be an integer, got 'x' (host: proxy2)",
    ]
