# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of ``_scalars``: Go durations (the other helpers are exercised through the config tests).
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
