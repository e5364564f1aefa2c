#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: x509_csr
short_description: Ensure a server private key, decide whether its certificate needs reissuing, return a CSR
version_added: 0.1.0
description:
  - Runs on the host that uses the certificate (for example the nginx proxy). The private key is
    created there (mode C(0600)) and never leaves it; only a certificate signing request (CSR) is
    returned, to be signed on the CA host with M(dockyard.registry.x509_sign).
  - Reads the current certificate at O(certificate_path) and decides from facts whether it must be
    (re)issued, reporting every reason in RV(reasons) - missing, expired or expiring within
    O(renew_before_days), validity different from O(validity_days), SANs or subject different,
    not matching the private key, issued by another CA than O(ca_certificate), no serverAuth usage,
    or a private key that was replaced because O(key_type) changed.
  - When nothing needs doing the key is untouched, RV(reissue) is false and RV(csr) is null. The
    certificate file itself is never written by this module; install the signed certificate with
    M(ansible.builtin.copy).
  - Refuses a key file that is not an unencrypted PEM private key, a certificate file that is not a
    PEM certificate, and invalid DNS names or IP addresses in O(subject_alt_name).
author:
  - dockyard.registry maintainers (@dockyard)
extends_documentation_fragment:
  - dockyard.registry.x509
  - dockyard.registry.x509.ATTRIBUTES
