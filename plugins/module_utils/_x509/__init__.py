# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: X.509 decisions for the dockyard.registry certificate modules.

This file is private to the dockyard.registry collection; other collections must not import it.
It builds on ``cryptography`` directly, imports nothing from Ansible, raises ``ValueError`` on bad
input and takes ``now`` as a parameter so every decision can be tested without sleeping.

Tested with cryptography 38.0.4 (Debian 12's python3-cryptography) and 50.0.2.

The package is split by concern: ``common`` (cryptography availability, time, constants), ``keys``,
``certs`` (load/dump, extensions, metadata), ``names`` (subjects, DNS/IP SANs, name constraints),
``issue`` (building and signing), ``plan`` (the decisions with their reasons) and ``files``
(atomic writes; the owner/group/backup argument spec), ``constraints`` (X.509 name constraints,
used as ``_x509.constraints``).
This file re-exports what the modules and filters use (``_x509.sign_csr``).
"""

from __future__ import annotations

from ansible_collections.dockyard.registry.plugins.module_utils._x509.common import (  # noqa: F401
    BACKDATE, COMMON_NAME_MAX, CRYPTOGRAPHY_IMPORT_ERROR, DEFAULT_KEY_TYPE, HAS_CRYPTOGRAPHY,
    KEY_TYPES, VALIDITY_TOLERANCE, format_time, not_after, not_before, utcnow,
)
from ansible_collections.dockyard.registry.plugins.module_utils._x509.keys import (  # noqa: F401
    PassphraseError, dump_private_key, generate_private_key, is_encrypted_pem, key_type_of,
    load_private_key, public_keys_match,
)
from ansible_collections.dockyard.registry.plugins.module_utils._x509.certs import (  # noqa: F401
    USAGES, certificate_sans, describe_certificate, describe_name, dump_certificate, dump_csr,
    extended_key_usages, fingerprint, has_server_auth, is_ca_certificate, is_issued_by,
    load_certificate, load_csr,
)
from ansible_collections.dockyard.registry.plugins.module_utils._x509.names import (  # noqa: F401
    SUBJECT_KEYS, default_server_subject, normalize_dns_name, parse_san, parse_sans, parse_subject,
    san_string, san_strings,
)
from ansible_collections.dockyard.registry.plugins.module_utils._x509.issue import (  # noqa: F401
    MaskedSecretError, UNMASKED_ATTEMPTS, build_ca_certificate, build_csr, check_ca_pair, csr_sans,
    issue_unmasked, masked_secrets, prepare_signing, random_serial, sign_csr, validate_timing,
)
from ansible_collections.dockyard.registry.plugins.module_utils._x509.plan import (  # noqa: F401
    CAPlan, ServerPlan, plan_ca, plan_certificate, plan_server_key,
)
from ansible_collections.dockyard.registry.plugins.module_utils._x509.files import (  # noqa: F401
    file_argument_spec, read_file, write_file_atomic,
)
from ansible_collections.dockyard.registry.plugins.module_utils._x509 import constraints  # noqa: F401
