# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: an end-to-end probe of a Docker registry (HTTP API V2 / OCI distribution spec).

This package is private to the dockyard.registry collection; other collections must not import
it. It imports nothing from Ansible and nothing outside the Python standard library (``http.client``,
``ssl``, ``hashlib``), so the ``registry_check`` module runs on any target with a stock python3
(3.9 or later) and on the controller. Bad input raises ``ValueError`` naming the option; a check
that fails raises ``CheckFailed`` carrying the partial result. One concern per module:

* ``spec``: media types, limits, defaults, name grammar and option validation;
* ``image``: the deterministic test image (``build_image``) and ``parse_manifest``;
* ``client``: ``RegistryClient``, the keep-alive HTTP(S) client (Basic auth only to the registry's
  origin, ``resolve``, ``ca_path``, redirects);
* ``bearer``: the client side of the token protocol (challenge parsing, token requests);
* ``checks``: the auth, push, pull and delete checks and ``CheckFailed``;
* ``probe``: ``run_checks``, which validates the options, runs the checks and assembles the result.

This file re-exports what code outside the package uses (the ``registry_check`` module, the
molecule verifiers); the unit tests import the module that owns a name.

Neither the password nor the ``Authorization`` header ever appears in a result or a message.
"""

from __future__ import annotations

from ansible_collections.dockyard.registry.plugins.module_utils._oci.checks import CheckFailed
from ansible_collections.dockyard.registry.plugins.module_utils._oci.client import RegistryClient, TransportError
from ansible_collections.dockyard.registry.plugins.module_utils._oci.image import (
    build_image,
    parse_manifest,
    sha256_digest,
)
from ansible_collections.dockyard.registry.plugins.module_utils._oci.probe import run_checks
from ansible_collections.dockyard.registry.plugins.module_utils._oci.spec import (
    CHECKS,
    DEFAULT_CHECKS,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_LAYERS,
    DEFAULT_REPOSITORY,
    DEFAULT_TIMEOUT,
    DOCKER_MANIFEST,
    LAYER_FORMATS,
    MANIFEST_FORMATS,
    OCI_MANIFEST,
    UPLOAD_MODES,
)

__all__ = [
    "CHECKS", "DEFAULT_CHECKS", "DEFAULT_CHUNK_SIZE", "DEFAULT_LAYERS", "DEFAULT_REPOSITORY",
    "DEFAULT_TIMEOUT", "DOCKER_MANIFEST", "LAYER_FORMATS", "MANIFEST_FORMATS", "OCI_MANIFEST",
    "UPLOAD_MODES", "CheckFailed", "RegistryClient", "TransportError", "build_image",
    "parse_manifest", "run_checks", "sha256_digest",
]
