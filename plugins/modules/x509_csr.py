#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: x509_csr
short_description: Ensure a TLS key, decide whether its certificate needs reissuing, return a CSR, install the result
version_added: 0.1.0
description:
  - Runs on the host that uses the certificate (for example the nginx proxy). The private key is
    created there (mode C(0600)) and never leaves it; only a certificate signing request (CSR) is
    returned, to be signed on the CA host with M(dockyard.registry.x509_sign).
  - Reads the current certificate at O(certificate_path) and decides from facts whether it must be
    (re)issued, reporting every reason in RV(reasons) - missing, expired or expiring within
    O(renew_before_days), validity different from O(validity_days), SANs or subject different,
    not matching the private key, issued by another CA than O(ca_certificate), another extended key usage than O(usage),
    or a private key that was replaced because O(key_type) changed.
  - When nothing needs doing the key is untouched, RV(reissue) is false and RV(csr) is null.
  - A NEW key (missing, O(force), or another O(key_type)) is written next to the current one as
    C(<privatekey_path>.pending) and the CSR is made from it; the working key and certificate stay
    in place until the signed certificate is installed. Call the module again with O(certificate)
    (the signed PEM) to install it - the certificate is written first, then the pending key replaces the
    old key, so a failed signing never leaves a key without its certificate. A run that finds a
    certificate matching a left-over pending key completes that replacement.
  - With O(ca_certificate) carrying X.509 name constraints, a O(subject_alt_name) entry outside them
    fails the run before anything is written (the message says how to widen them); an
    O(optional_subject_alt_name) entry outside them is skipped with a warning.
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
      - Required (at least one) for O(usage=server) unless O(certificate) is given.
    type: list
    elements: str
    default: []
  usage:
    description:
      - V(server) for a TLS server certificate (EKU serverAuth), V(client) for a TLS client certificate
        (EKU clientAuth only, SANs optional), for example the certificate nginx presents to the backends.
    type: str
    choices: [server, client]
    default: server
  certificate:
    description:
      - A certificate signed by M(dockyard.registry.x509_sign) (PEM) to install at O(certificate_path)
        together with its key. It must match the pending key (which then replaces the key) or the
        current key. Nothing else is decided in this mode.
    type: str
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
  description: Whether a new private key was (or, in check mode, would be) created or put in place.
  type: bool
  returned: success
privatekey_pending:
  description: Whether the CSR was made from a new key that waits in C(<privatekey_path>.pending) for its certificate.
  type: bool
  returned: success
installed:
  description: With O(certificate) - whether the certificate (and the pending key) were written.
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

PENDING_SUFFIX = ".pending"


def _fail(module, exc, refuse=False):
    suffix = " (refusing to overwrite it; fix or remove it)" if refuse else ""
    module.fail_json(msg="%s%s" % (exc, suffix))


def _load_key(module, path):
    pem = _x509.read_file(path)
    if pem is None:
        return None, None
    try:
        return _x509.load_private_key(pem, what=path), pem
    except _x509.PassphraseError as exc:
        module.fail_json(msg="%s; a server key must not be encrypted (nginx would ask for the passphrase "
                             "at every start): refusing to overwrite it, decrypt or remove it" % exc)
    except ValueError as exc:
        _fail(module, exc, refuse=True)


def _load_cert(module, path):
    pem = _x509.read_file(path)
    if pem is None:
        return None, None
    try:
        return _x509.load_certificate(pem, what=path), pem
    except ValueError as exc:
        _fail(module, exc, refuse=True)


def _enforce_key_file(module, path, changed):
    file_args = module.load_file_common_arguments(
        {"mode": "0600", "owner": module.params["owner"], "group": module.params["group"]}, path=path)
    return module.set_fs_attributes_if_different(file_args, changed)


def _promote(module, result, key_path, pending_path):
    """The pending key becomes the key (a rename: never a moment without a key file)."""
    if module.params["backup"] and os.path.exists(key_path):
        result["backup_privatekey"] = module.backup_local(key_path)
    os.replace(pending_path, key_path)


