# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jinja tests for nginx value syntax (the rule lives in module_utils/_nginx.py).

Documentation of each test is in the YAML file of the same name next to this one.
"""

from __future__ import annotations

from ansible_collections.dockyard.registry.plugins.module_utils import _nginx


class TestModule:
    """nginx_size, nginx_time."""

    def tests(self):
        return {
            "nginx_size": _nginx.is_nginx_size,
            "nginx_time": _nginx.is_nginx_time,
        }
