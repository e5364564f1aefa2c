# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: which registry major version (2 or 3) an image runs.

Private to the dockyard.registry collection; other collections must not import it. No Ansible
import. ``major_version`` reads an explicit ``registry_version`` or else the tag of
``registry_image``; ``ValueError`` names the variable at fault.
"""

from __future__ import annotations

import re

from ansible_collections.dockyard.registry.plugins.module_utils._scalars import (
    _is_blank,
)

SUPPORTED_MAJORS = (2, 3)

_VERSION_TEXT = re.compile(r"^v?(\d+)(?:\.\d+){0,2}(?:[-+_.~].*)?$")


def image_tag(image):
    """The tag of an image reference (``''`` when it has none); a ``@digest`` is ignored."""
    reference = (image or "").split("@", 1)[0]
    name_part = reference.rsplit("/", 1)[-1]
    if ":" in name_part:
        return name_part.rsplit(":", 1)[1]
    return ""


def major_version(image=None, version=None):
    """Registry major version (2 or 3) from ``registry_version`` or else the image tag.

    ``version`` accepts ``3``, ``"3"``, ``"3.0.0"``, ``"v2.8.3"``; an empty value means
    "derive it from the tag of ``image``" (``registry:3.0.0`` -> 3, ``registry:2.8`` -> 2,
    ``dockyard/registry:2.8.2-debian`` -> 2).
    """
    if not _is_blank(version):
        text = str(version).strip()
        match = _VERSION_TEXT.match(text)
        if isinstance(version, bool) or not match:
            raise ValueError(
                "registry_version must be a registry release such as 2.8.3 or 3.0.0 (or just 2 or 3), got %r" % (version,)
            )
        major = int(match.group(1))
        if major not in SUPPORTED_MAJORS:
            raise ValueError(
                "registry_version %r: registry major version %d is not supported; supported: %s"
                % (version, major, ", ".join(str(m) for m in SUPPORTED_MAJORS))
            )
        return major
    tag = image_tag(image)
    match = _VERSION_TEXT.match(tag)
    if not match:
        raise ValueError(
            "registry_version: cannot derive the registry major version from the tag %r of registry_image %r; "
            "pin a numeric tag (e.g. registry:3.0.0) or set registry_version (2 or 3)" % (tag, image)
        )
    major = int(match.group(1))
    if major not in SUPPORTED_MAJORS:
        raise ValueError(
            "registry_version: the tag %r of registry_image %r means registry %d, which is not supported "
            "(supported: %s); set registry_version if the tag is not the registry release"
            % (tag, image, major, ", ".join(str(m) for m in SUPPORTED_MAJORS))
        )
    return major


def version_errors(image=None, version=None):
    """What :func:`major_version` would refuse, as a list of messages (``[]`` when fine); never raises.

    Preflight asserts on it before anything that needs the major version is templated, so a bad
    ``registry_image``/``registry_version`` is reported by a task that shows its message on every
    ansible-core, never first by a ``no_log`` task (where ansible-core 2.17/2.18 show only
    "censored").
    """
    try:
        major_version(image, version)
    except ValueError as exc:
        return [str(exc)]
    return []
