# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""x509_csr through AnsibleModule: key file, reissue decision, CSR, check mode, refusals."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _x509
from ansible_collections.dockyard.registry.plugins.modules import x509_csr
from ansible_collections.dockyard.registry.tests.unit.plugins.modules.utils import run_module

SANS = ["registry.example.com", "IP:192.0.2.10"]


def run(check_mode=False, diff=False, **args):
    """The result as Ansible prints it (no_log values masked)."""
    return run_module(x509_csr, check_mode=check_mode, diff=diff, **args).output


@pytest.fixture(scope="module")
def ca():
    key = _x509.generate_private_key("ecdsa-p256")
    cert = _x509.build_ca_certificate(key, _x509.parse_subject({"CN": "Test CA"}), 3650, _x509.utcnow())
    return key, cert


@pytest.fixture
def args(tmp_path, ca):
    return {"privatekey_path": str(tmp_path / "registry.key"), "certificate_path": str(tmp_path / "registry.crt"),
            "ca_certificate": _x509.dump_certificate(ca[1]).decode(), "subject_alt_name": SANS}


def install(result, args, ca, validity=365):
    """What the role does: sign on the CA host, copy the certificate to the proxy."""
    csr = _x509.load_csr(result["csr"])
    cert = _x509.sign_csr(csr, ca[1], ca[0], validity, _x509.utcnow(), result["subject_alt_name"])[0]
    with open(args["certificate_path"], "wb") as handle:
        handle.write(_x509.dump_certificate(cert))


def test_first_run_creates_the_key_and_asks_for_a_certificate(args, ca):
    result = run(**args)
    assert result["changed"] and result["privatekey_changed"] and result["reissue"]
    assert result["reasons"] == ["private key missing", "certificate missing"]
    assert os.stat(args["privatekey_path"]).st_mode & 0o777 == 0o600
    csr = _x509.load_csr(result["csr"])
    assert _x509.san_strings(_x509.csr_sans(csr)) == ["DNS:registry.example.com", "IP:192.0.2.10"]
    assert csr.subject.rfc4514_string() == "CN=registry.example.com"
    assert "PRIVATE KEY" not in json.dumps(result)


def test_installed_certificate_is_left_alone(args, ca):
    install(run(**args), args, ca)
    key_before = open(args["privatekey_path"], "rb").read()
    result = run(**args)
    assert not result["changed"] and not result["reissue"] and result["reasons"] == [] and result["csr"] is None
    assert result["current"]["subject_alt_name"] == ["DNS:registry.example.com", "IP:192.0.2.10"]
    assert open(args["privatekey_path"], "rb").read() == key_before


def test_san_change_asks_for_one_reissue(args, ca):
    install(run(**args), args, ca)
    changed = dict(args, subject_alt_name=SANS + ["mirror.example.com"])
    result = run(**changed)
    assert result["reissue"] and not result["changed"]
    assert result["reasons"] == ["SANs differ: add DNS:mirror.example.com"]
    install(result, changed, ca)
    assert not run(**changed)["reissue"]


def test_lower_validity_asks_for_one_reissue(args, ca):
    install(run(**args), args, ca)
    result = run(validity_days=90, **args)
    assert result["reasons"] == ["validity is 365 days, wanted 90"]
    install(result, args, ca, validity=90)
    assert not run(validity_days=90, **args)["reissue"]


def test_key_type_change_replaces_the_key_with_a_backup(args, ca):
    install(run(**args), args, ca)
    result = run(key_type="rsa-2048", backup=True, **args)
    assert result["changed"] and result["privatekey_changed"] and result["key_type"] == "rsa-2048"
    assert result["reasons"] == ["key type changed: ecdsa-p256 -> rsa-2048", "private key replaced"]
    assert os.stat(result["backup_privatekey"]).st_mode & 0o777 == 0o600
    assert _x509.key_type_of(_x509.load_csr(result["csr"]).public_key()) == "rsa-2048"