options:
  privatekey_path:
    description: Path of the server private key (PEM, PKCS#8, not encrypted). Its directory must exist.
    type: path
    required: true
  certificate_path:
    description: Path of the current server certificate (PEM). It may be missing; it is only read.
    type: path
    required: true
  ca_certificate:
    description:
      - The CA certificate (PEM content) the certificate must be issued by.
      - When omitted the issuer is not checked.
    type: str
  subject:
    description:
      - "Defaults to C({commonName: <first DNS name of subject_alt_name>}) (no common name when that is longer than 64 characters)."
  subject_alt_name:
    description:
      - Names the certificate must carry, as C(DNS:name), C(IP:address), or a bare name or
        address (an IP address is recognised as such). Invalid entries are refused.
      - Clients match an address only against IP entries and a name only against DNS entries.
    type: list
    elements: str
    required: true
  optional_subject_alt_name:
    description:
      - More names in the same forms, typically discovered from the inventory and facts (inventory
        name, C(ansible_host), FQDN). Invalid entries are skipped with a warning instead of refused.
    type: list
    elements: str
    default: []
  validity_days:
    description: Wanted validity of the certificate in days. A certificate whose validity differs by more than a day is reissued.
    type: int
    default: 365
  renew_before_days:
    description: Reissue when the certificate expires within this many days. Must be shorter than O(validity_days).
    type: int
    default: 30
  force:
    description: Create a new private key and ask for a new certificate even when nothing changed.
    type: bool
    default: false
seealso:
  - module: dockyard.registry.x509_ca
  - module: dockyard.registry.x509_sign
"""

EXAMPLES = r"""
- name: Ensure the proxy key and decide whether its certificate needs reissuing
  dockyard.registry.x509_csr:
    privatekey_path: /etc/dockyard/tls/registry.key
    certificate_path: /etc/dockyard/tls/registry.crt
    ca_certificate: "{{ ca.certificate }}"
    subject:
      commonName: registry.example.com
    subject_alt_name:
      - DNS:registry.example.com
      - IP:192.0.2.10
    optional_subject_alt_name:
      - "{{ inventory_hostname }}"
      - "{{ ansible_facts.fqdn }}"
  register: server

- name: Sign the CSR on the CA host
  dockyard.registry.x509_sign:
    csr: "{{ server.csr }}"
    subject_alt_name: "{{ server.subject_alt_name }}"
    ca_certificate_path: /srv/dockyard-ca/ca.crt
    ca_privatekey_path: /srv/dockyard-ca/ca.key
  delegate_to: localhost
  when: server.reissue and server.csr is not none
"""

RETURN = r"""
reissue:
  description: Whether the certificate must be (re)issued.
  type: bool
  returned: success
reasons:
  description: Why the key was replaced and the certificate must be reissued. Empty when nothing is needed.
  type: list
  elements: str
  returned: success
  sample: ["SANs differ: add DNS:registry.example.com", "expires within 30 days (on 2026-01-31T10:00:00Z)"]
csr:
  description:
    - CSR (PEM) to sign when RV(reissue) is true, null otherwise.
    - Also null in check mode when the private key would be created or replaced.
  type: str
  returned: success
subject_alt_name:
  description: The SANs the certificate must carry, normalised (C(DNS:name), C(IP:address)), de-duplicated.
  type: list
  elements: str
  returned: success
  sample: ["DNS:registry.example.com", "DNS:proxy1", "IP:192.0.2.10"]
skipped_names:
  description: Entries of O(optional_subject_alt_name) that were skipped, with the reason.
  type: list
  elements: str
  returned: success
privatekey_changed:
  description: Whether the private key was (or, in check mode, would be) created or replaced.
  type: bool
  returned: success
key_type:
  description: Type of the private key after the run.
  type: str
  returned: success
current:
  description: Subject, issuer, SANs, validity, serial number, fingerprint and key type of the current certificate; empty when there is none.
  type: dict
  returned: success
backup_privatekey:
  description: Backup of the replaced private key.
  type: str
  returned: when O(backup=true) and the key was replaced
"""

import datetime
import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.dockyard.registry.plugins.module_utils import _x509


def _fail(module, exc, refuse=False):
    suffix = " (refusing to overwrite it; fix or remove it)" if refuse else ""
    module.fail_json(msg="%s%s" % (exc, suffix))


def run(module):
    p = module.params
    now = _x509.utcnow()
    try:
        _x509.validate_timing(p["validity_days"], p["renew_before_days"])
        try:
            sans, skipped = _x509.parse_sans(p["subject_alt_name"], p["optional_subject_alt_name"])
        except ValueError as exc:
            raise ValueError("subject_alt_name: %s" % exc) from exc
        if not sans:
            raise ValueError("subject_alt_name must name at least one DNS name or IP address")
        if p["subject"] is None:
            subject = _x509.default_server_subject(sans)
        else:
            subject = _x509.parse_subject(p["subject"])
        ca_cert = None
        if p["ca_certificate"]:
            ca_cert = _x509.load_certificate(p["ca_certificate"], what="ca_certificate")
    except ValueError as exc:
        _fail(module, exc)
    for message in skipped:
        module.warn("optional_subject_alt_name: skipped: %s" % message)

    key_path, cert_path = p["privatekey_path"], p["certificate_path"]
    key_pem = _x509.read_file(key_path)
    cert_pem = _x509.read_file(cert_path)
    key = cert = None
    try:
        if key_pem is not None:
            key = _x509.load_private_key(key_pem, what=key_path)
    except _x509.PassphraseError as exc:
        module.fail_json(msg="%s; a server key must not be encrypted (nginx would ask for the passphrase "
                             "at every start): refusing to overwrite it, decrypt or remove it" % exc)
    except ValueError as exc:
        _fail(module, exc, refuse=True)
    try:
        if cert_pem is not None:
            cert = _x509.load_certificate(cert_pem, what=cert_path)
    except ValueError as exc:
        _fail(module, exc, refuse=True)

    old_key_type = _x509.key_type_of(key) if key is not None else None
    regenerate, key_reasons = _x509.plan_server_key(key, p["key_type"], force=p["force"])
    plan = _x509.plan_certificate(cert, None if regenerate else key, ca_cert, subject, sans,
                                  p["validity_days"], p["renew_before_days"], now,
                                  key_replaced=regenerate and key is not None)
    for warning in plan.warnings:
        module.warn(warning)
    reasons = list(key_reasons)
    reasons.extend(r for r in plan.reasons if r not in reasons)
    reissue = plan.reissue or regenerate

    result = {"changed": regenerate, "privatekey_changed": regenerate, "reissue": reissue,
              "reasons": reasons, "subject_alt_name": _x509.san_strings(sans), "skipped_names": skipped,
              "csr": None, "current": _x509.describe_certificate(cert) if cert is not None else {}}

    if regenerate and not module.check_mode:
        new_key = _x509.generate_private_key(p["key_type"])
        try:
            if p["backup"] and key_pem is not None:
                result["backup_privatekey"] = module.backup_local(key_path)
            _x509.write_file_atomic(key_path, _x509.dump_private_key(new_key), 0o600)
        except (OSError, ValueError) as exc:
            module.fail_json(msg="cannot write %s: %s" % (key_path, exc))
        key = new_key
    elif regenerate:
        key = None  # check mode: the new key does not exist, so there is no CSR to show

    if os.path.exists(key_path):
        file_args = module.load_file_common_arguments(
            {"mode": "0600", "owner": p["owner"], "group": p["group"]}, path=key_path)
        result["changed"] = module.set_fs_attributes_if_different(file_args, result["changed"])

    result["key_type"] = p["key_type"] if regenerate else _x509.key_type_of(key)
    if reissue and key is not None:
        result["csr"] = _x509.dump_csr(_x509.build_csr(key, subject, sans)).decode("ascii")

    if module._diff:
        before_cert = {k: result["current"][k] for k in ("subject", "subject_alt_name", "not_after", "fingerprint")
                       if k in result["current"]}
        if reissue:
            after_cert = {"subject": _x509.describe_name(subject), "subject_alt_name": result["subject_alt_name"],
                          "not_after": _x509.format_time(now + datetime.timedelta(days=p["validity_days"])),
                          "fingerprint": "(new)"}
        else:
            after_cert = before_cert
        result["diff"] = {
            "before": {"privatekey": {"key_type": old_key_type} if old_key_type else {},
                       "certificate": before_cert},
            "after": {"privatekey": {"key_type": result["key_type"]}, "certificate": after_cert},
        }
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            privatekey_path=dict(type="path", required=True),
            certificate_path=dict(type="path", required=True),
            ca_certificate=dict(type="str"),
            key_type=dict(type="str", default=_x509.DEFAULT_KEY_TYPE, choices=list(_x509.KEY_TYPES)),
            subject=dict(type="dict"),
            subject_alt_name=dict(type="list", elements="str", required=True),
            optional_subject_alt_name=dict(type="list", elements="str", default=[]),
            validity_days=dict(type="int", default=365),
            renew_before_days=dict(type="int", default=30),
            force=dict(type="bool", default=False),
            backup=dict(type="bool", default=False),
            owner=dict(type="str"),
            group=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    if not _x509.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=_x509.CRYPTOGRAPHY_IMPORT_ERROR)
    run(module)


if __name__ == "__main__":
    main()
