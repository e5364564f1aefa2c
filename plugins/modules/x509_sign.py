#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: x509_sign
short_description: Sign a server or client CSR with the private CA and return the certificate
version_added: 0.1.0
description:
  - Runs on the CA host (the CA private key never leaves it). Signs a CSR made by
    M(dockyard.registry.x509_csr) on the host that will use the certificate, and returns the
    certificate in PEM form; nothing is written on the CA host.
  - The certificate copies the CSR's subject and DNS/IP subject alternative names and carries
    basicConstraints C(CA:FALSE), keyUsage C(digitalSignature) (plus C(keyEncipherment) for RSA keys),
    one extended key usage (C(serverAuth) or C(clientAuth), by O(usage)), subject and authority key
    identifiers. Its C(notAfter) is capped at the CA certificate's, with a warning.
  - Every run issues a new certificate and reports C(changed); call it only when
    M(dockyard.registry.x509_csr) reports RV(dockyard.registry.x509_csr#module:reissue).
  - Refuses a CSR with an invalid signature, a server CSR without SANs, SANs other than
    O(subject_alt_name), SANs outside the CA certificate's name constraints (with a message saying
    how to widen them), a CA certificate that does not match the CA key or is not a CA, and an
    expired CA.
author:
  - dockyard.registry maintainers (@dockyard)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Checks every input and returns what would be issued in RV(info) without signing; RV(certificate) is null.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - The diff shows subject, SANs, validity and fingerprint of the issued certificate, never key material.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: none
    details:
      - Every run issues a new certificate (new serial number). Let M(dockyard.registry.x509_csr) decide when to call it.
options:
  csr:
    description: The certificate signing request (PEM content).
    type: str
    required: true
  ca_certificate_path:
    description: Path of the CA certificate on the host the module runs on.
    type: path
    required: true
  ca_privatekey_path:
    description: Path of the CA private key on the host the module runs on.
    type: path
    required: true
  ca_privatekey_passphrase:
    description: Passphrase of the CA private key, when it is encrypted.
    type: str
  usage:
    description:
      - V(server) issues a TLS server certificate (EKU serverAuth; SANs required), V(client) a TLS
        client certificate (EKU clientAuth only; SANs optional), for example the certificate nginx
        presents to the registry backends.
    type: str
    choices: [server, client]
    default: server
  subject_alt_name:
    description:
      - SANs the CSR must ask for (same forms as M(dockyard.registry.x509_csr)'s option). The CSR
        is refused when its SANs differ. When omitted, the CSR's SANs are signed as they are.
    type: list
    elements: str
  validity_days:
    description: Validity of the certificate in days (capped at the CA certificate's end).
    type: int
    default: 365
requirements:
  - cryptography (tested with 38.0.4, the Debian 12 package, and 50.0.2) on the CA host
seealso:
  - module: dockyard.registry.x509_ca
  - module: dockyard.registry.x509_csr
"""

EXAMPLES = r"""
- name: Sign the proxy's CSR on the CA host
  dockyard.registry.x509_sign:
    csr: "{{ server.csr }}"
    subject_alt_name: "{{ server.subject_alt_name }}"
    ca_certificate_path: /srv/dockyard-ca/ca.crt
    ca_privatekey_path: /srv/dockyard-ca/ca.key
    ca_privatekey_passphrase: "{{ vault_ca_passphrase }}"
    validity_days: 365
  delegate_to: localhost
  when: server.reissue and server.csr is not none
  register: signed

- name: Install the certificate on the proxy
  ansible.builtin.copy:
    content: "{{ signed.certificate }}"
    dest: /etc/dockyard/tls/registry.crt
    mode: "0644"
    backup: true
  when: signed.certificate is defined and signed.certificate is not none
"""

RETURN = r"""
certificate:
  description: The issued certificate (PEM). Null in check mode.
  type: str
  returned: success
info:
  description:
    - Subject, issuer, SANs, validity, serial number, fingerprint and key type of the issued certificate.
    - In check mode the serial number and fingerprint are not known and are C((new)).
  type: dict
  returned: success
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.dockyard.registry.plugins.module_utils import _x509


def run(module):
    p = module.params
    now = _x509.utcnow()
    try:
        csr = _x509.load_csr(p["csr"], what="csr")
        cert_pem = _x509.read_file(p["ca_certificate_path"])
        key_pem = _x509.read_file(p["ca_privatekey_path"])
        if cert_pem is None:
            raise ValueError("CA certificate %s does not exist" % p["ca_certificate_path"])
        if key_pem is None:
            raise ValueError("CA private key %s does not exist" % p["ca_privatekey_path"])
        ca_cert = _x509.load_certificate(cert_pem, what=p["ca_certificate_path"])
        ca_key = _x509.load_private_key(key_pem, p["ca_privatekey_passphrase"], what=p["ca_privatekey_path"])
        if module.check_mode:
            sans, start, end, warnings = _x509.prepare_signing(
                csr, ca_cert, ca_key, p["validity_days"], now, p["subject_alt_name"], usage=p["usage"])
            cert = None
            info = {"subject": _x509.describe_name(csr.subject), "issuer": _x509.describe_name(ca_cert.subject),
                    "subject_alt_name": _x509.san_strings(sans), "not_before": _x509.format_time(start),
                    "not_after": _x509.format_time(end), "serial_number": "(new)", "fingerprint": "(new)",
                    "key_type": _x509.key_type_of(csr.public_key())}
        else:
            cert, warnings = _x509.issue_unmasked(
                lambda serial: _x509.sign_csr(csr, ca_cert, ca_key, p["validity_days"], now, p["subject_alt_name"],
                                              serial=serial, usage=p["usage"]),
                [p["ca_privatekey_passphrase"]])
            info = _x509.describe_certificate(cert)
    except (_x509.PassphraseError, _x509.MaskedSecretError) as exc:
        module.fail_json(msg="%s (ca_privatekey_passphrase)" % exc)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    for warning in warnings:
        module.warn(warning)
    result = {"changed": True, "info": info,
              "certificate": _x509.dump_certificate(cert).decode("ascii") if cert is not None else None}
    if module._diff:
        shown = ("subject", "subject_alt_name", "not_after", "fingerprint")
        result["diff"] = {"before": {}, "after": {k: info[k] for k in shown}}
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            csr=dict(type="str", required=True),
            ca_certificate_path=dict(type="path", required=True),
            ca_privatekey_path=dict(type="path", required=True),
            ca_privatekey_passphrase=dict(type="str", no_log=True),
            subject_alt_name=dict(type="list", elements="str"),
            validity_days=dict(type="int", default=365),
            usage=dict(type="str", default="server", choices=["server", "client"]),
        ),
        supports_check_mode=True,
    )
    if not _x509.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=_x509.CRYPTOGRAPHY_IMPORT_ERROR)
    run(module)


if __name__ == "__main__":
    main()
