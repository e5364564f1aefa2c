# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: what every part of the X.509 package shares: whether ``cryptography`` imports, time
helpers (UTC, formatting, validity bounds) and the constants of the collection's certificates."""

from __future__ import annotations

import datetime
import traceback

try:
    import cryptography  # noqa: F401  pylint: disable=unused-import  # only whether it imports
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None

KEY_TYPES = ("ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096")
DEFAULT_KEY_TYPE = "ecdsa-p256"

# notBefore is set this far in the past so a client whose clock is slightly behind the CA host's
# accepts a freshly issued certificate.
BACKDATE = datetime.timedelta(minutes=5)
# Two validity periods closer than this are "the same" (absorbs BACKDATE and clamping rounding).
VALIDITY_TOLERANCE = datetime.timedelta(days=1)
# RFC 5280 upper bound for commonName.
COMMON_NAME_MAX = 64


def _utc(value):
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def format_time(value):
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def not_before(cert):
    value = getattr(cert, "not_valid_before_utc", None)
    return _utc(value if value is not None else cert.not_valid_before)


def not_after(cert):
    value = getattr(cert, "not_valid_after_utc", None)
    return _utc(value if value is not None else cert.not_valid_after)
