#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: x509_ca
short_description: Ensure a private certificate authority (key and self-signed certificate)
version_added: 0.1.0
description:
  - Creates a CA private key and a self-signed CA certificate (basicConstraints C(CA:TRUE) critical,
    keyUsage C(keyCertSign) and C(cRLSign) critical, subject and authority key identifiers) when
    they do not exist.
  - B(Never) replaces an existing CA key or certificate on a rerun. When the wanted parameters
    differ from the existing CA (key type, subject, validity, path length) or the certificate
    expires within O(renew_before_days), the module warns and leaves the files untouched, unless
    O(reissue_certificate=true) (re-sign the certificate with the existing key) or O(force=true)
    (new key and certificate) is set.
  - Refuses a certificate that does not match its key, a certificate that is not a CA, and a file
    that is not a private key.
  - The private key is written with mode C(0600) (from its first byte on), the certificate C(0644).
  - Returns the CA certificate in PEM form so that other hosts can trust it; the key never leaves
    the host the module runs on.
author:
  - dockyard.registry maintainers (@dockyard)
extends_documentation_fragment:
  - dockyard.registry.x509
  - dockyard.registry.x509.ATTRIBUTES
options:
  privatekey_path:
    description: Path of the CA private key (PEM, PKCS#8). Its directory must exist.
    type: path
    required: true
  certificate_path:
    description: Path of the CA certificate (PEM). Its directory must exist.
    type: path
    required: true
  privatekey_passphrase:
    description:
      - Passphrase protecting the CA private key. Used to read an existing key and to encrypt a new one.
    type: str
  subject:
    default:
      commonName: dockyard registry CA
  validity_days:
    description: Validity of a newly issued CA certificate, in days.
    type: int
    default: 3650
  renew_before_days:
    description:
      - Warn when the CA certificate expires within this many days (re-sign it when
        O(reissue_certificate=true)). Must be shorter than O(validity_days).
    type: int
    default: 180
  path_length:
    description:
      - basicConstraints path length. V(0) lets the CA sign only end-entity certificates.
      - Set to V(-1) for no limit.
    type: int
    default: 0
  name_constraints:
    description:
      - Names the CA may sign for, written into a critical X.509 nameConstraints extension, as
        C(DNS:example.com) (that name and every name below it), C(DNS:.example.com) (only names below
        it) or C(IP:10.0.0.0/24) (a network; a single address means a /32 or /128). Go and OpenSSL
        clients refuse a certificate below this CA whose names are outside them, so a copied CA key
        cannot be used to impersonate other sites.
      - An IP family without any permitted network is excluded entirely (C(0.0.0.0/0), C(::/0)).
      - A new CA gets them. On an existing CA a difference is drift like the subject - reported, and
        the CA certificate is re-signed with the same key only with O(reissue_certificate=true)
        (clients must then receive the new CA certificate; certificates issued so far stay valid).
      - Omit to leave the extension alone.
    type: list
    elements: str
  reissue_certificate:
    description:
      - When the existing CA certificate differs from the wanted subject, validity or path length,
        or expires within O(renew_before_days), re-sign it with the B(existing) key instead of
        warning. Certificates issued before keep verifying only when the subject is unchanged.
    type: bool
    default: false
  force:
    description:
      - Replace the CA private key and certificate on every run where this is true. Every client
        must then trust the new CA and every server certificate must be reissued.
    type: bool
    default: false
seealso:
  - module: dockyard.registry.x509_csr
  - module: dockyard.registry.x509_sign
"""

EXAMPLES = r"""
- name: Ensure the registry CA on the control node
  dockyard.registry.x509_ca:
    privatekey_path: /srv/dockyard-ca/ca.key
    certificate_path: /srv/dockyard-ca/ca.crt
    privatekey_passphrase: "{{ vault_ca_passphrase }}"
    subject:
      commonName: Example registry CA
      organizationName: Example
    validity_days: 3650
  register: ca
  delegate_to: localhost
  run_once: true

- name: Show the CA fingerprint
  ansible.builtin.debug:
    msg: "{{ ca.fingerprint }}"
"""

RETURN = r"""
certificate:
  description: The CA certificate in PEM form (public). Null in check mode when it would be created.
  type: str
  returned: success
fingerprint:
  description: SHA-256 fingerprint of the CA certificate (C(AB:CD:...)).
  type: str
  returned: success
  sample: "3F:9A:...:01"
name_constraints:
  description: The CA certificate's name constraints (null when it has none, or when there is no CA yet).
  returned: always
  type: dict
  sample: {permitted: [DNS:registry.example.com, IP:10.0.0.0/24], excluded: ["IP:::/0"]}
info:
  description: Subject, issuer, SANs, validity, serial number, fingerprint and key type of the CA certificate.
  type: dict
  returned: success
reasons:
  description: Why the key or certificate was (or, in check mode, would be) created. Empty when unchanged.
  type: list
  elements: str
  returned: success
  sample: ["CA private key missing", "CA certificate missing"]
drift:
  description: Differences between the wanted and the existing CA that were left alone (also emitted as warnings).
  type: list
  elements: str
  returned: success
backup_privatekey:
  description: Backup of the replaced private key.
  type: str
  returned: when O(backup=true) and the key was replaced
backup_certificate:
  description: Backup of the replaced certificate.
  type: str
  returned: when O(backup=true) and the certificate was replaced
"""

import datetime
import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.dockyard.registry.plugins.module_utils import _x509

KEY_MODE = 0o600
CERT_MODE = 0o644


def _load(module, path, loader, **kwargs):
    data = _x509.read_file(path)
    if data is None:
        return None, None
    try:
        return loader(data, what=path, **kwargs), data
    except _x509.PassphraseError as exc:
        module.fail_json(msg="%s (privatekey_passphrase)" % exc)
    except ValueError as exc:
        module.fail_json(msg="%s (refusing to overwrite it; fix or remove it)" % exc)


def _file_args(module, path, mode):
    return module.load_file_common_arguments(
        {"mode": mode, "owner": module.params["owner"], "group": module.params["group"]}, path=path)


def run(module):
    p = module.params
    now = _x509.utcnow()
    passphrase = p["privatekey_passphrase"]
    path_length = None if p["path_length"] is not None and p["path_length"] < 0 else p["path_length"]
    try:
        subject = _x509.parse_subject(p["subject"])
    except ValueError as exc:
        module.fail_json(msg="subject: %s" % exc)

    key, key_pem = _load(module, p["privatekey_path"], _x509.load_private_key, passphrase=passphrase)
    cert, _pem = _load(module, p["certificate_path"], _x509.load_certificate)
    if key_pem is not None and passphrase and not _x509.is_encrypted_pem(key_pem):
        module.warn("privatekey_passphrase is set but %s is not encrypted; the key is left as it is"
                    % p["privatekey_path"])

    try:
        plan = _x509.plan_ca(key, cert, p["key_type"], subject, p["validity_days"], p["renew_before_days"],
                             now, path_length=path_length, force=p["force"],
                             reissue_certificate=p["reissue_certificate"],
                             name_constraints=p["name_constraints"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    for warning in plan.warnings:
        module.warn(warning)

    result = {"changed": plan.needed, "reasons": plan.reasons, "drift": plan.warnings}
    before = _x509.describe_certificate(cert) if cert is not None else {}

    if plan.needed and not module.check_mode:
        if plan.generate_key:
            key = _x509.generate_private_key(p["key_type"])
        try:
            new_cert = _x509.issue_unmasked(
                lambda serial: _x509.build_ca_certificate(key, subject, p["validity_days"], now,
                                                          path_length=path_length, serial=serial,
                                                          name_constraints=p["name_constraints"]),
                [passphrase])
        except _x509.MaskedSecretError as exc:
            module.fail_json(msg="privatekey_passphrase: %s" % exc)
        try:
            if plan.generate_key:
                if p["backup"] and key_pem is not None:
                    result["backup_privatekey"] = module.backup_local(p["privatekey_path"])
                _x509.write_file_atomic(p["privatekey_path"], _x509.dump_private_key(key, passphrase), KEY_MODE)
            if p["backup"] and cert is not None:
                result["backup_certificate"] = module.backup_local(p["certificate_path"])
            _x509.write_file_atomic(p["certificate_path"], _x509.dump_certificate(new_cert), CERT_MODE)
        except (OSError, ValueError) as exc:
            module.fail_json(msg="cannot write the CA files: %s" % exc)
        cert = new_cert

    # Permissions are enforced on every run (a 0644 CA key is fixed back to 0600).
    for path, mode in ((p["privatekey_path"], "0600"), (p["certificate_path"], "0644")):
        if os.path.exists(path):
            result["changed"] = module.set_fs_attributes_if_different(
                _file_args(module, path, mode), result["changed"])

    if cert is not None:
        if _x509.masked_secrets(cert, [passphrase]):
            module.fail_json(msg="the CA certificate %s contains the text of privatekey_passphrase, which Ansible "
                                 "masks in module results, so the certificate cannot be returned intact; choose a "
                                 "longer passphrase (the key must then be re-encrypted with it)" % p["certificate_path"])
        info = _x509.describe_certificate(cert)
        result.update(certificate=_x509.dump_certificate(cert).decode("ascii"),
                      fingerprint=info["fingerprint"], info=info,
                      name_constraints=_x509.constraints.of_certificate(cert))
        after = info
    else:
        result.update(certificate=None, fingerprint=None, info={}, name_constraints=None)
        after = {"subject": _x509.describe_name(subject), "key_type": p["key_type"],
                 "not_after": _x509.format_time(now + datetime.timedelta(days=p["validity_days"])),
                 "fingerprint": "(new)"}
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            privatekey_path=dict(type="path", required=True),
            certificate_path=dict(type="path", required=True),
            privatekey_passphrase=dict(type="str", no_log=True),
            key_type=dict(type="str", default=_x509.DEFAULT_KEY_TYPE, choices=list(_x509.KEY_TYPES)),
            subject=dict(type="dict", default={"commonName": "dockyard registry CA"}),
            validity_days=dict(type="int", default=3650),
            renew_before_days=dict(type="int", default=180),
            path_length=dict(type="int", default=0),
            name_constraints=dict(type="list", elements="str"),
            reissue_certificate=dict(type="bool", default=False),
            force=dict(type="bool", default=False),
            **_x509.file_argument_spec(),
        ),
        supports_check_mode=True,
    )
    if not _x509.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=_x509.CRYPTOGRAPHY_IMPORT_ERROR)
    run(module)


if __name__ == "__main__":
    main()