def test_certificate_from_another_ca_is_reissued(args, tmp_path):
    other_key = _x509.generate_private_key("ecdsa-p256")
    other = _x509.build_ca_certificate(other_key, _x509.parse_subject({"CN": "Old CA"}), 100, _x509.utcnow())
    install(run(**args), args, (other_key, other))
    result = run(**args)
    assert result["reissue"] and result["reasons"][0].startswith("issued by a different CA")


def test_check_mode_on_a_fresh_host(args):
    result = run(check_mode=True, diff=True, **args)
    assert result["changed"] and result["reissue"] and result["csr"] is None
    assert not os.path.exists(args["privatekey_path"])
    assert result["diff"]["before"] == {"privatekey": {}, "certificate": {}}
    after = result["diff"]["after"]
    assert after["privatekey"] == {"key_type": "ecdsa-p256"}
    assert after["certificate"]["subject_alt_name"] == ["DNS:registry.example.com", "IP:192.0.2.10"]


def test_check_mode_with_a_san_change_returns_a_csr_and_a_diff(args, ca):
    install(run(**args), args, ca)
    result = run(check_mode=True, diff=True, **dict(args, subject_alt_name=["registry.example.com"]))
    assert not result["changed"] and result["reissue"] and result["csr"]
    before, after = result["diff"]["before"]["certificate"], result["diff"]["after"]["certificate"]
    assert before["subject_alt_name"] == ["DNS:registry.example.com", "IP:192.0.2.10"]
    assert after["subject_alt_name"] == ["DNS:registry.example.com"]
    assert set(before) == {"subject", "subject_alt_name", "not_after", "fingerprint"}


def test_discovered_names_are_added_and_bad_ones_skipped(args):
    result = run(optional_subject_alt_name=["proxy_1", "proxy1", "192.0.2.10", ""], **args)
    assert result["subject_alt_name"] == ["DNS:registry.example.com", "IP:192.0.2.10", "DNS:proxy1"]
    assert len(result["skipped_names"]) == 1 and "underscores" in result["skipped_names"][0]
    assert "proxy_1" in json.dumps(result["warnings"])


@pytest.mark.parametrize("sans, message", [
    (["IP:999.0.0.1"], "invalid IP address"),
    (["DNS:bad_name.example"], "underscores"),
    (["DNS:192.0.2.1"], "write it as IP:192.0.2.1"),
    ([], "at least one DNS name or IP address"),
])
def test_invalid_sans_are_refused(args, sans, message):
    result = run(**dict(args, subject_alt_name=sans))
    assert result["failed"] and message in result["msg"]
    assert not os.path.exists(args["privatekey_path"])


def test_a_key_file_that_is_not_a_key_is_refused(args):
    with open(args["privatekey_path"], "w") as handle:
        handle.write("hello\n")
    result = run(**args)
    assert result["failed"] and "is not a PEM private key" in result["msg"]
    assert open(args["privatekey_path"]).read() == "hello\n"


def test_an_encrypted_server_key_is_refused(args):
    with open(args["privatekey_path"], "wb") as handle:
        handle.write(_x509.dump_private_key(_x509.generate_private_key("ecdsa-p256"), "pw"))
    result = run(**args)
    assert result["failed"] and "must not be encrypted" in result["msg"]


def test_a_certificate_file_that_is_not_a_certificate_is_refused(args):
    with open(args["certificate_path"], "w") as handle:
        handle.write("junk\n")
    result = run(**args)
    assert result["failed"] and "is not a PEM certificate" in result["msg"]


def test_a_bad_ca_certificate_is_refused(args):
    result = run(**dict(args, ca_certificate="nope"))
    assert result["failed"] and "ca_certificate is not a PEM certificate" in result["msg"]


def test_renew_before_longer_than_validity_is_refused(args):
    result = run(validity_days=30, renew_before_days=60, **args)
    assert result["failed"] and "must be shorter than validity_days" in result["msg"]


def test_force_replaces_the_key(args, ca):
    install(run(**args), args, ca)
    result = run(force=True, **args)
    assert result["privatekey_changed"] and result["reissue"] and result["reasons"][0] == "force: true"


def test_empty_subject_is_allowed(args):
    result = run(subject={}, **args)
    assert len(_x509.load_csr(result["csr"]).subject) == 0
