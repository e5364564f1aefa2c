# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: reading and atomically writing key and certificate files, and the argument spec of the
options that say who owns the files a module writes and whether it backs them up (no Ansible import;
the modules apply ownership and backups)."""

from __future__ import annotations

import os
import tempfile


def read_file(path):
    """Bytes of ``path`` or ``None`` when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write_file_atomic(path, data, mode):
    """Write ``data`` to ``path`` atomically; the file has ``mode`` from its first byte on.

    The temporary file is created 0600 in the same directory, filled, fsynced, chmod'ed and renamed,
    so a private key is never readable by others, not even for a moment.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError("directory %s does not exist" % directory)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def file_argument_spec():
    """Argument spec of ``backup``, ``owner`` and ``group``, the file options of the modules that write
    keys and certificates (x509_ca, x509_csr), documented once in the ``dockyard.registry.x509`` doc
    fragment. A new dict on every call, for a module to add after its own options."""
    return dict(
        backup=dict(type="bool", default=False),
        owner=dict(type="str"),
        group=dict(type="str"),
    )
