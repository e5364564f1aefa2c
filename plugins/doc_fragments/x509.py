# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Options shared by the modules that own key files (x509_ca, x509_csr). The argument spec of
    # backup, owner and group is module_utils/_x509/files.py's file_argument_spec().
    DOCUMENTATION = r"""
options:
  key_type:
    description:
      - Type and size of a private key this module creates.
      - C(ecdsa-p256) is fast, small and accepted by every current TLS client.
    type: str
    choices: [ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096]
    default: ecdsa-p256
  subject:
    description:
      - "Subject distinguished name as a dictionary, for example C({commonName: registry.example.com})."
      - Keys are C(countryName)/C(C), C(stateOrProvinceName)/C(ST), C(localityName)/C(L),
        C(organizationName)/C(O), C(organizationalUnitName)/C(OU), C(commonName)/C(CN) and
        C(emailAddress); they are written in that order whatever the order of the dictionary.
    type: dict
  owner:
    description:
      - Owner of the files this module writes. The default is the user the module runs as.
    type: str
  group:
    description:
      - Group of the files this module writes. The default is the primary group of that user.
    type: str
  backup:
    description:
      - Keep a time-stamped copy of a key or certificate before this module replaces it.
    type: bool
    default: false
requirements:
  - cryptography (tested with 38.0.4, the Debian 12 package, and 50.0.2) on the host the module runs on
"""

    ATTRIBUTES = r"""
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Nothing is written; the result says what would be created and why.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - The diff shows subject, SANs, validity, key type and fingerprint, never key material.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
"""
