# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Attributes of the modules that only read and decide (nginx_build_info, container_engine_info).
    DOCUMENTATION = r"""
attributes:
  check_mode:
    description: Runs normally in check mode; it only reads.
    support: full
  diff_mode:
    description: Nothing to diff; the module never changes anything.
    support: none
  idempotent:
    description: Always reports RV(ignore:changed=false).
    support: full
"""
