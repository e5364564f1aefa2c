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


def sign(result, ca, validity=365):
    csr = _x509.load_csr(result["csr"])
    return _x509.sign_csr(csr, ca[1], ca[0], validity, _x509.utcnow(), result["subject_alt_name"])[0]


def install(result, args, ca, validity=365):
    """What the role does: sign on the CA host, then install the certificate with its key on the proxy."""
    pem = _x509.dump_certificate(sign(result, ca, validity)).decode()
    keep = {k: args[k] for k in ("privatekey_path", "certificate_path")}
    return run(certificate=pem, **keep)


def test_first_run_creates_the_key_and_asks_for_a_certificate(args, ca):
    result = run(**args)
    assert result["changed"] and result["privatekey_changed"] and result["reissue"]
    assert result["privatekey_pending"]
    assert result["reasons"] == ["private key missing", "certificate missing"]
    # the new key waits next to where it goes until its certificate is installed
    assert not os.path.exists(args["privatekey_path"])
    assert os.stat(args["privatekey_path"] + ".pending").st_mode & 0o777 == 0o600
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
    key_path = args["privatekey_path"]
    old_key, old_cert = open(key_path, "rb").read(), open(args["certificate_path"], "rb").read()
    result = run(key_type="rsa-2048", backup=True, **args)
    assert result["changed"] and result["privatekey_changed"] and result["key_type"] == "rsa-2048"
    assert result["reasons"] == ["key type changed: ecdsa-p256 -> rsa-2048", "private key replaced"]
    assert _x509.key_type_of(_x509.load_csr(result["csr"]).public_key()) == "rsa-2048"
    # the working pair is untouched until the new certificate is installed
    assert open(key_path, "rb").read() == old_key and open(args["certificate_path"], "rb").read() == old_cert
    pem = _x509.dump_certificate(sign(result, ca)).decode()
    installed = run(privatekey_path=key_path, certificate_path=args["certificate_path"],
                    certificate=pem, backup=True)
    assert installed["installed"] and installed["privatekey_changed"] and installed["changed"]
    assert os.stat(installed["backup_privatekey"]).st_mode & 0o777 == 0o600
    assert open(installed["backup_privatekey"], "rb").read() == old_key
    assert _x509.key_type_of(_x509.load_private_key(open(key_path, "rb").read())) == "rsa-2048"
    assert os.stat(key_path).st_mode & 0o777 == 0o600 and not os.path.exists(key_path + ".pending")
    assert not run(key_type="rsa-2048", **args)["reissue"]


def test_a_failed_signing_leaves_the_working_pair_and_the_next_run_reuses_the_new_key(args, ca):
    install(run(**args), args, ca)
    key_path, cert_path = args["privatekey_path"], args["certificate_path"]
    pair = open(key_path, "rb").read(), open(cert_path, "rb").read()
    first = run(force=True, **args)  # ... and then the CA host is unreachable: no certificate
    assert first["privatekey_pending"] and first["csr"]
    assert (open(key_path, "rb").read(), open(cert_path, "rb").read()) == pair
    cert = _x509.load_certificate(pair[1])
    assert _x509.public_keys_match(cert.public_key(), _x509.load_private_key(pair[0]).public_key())
    second = run(key_type="ecdsa-p256", **dict(args, subject_alt_name=SANS))
    # no force now: the certificate still matches the working key, nothing to do, the pending key is dropped
    assert not second["reissue"] and not os.path.exists(key_path + ".pending")
    third = run(force=True, **args)
    again = run(**dict(args, validity_days=90))  # a reissue without force reuses nothing stale
    assert third["csr"] and again["reissue"]


def test_a_pending_key_is_reused_while_its_certificate_is_missing(args, ca):
    first = run(**args)  # fresh host: the key is pending, no certificate yet
    second = run(**args)  # signing failed last time: same key, same CSR key
    assert not second["changed"] and second["privatekey_pending"]
    assert (_x509.load_csr(first["csr"]).public_key().public_numbers()
            == _x509.load_csr(second["csr"]).public_key().public_numbers())
    install(second, args, ca)
    assert not run(**args)["reissue"]


def test_an_interrupted_install_is_completed(args, ca):
    result = run(**args)
    cert = sign(result, ca)
    with open(args["certificate_path"], "wb") as handle:  # the certificate was written, then the run died
        handle.write(_x509.dump_certificate(cert))
    again = run(**args)
    assert again["changed"] and not again["reissue"]
    assert again["reasons"][0].startswith("completed an interrupted key replacement")
    key = _x509.load_private_key(open(args["privatekey_path"], "rb").read())
    assert _x509.public_keys_match(key.public_key(), cert.public_key())
    assert not os.path.exists(args["privatekey_path"] + ".pending")