def install(module, key_path, cert_path, pending_path):
    """Install a signed certificate with the key it belongs to: the certificate first, then the pending key."""
    p = module.params
    try:
        new_cert = _x509.load_certificate(p["certificate"], what="certificate")
    except ValueError as exc:
        _fail(module, exc)
    key, _key_pem = _load_key(module, key_path)
    pending, _pending_pem = _load_key(module, pending_path)
    cert, cert_pem = _load_cert(module, cert_path)
    new_pem = _x509.dump_certificate(new_cert)
    matches_pending = pending is not None and _x509.public_keys_match(new_cert.public_key(), pending.public_key())
    matches_key = key is not None and _x509.public_keys_match(new_cert.public_key(), key.public_key())
    if not matches_pending and not matches_key:
        module.fail_json(msg="the certificate matches neither %s nor %s: nothing was installed" % (
            pending_path, key_path))
    result = {"changed": bool(matches_pending or cert_pem != new_pem), "installed": False,
              "privatekey_changed": bool(matches_pending), "privatekey_pending": False,
              "reissue": False, "reasons": [], "csr": None, "subject_alt_name": _x509.certificate_sans(new_cert),
              "skipped_names": [], "current": _x509.describe_certificate(cert) if cert is not None else {}}
    if result["changed"] and not module.check_mode:
        try:
            if p["backup"] and cert is not None and cert_pem != new_pem:
                result["backup_certificate"] = module.backup_local(cert_path)
            if cert_pem != new_pem:
                _x509.write_file_atomic(cert_path, new_pem, 0o644)
            if matches_pending:
                _promote(module, result, key_path, pending_path)
        except (OSError, ValueError) as exc:
            module.fail_json(msg="cannot install %s: %s" % (cert_path, exc))
        result["installed"] = True
    if os.path.exists(key_path) and not module.check_mode:
        result["changed"] = _enforce_key_file(module, key_path, result["changed"])
    result["key_type"] = _x509.key_type_of(new_cert.public_key())
    if module._diff:
        shown = ("subject", "subject_alt_name", "not_after", "fingerprint")
        result["diff"] = {"before": {k: result["current"].get(k) for k in shown if k in result["current"]},
                          "after": {k: _x509.describe_certificate(new_cert)[k] for k in shown}}
    module.exit_json(**result)


def _names(module, ca_cert):
    """Required and optional SANs; required ones outside the CA's name constraints fail the run,
    optional ones are skipped with a warning."""
    p = module.params
    try:
        sans, skipped = _x509.parse_sans(p["subject_alt_name"], p["optional_subject_alt_name"])
    except ValueError as exc:
        module.fail_json(msg="subject_alt_name: %s" % exc)
    if not sans and p["usage"] == "server":
        module.fail_json(msg="subject_alt_name must name at least one DNS name or IP address")
    if ca_cert is not None:
        required = _x509.parse_sans(p["subject_alt_name"])[0]
        refused = _x509.constraints.outside(required, ca_cert)
        if refused:
            module.fail_json(msg=(
                "subject_alt_name: %s %s outside the CA's name constraints (%s). Nothing was changed. Widen the CA's "
                "permitted names (the dockyard.registry.ca role: ca_name_constraints_extra) and re-sign the CA "
                "certificate with the same key (ca_reissue_certificate: true); clients that receive the new CA "
                "certificate keep trusting the certificates issued so far."
                % (", ".join(refused), "is" if len(refused) == 1 else "are", _x509.constraints.describe(ca_cert))))
        outside = set(_x509.constraints.outside(sans, ca_cert))
        if outside:
            skipped.extend("%s is outside the CA's name constraints" % name for name in sorted(outside))
            sans = [gn for gn in sans if _x509.san_string(gn) not in outside]
    return sans, skipped


