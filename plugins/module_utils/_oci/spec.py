# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: what the registry API and the ``registry_check`` options allow.

Private to the dockyard.registry collection; other collections must not import it. Standard
library only (plus the collection's ``_scalars``, whose integer rule it uses), no Ansible import.
It owns the media types (Docker v2 schema 2 and OCI), the limits and defaults of the probe, the
name grammar of repositories and tags, and the validation of every option (bad input raises
``ValueError`` naming the option), plus the default seed and tag and the wrong password the
``auth`` check tries.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from urllib.parse import urlsplit

from ansible_collections.dockyard.registry.plugins.module_utils import _scalars


# ---------------------------------------------------------------------------------------------
# Media types and constants
# ---------------------------------------------------------------------------------------------

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCTET_STREAM = "application/octet-stream"

MEDIA_TYPES = {
    # manifest_format: (manifest, config, {layer_format: layer media type})
    "docker": (DOCKER_MANIFEST, DOCKER_CONFIG,
               {"tar+gzip": DOCKER_LAYER_GZIP, "tar": DOCKER_LAYER_TAR, "raw": OCTET_STREAM}),
    "oci": (OCI_MANIFEST, OCI_CONFIG,
            {"tar+gzip": OCI_LAYER_GZIP, "tar": OCI_LAYER_TAR, "raw": OCTET_STREAM}),
}
MANIFEST_FORMATS = tuple(MEDIA_TYPES)
LAYER_FORMATS = ("tar+gzip", "tar", "raw")
UPLOAD_MODES = ("chunked", "monolithic")
CHECKS = ("auth", "push", "pull", "delete")
DEFAULT_CHECKS = ("auth", "push", "pull")
DEFAULT_REPOSITORY = "dockyard/verify"
DEFAULT_LAYERS = (1024, 65536)
# Small on purpose: the default image's larger layer then needs several PATCH requests, which
# proves an upload survives its requests landing on different load-balanced backends.
DEFAULT_CHUNK_SIZE = 32768
DEFAULT_TIMEOUT = 30.0
API_VERSION_HEADER = "Docker-Distribution-Api-Version"
API_VERSION = "registry/2.0"
USER_AGENT = "dockyard.registry-registry_check/1 (python)"

MAX_LAYER_SIZE = 8 ** 11 - 1  # the ustar size field holds 11 octal digits
MAX_REDIRECTS = 5
BODY_EXCERPT = 300
_BLOCK = 1 << 20

_REPOSITORY = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


# ---------------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------------

def _choice(var, value, choices):
    if value not in choices:
        raise ValueError("%s must be one of %s, got %r" % (var, ", ".join(choices), value))
    return value


def _int(var, value, minimum=None, maximum=None):
    """An integer within bounds, by the collection's one integer rule (``_scalars._int``); a string
    of digits is refused, the module's options are typed."""
    return _scalars._int(var, value, minimum, maximum, strings=False)


def validate_url(url):
    """Split ``url`` (http[s]://host[:port]) into (scheme, host, port, netloc)."""
    text = "" if url is None else str(url).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ValueError("url must start with https:// (or http://), got %r" % (url,))
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise ValueError("url %r has an invalid port: %s" % (url, exc)) from None
    if not host:
        raise ValueError("url %r has no host name" % (url,))
    if parts.username is not None or parts.password is not None:
        raise ValueError("url must not carry credentials; use username and password")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("url must be the registry root like https://registry.example.com:5000, got %r "
                         "(the API lives at /v2/ of that origin)" % (url,))
    port = port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, host.lower(), port, parts.netloc.lower()


def validate_repository(repository, var="repository"):
    text = "" if repository is None else str(repository)
    if len(text) > 255 or not _REPOSITORY.match(text):
        raise ValueError("%s must be a repository name like dockyard/verify (lowercase letters, digits, "
                         "'.', '_', '-' separators, '/' between path components), got %r" % (var, repository))
    return text


def validate_tag(tag):
    text = "" if tag is None else str(tag)
    if not _TAG.match(text):
        raise ValueError("tag must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}, got %r" % (tag,))
    return text


def validate_seed(seed):
    text = "" if seed is None else str(seed)
    if not text:
        raise ValueError("seed must be a non-empty string")
    return text


def validate_layers(layers):
    if isinstance(layers, (str, bytes)) or not isinstance(layers, (list, tuple)) or not layers:
        raise ValueError("layers must be a non-empty list of sizes in bytes, got %r" % (layers,))
    return tuple(_int("layers[%d]" % i, size, 0, MAX_LAYER_SIZE) for i, size in enumerate(layers))


def validate_checks(checks):
    if checks is None:
        return DEFAULT_CHECKS
    if isinstance(checks, str) or not isinstance(checks, (list, tuple)):
        raise ValueError("checks must be a list drawn from %s, got %r" % (", ".join(CHECKS), checks))
    for name in checks:
        _choice("checks", name, CHECKS)
    return tuple(name for name in CHECKS if name in checks)


def validate_header_names(names):
    out = []
    for name in names or ():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise ValueError("capture_headers must be HTTP header names, got %r" % (name,))
        out.append(name)
    return tuple(out)


def default_seed(now=None, entropy=None):
    """A fresh seed: UTC time plus 32 random bits, e.g. ``20250102T030405Z-1a2b3c4d``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return "%s-%s" % (stamp, (entropy if entropy is not None else os.urandom(4)).hex())


def default_tag(seed):
    """``check-<seed>`` when that is a valid tag, else ``check-`` plus 16 hex digits of sha256(seed)."""
    candidate = "check-%s" % seed
    if _TAG.match(candidate):
        return candidate
    return "check-" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:16]


def wrong_password(password):
    """A password that differs from ``password`` in its first bytes (bcrypt reads only 72)."""
    candidate = "dockyard-wrong-" + hashlib.sha256((password or "").encode("utf-8")).hexdigest()[:12]
    return candidate if candidate != password else candidate + "x"
