# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""x509_sign through AnsibleModule: signing, check mode, refusals."""

from __future__ import annotations

import json

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _x509
from ansible_collections.dockyard.registry.plugins.modules import x509_sign
from ansible_collections.dockyard.registry.tests.unit.plugins.modules.utils import run_module

SANS = ["DNS:registry.example.com", "IP:192.0.2.10"]
# Long enough never to occur in a certificate by chance (see test_short_passphrase_never_corrupts...).
PASSPHRASE = "ca-key-passphrase-for-tests"


def run(check_mode=False, diff=False, **args):
    """The result as Ansible prints it (no_log values masked)."""
    return run_module(x509_sign, check_mode=check_mode, diff=diff, **args).output


@pytest.fixture
def args(tmp_path):
    key = _x509.generate_private_key("ecdsa-p256")
    cert = _x509.build_ca_certificate(key, _x509.parse_subject({"CN": "Test CA"}), 3650, _x509.utcnow())
    (tmp_path / "ca.key").write_bytes(_x509.dump_private_key(key, PASSPHRASE))
    (tmp_path / "ca.crt").write_bytes(_x509.dump_certificate(cert))
    server_key = _x509.generate_private_key("ecdsa-p256")
    names = _x509.parse_sans(SANS)[0]
    csr = _x509.build_csr(server_key, _x509.default_server_subject(names), names)
    return {"csr": _x509.dump_csr(csr).decode(), "ca_certificate_path": str(tmp_path / "ca.crt"),
            "ca_privatekey_path": str(tmp_path / "ca.key"), "ca_privatekey_passphrase": PASSPHRASE,
            "subject_alt_name": SANS}


def test_signs_the_csr(args):
    result = run(diff=True, validity_days=90, **args)
    assert result["changed"]
    cert = _x509.load_certificate(result["certificate"])
    ca = _x509.load_certificate(open(args["ca_certificate_path"], "rb").read())
    assert _x509.is_issued_by(cert, ca) and _x509.has_server_auth(cert)
    assert result["info"]["subject_alt_name"] == SANS
    assert result["diff"]["after"]["fingerprint"] == _x509.fingerprint(cert)
    assert PASSPHRASE not in json.dumps(result["diff"]) and "PRIVATE KEY" not in json.dumps(result)


def test_short_passphrase_never_corrupts_the_returned_certificate(args, tmp_path):
    # Ansible masks every occurrence of a no_log value in a result; "pw" is inside about one
    # certificate in six, which used to reach the role as "********" in the PEM.
    key = _x509.load_private_key(open(args["ca_privatekey_path"], "rb").read(), PASSPHRASE)
    (tmp_path / "short.key").write_bytes(_x509.dump_private_key(key, "pw"))
    # The guarantee: the returned PEM is intact, or the run fails naming ca_privatekey_passphrase.
    intact = 0
    for _attempt in range(30):
        result = run(**dict(args, ca_privatekey_path=str(tmp_path / "short.key"), ca_privatekey_passphrase="pw"))
        if result.get("failed"):
            assert "(ca_privatekey_passphrase)" in result["msg"] and "longer passphrase" in result["msg"]
            continue
        assert "********" not in result["certificate"]
        assert _x509.is_issued_by(_x509.load_certificate(result["certificate"]),
                                  _x509.load_certificate(open(args["ca_certificate_path"], "rb").read()))
        intact += 1
    assert intact >= 25


def test_check_mode_describes_without_signing(args):
    result = run(check_mode=True, **args)
    assert result["changed"] and result["certificate"] is None
    assert result["info"]["subject_alt_name"] == SANS and result["info"]["fingerprint"] == "(new)"


def test_check_mode_still_refuses_bad_input(args):
    result = run(check_mode=True, **dict(args, subject_alt_name=["other.example.com"]))
    assert result["failed"] and "CSR asks for SANs" in result["msg"]


def test_unexpected_sans_are_refused(args):
    result = run(**dict(args, subject_alt_name=["registry.example.com"]))
    assert result["failed"] and "CSR asks for SANs" in result["msg"]


def test_missing_or_wrong_passphrase(args):
    missing = run(**dict(args, ca_privatekey_passphrase=None))
    assert missing["failed"] and "ca_privatekey_passphrase" in missing["msg"]
    wrong = run(**dict(args, ca_privatekey_passphrase="bad"))
    assert wrong["failed"] and "wrong passphrase" in wrong["msg"]


def test_missing_ca_files(args, tmp_path):
    result = run(**dict(args, ca_certificate_path=str(tmp_path / "nope.crt")))
    assert result["failed"] and "does not exist" in result["msg"]


def test_ca_certificate_not_matching_the_key_is_refused(args, tmp_path):
    other = _x509.generate_private_key("ecdsa-p256")
    (tmp_path / "other.key").write_bytes(_x509.dump_private_key(other))
    result = run(**dict(args, ca_privatekey_path=str(tmp_path / "other.key"), ca_privatekey_passphrase=None))
    assert result["failed"] and "does not match the CA private key" in result["msg"]


def test_not_a_csr_is_refused(args):
    result = run(**dict(args, csr="hello"))
    assert result["failed"] and "csr is not a PEM certificate signing request" in result["msg"]