def test_install_refuses_a_certificate_for_another_key(args, ca):
    install(run(**args), args, ca)
    other = _x509.generate_private_key("ecdsa-p256")
    csr = _x509.build_csr(other, _x509.parse_subject({"CN": "x"}), _x509.parse_sans(SANS)[0])
    pem = _x509.dump_certificate(_x509.sign_csr(csr, ca[1], ca[0], 30, _x509.utcnow())[0]).decode()
    before = open(args["certificate_path"], "rb").read()
    result = run(privatekey_path=args["privatekey_path"], certificate_path=args["certificate_path"],
                 certificate=pem)
    assert result["failed"] and "matches neither" in result["msg"]
    assert open(args["certificate_path"], "rb").read() == before


def test_client_certificate_without_sans(tmp_path, ca):
    args = {"privatekey_path": str(tmp_path / "client.key"), "certificate_path": str(tmp_path / "client.crt"),
            "ca_certificate": _x509.dump_certificate(ca[1]).decode(), "usage": "client",
            "subject": {"CN": "dockyard proxy p1"}}
    result = run(**args)
    csr = _x509.load_csr(result["csr"])
    assert _x509.csr_sans(csr) == [] and result["subject_alt_name"] == []
    cert = _x509.sign_csr(csr, ca[1], ca[0], 90, _x509.utcnow(), [], usage="client")[0]
    assert _x509.extended_key_usages(cert) == ["client"]
    install_args = {k: args[k] for k in ("privatekey_path", "certificate_path")}
    assert run(certificate=_x509.dump_certificate(cert).decode(), **install_args)["installed"]
    again = run(validity_days=90, **args)
    assert not again.get("failed"), again.get("msg")
    assert not again["reissue"]
    # the same key with a server certificate is reissued as a client one
    server = _x509.sign_csr(_x509.build_csr(_x509.load_private_key(open(args["privatekey_path"], "rb").read()),
                                            csr.subject, _x509.parse_sans(["p1"])[0]),
                            ca[1], ca[0], 90, _x509.utcnow())[0]
    with open(args["certificate_path"], "wb") as handle:
        handle.write(_x509.dump_certificate(server))
    assert run(validity_days=90, **args)["reasons"] == [
        "extended key usage is serverAuth, wanted clientAuth only", "SANs differ: remove DNS:p1"]


def test_server_certificate_needs_a_san(args):
    result = run(**dict(args, subject_alt_name=[]))
    assert result["failed"] and "at least one" in result["msg"]


@pytest.fixture(scope="module")
def constrained_ca():
    key = _x509.generate_private_key("ecdsa-p256")
    cert = _x509.build_ca_certificate(key, _x509.parse_subject({"CN": "Constrained"}), 3650, _x509.utcnow(),
                                      name_constraints=["DNS:registry.example.com", "IP:192.0.2.0/24"])
    return key, cert


def test_names_outside_the_ca_constraints_are_refused_before_anything_is_written(args, constrained_ca):
    wanted = dict(args, ca_certificate=_x509.dump_certificate(constrained_ca[1]).decode(),
                  subject_alt_name=SANS + ["www.example.org"])
    result = run(**wanted)
    assert result["failed"] and "DNS:www.example.org is outside the CA's name constraints" in result["msg"]
    assert "ca_name_constraints_extra" in result["msg"] and "ca_reissue_certificate" in result["msg"]
    assert not os.listdir(os.path.dirname(args["privatekey_path"]))


def test_optional_names_outside_the_ca_constraints_are_skipped(args, constrained_ca):
    wanted = dict(args, ca_certificate=_x509.dump_certificate(constrained_ca[1]).decode(),
                  subject_alt_name=SANS + ["b1.registry.example.com"], optional_subject_alt_name=["proxy1", "IP:10.0.0.5"])
    result = run(**wanted)
    assert result["subject_alt_name"] == ["DNS:registry.example.com", "IP:192.0.2.10", "DNS:b1.registry.example.com"]
    assert any("DNS:proxy1 is outside" in s for s in result["skipped_names"])
    assert any("IP:10.0.0.5 is outside" in s for s in result["skipped_names"])


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