def run(module):
    p = module.params
    now = _x509.utcnow()
    key_path, cert_path = p["privatekey_path"], p["certificate_path"]
    pending_path = key_path + PENDING_SUFFIX
    if p["certificate"]:
        install(module, key_path, cert_path, pending_path)
        return
    try:
        _x509.validate_timing(p["validity_days"], p["renew_before_days"])
        ca_cert = _x509.load_certificate(p["ca_certificate"], what="ca_certificate") if p["ca_certificate"] else None
    except ValueError as exc:
        _fail(module, exc)
    sans, skipped = _names(module, ca_cert)
    try:
        if p["subject"] is None:
            subject = _x509.default_server_subject(sans)
        else:
            subject = _x509.parse_subject(p["subject"])
    except ValueError as exc:
        _fail(module, exc)
    for message in skipped:
        module.warn("optional_subject_alt_name: skipped: %s" % message)

    key, _key_pem = _load_key(module, key_path)
    cert, _cert_pem = _load_cert(module, cert_path)
    pending, pending_pem = _load_key(module, pending_path)
    result = {"changed": False, "privatekey_changed": False, "privatekey_pending": False, "reasons": [],
              "installed": False}

    # A certificate already matching the pending key: an earlier run installed it and stopped before
    # the key was renamed. Finish that now.
    if pending is not None and cert is not None and _x509.public_keys_match(cert.public_key(), pending.public_key()):
        result["changed"] = result["privatekey_changed"] = True
        result["reasons"].append("completed an interrupted key replacement (%s)" % pending_path)
        if not module.check_mode:
            _promote(module, result, key_path, pending_path)
        key, pending = pending, None

    old_key_type = _x509.key_type_of(key) if key is not None else None
    regenerate, key_reasons = _x509.plan_server_key(key, p["key_type"], force=p["force"])
    plan = _x509.plan_certificate(cert, None if regenerate else key, ca_cert, subject, sans,
                                  p["validity_days"], p["renew_before_days"], now,
                                  key_replaced=regenerate and key is not None, usage=p["usage"])
    for warning in plan.warnings:
        module.warn(warning)
    reasons = result["reasons"] + list(key_reasons)
    reasons.extend(r for r in plan.reasons if r not in reasons)
    reissue = plan.reissue or regenerate
    csr_key = None if regenerate else key
    if regenerate:
        # the new key waits next to the working one until its certificate is installed
        if pending is not None and _x509.key_type_of(pending) == p["key_type"] and not p["force"]:
            csr_key = pending  # left by a run whose signing failed: reuse it
        else:
            result["changed"] = True
            csr_key = None  # check mode: the new key does not exist, so there is no CSR to show
            if not module.check_mode:
                csr_key = _x509.generate_private_key(p["key_type"])
                try:
                    _x509.write_file_atomic(pending_path, _x509.dump_private_key(csr_key), 0o600)
                except (OSError, ValueError) as exc:
                    module.fail_json(msg="cannot write %s: %s" % (pending_path, exc))
        result["privatekey_changed"] = result["privatekey_pending"] = True
    elif pending is not None and not module.check_mode:
        os.unlink(pending_path)  # a stale pending key nobody will install
        result["changed"] = True
        reasons.append("removed a stale pending key %s" % pending_path)
    for path in (key_path, pending_path):
        if os.path.exists(path):
            result["changed"] = _enforce_key_file(module, path, result["changed"])

    result.update(reissue=reissue, reasons=reasons, subject_alt_name=_x509.san_strings(sans), skipped_names=skipped,
                  csr=None, current=_x509.describe_certificate(cert) if cert is not None else {},
                  key_type=p["key_type"] if regenerate else (_x509.key_type_of(key) if key is not None else None))
    if reissue and csr_key is not None:
        result["csr"] = _x509.dump_csr(_x509.build_csr(csr_key, subject, sans, usage=p["usage"])).decode("ascii")

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
            subject_alt_name=dict(type="list", elements="str", default=[]),
            optional_subject_alt_name=dict(type="list", elements="str", default=[]),
            usage=dict(type="str", default="server", choices=["server", "client"]),
            certificate=dict(type="str"),
            validity_days=dict(type="int", default=365),
            renew_before_days=dict(type="int", default=30),
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
