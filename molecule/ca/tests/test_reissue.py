"""Day 2 (roles/ca/README.md): playbooks/ca.yml run again with changed variables, as an operator would.

Every change must reissue the proxy certificate exactly once. The first run with the change signs
one certificate (one x509_sign result), says why (x509_csr's reasons), installs it (serial and
fingerprint change, the proxy's key does not) and reloads the service using it (ca_reload_service:
the HTTPS test server then presents the new certificate). The same run again reports changed=0 for
every host in its recap and leaves the certificate alone. The CA is never touched.

The runs read the play recap and the task results as data (ansible.posix.json stdout callback).
Every test returns to the inventory's values; the module teardown checks that a plain run then
reports changed=0.
"""

from __future__ import annotations

import datetime

import pytest
from conftest import (CA_DIR, NAME, PROXY, TLS_DIR, ca_certificate, fingerprint, lab_host, proxy_address,
                      public_key_der, run_ca_playbook, san_strings, served_certificate, server_certificate)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

ALIAS = "registry-alias.ca.test"
DAY = datetime.timedelta(days=1)


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def lifetime(cert: x509.Certificate) -> datetime.timedelta:
    return cert.not_valid_after_utc - cert.not_valid_before_utc


@pytest.fixture(scope="module", autouse=True)
def back_to_the_inventory_values():
    yield
    run = run_ca_playbook()
    run.assert_unchanged()
    assert fingerprint(served_certificate()) == fingerprint(server_certificate())


@pytest.fixture(autouse=True)
def ca_unchanged(first_ca_fingerprint):
    """Before and after each test the CA is the one the first converge created, on both hosts."""
    assert fingerprint(ca_certificate()) == first_ca_fingerprint
    yield
    assert fingerprint(ca_certificate()) == first_ca_fingerprint
    on_proxy = x509.load_pem_x509_certificate(lab_host(PROXY).file(f"{TLS_DIR}/ca.crt").content_string.encode())
    assert fingerprint(on_proxy) == first_ca_fingerprint


def reissue_once(reason: str, **extra_vars) -> tuple[x509.Certificate, x509.Certificate]:
    """Run playbooks/ca.yml with ``extra_vars`` twice: one reissue for ``reason``, then changed=0.

    Returns the certificates before and after."""
    before = server_certificate()

    first = run_ca_playbook(**extra_vars)
    first.assert_ok()
    decisions = first.decisions()
    assert [d["_host"] for d in decisions] == [PROXY], first.describe()
    assert decisions[0]["reissue"] is True
    assert decisions[0]["reasons"] == [reason], first.describe()
    assert decisions[0]["privatekey_changed"] is False, "a reissue must keep the proxy's key"
    signed = first.ran("x509_sign")
    assert len(signed) == 1 and signed[0]["changed"], first.describe()
    assert [r["changed"] for r in first.installs()] == [True], first.describe()
    assert not [r for r in first.ran("x509_ca") if r["changed"]], first.describe()
    assert first.stats[PROXY]["changed"] > 0, first.describe()
    after = server_certificate()
    assert after.serial_number != before.serial_number
    assert fingerprint(after) != fingerprint(before)
    assert fingerprint(after) == signed[0]["info"]["fingerprint"]
    assert public_key_der(after) == public_key_der(before)
    # The role's handler reloaded ca_reload_service: the new certificate is the one served.
    assert [r["changed"] for r in first.ran("service")] == [True], first.describe()
    assert fingerprint(served_certificate()) == fingerprint(after)

    second = run_ca_playbook(**extra_vars)
    second.assert_unchanged()
    decisions = second.decisions()
    assert [(d["reissue"], d["reasons"]) for d in decisions] == [(False, [])], second.describe()
    assert second.ran("x509_sign") == [] and second.ran("service") == [], second.describe()
    again = server_certificate()
    assert again.serial_number == after.serial_number
    assert fingerprint(again) == fingerprint(after)
    return before, after


def test_rerun_with_the_inventory_values_changes_nothing():
    before = server_certificate()
    run = run_ca_playbook()
    run.assert_unchanged()
    assert [d["reissue"] for d in run.decisions()] == [False]
    assert run.ran("x509_sign") == []
    assert fingerprint(server_certificate()) == fingerprint(before)


def test_check_mode_reports_the_reissue_without_signing():
    """--check with a lower validity: the reissue and its reason are reported, nothing is signed or
    installed (x509_sign's check mode describes the certificate it would issue)."""
    before = server_certificate()
    run = run_ca_playbook("--check", ca_server_validity_days=90)
    run.assert_ok()
    assert [(d["reissue"], d["reasons"]) for d in run.decisions()] == [
        (True, ["validity is 365 days, wanted 90"])], run.describe()
    signed = run.ran("x509_sign")
    assert len(signed) == 1 and signed[0]["certificate"] is None, run.describe()
    assert signed[0]["info"]["fingerprint"] == "(new)"
    assert signed[0]["info"]["subject_alt_name"] == san_strings(before)
    assert run.ran("service") == [], run.describe()
    assert fingerprint(server_certificate()) == fingerprint(before)
    assert fingerprint(served_certificate()) == fingerprint(before)


def test_lower_validity_reissues_once():
    before, after = reissue_once("validity is 365 days, wanted 90", ca_server_validity_days=90)
    assert abs(lifetime(before) - 365 * DAY) < DAY / 24
    assert abs(lifetime(after) - 90 * DAY) < DAY / 24
    # Back to the inventory's 365 days: one reissue the other way, then stable.
    _, restored = reissue_once("validity is 90 days, wanted 365")
    assert abs(lifetime(restored) - 365 * DAY) < DAY / 24


def age_server_certificate(days: int) -> x509.Certificate:
    """Make the proxy's certificate ``days`` older: the same certificate (subject, public key, SANs,
    extensions, lifetime) signed by the same CA on the controller, with its validity window moved
    ``days`` into the past - what the proxy holds after ``days`` days in service."""
    current = server_certificate()
    ca_key = serialization.load_pem_private_key((CA_DIR / "ca.key").read_bytes(), password=None)
    shift = datetime.timedelta(days=days)
    builder = (
        x509.CertificateBuilder()
        .subject_name(current.subject)
        .issuer_name(current.issuer)
        .public_key(current.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(current.not_valid_before_utc - shift)
        .not_valid_after(current.not_valid_after_utc - shift)
    )
    for ext in current.extensions:
        builder = builder.add_extension(ext.value, critical=ext.critical)
    aged = builder.sign(ca_key, hashes.SHA256())
    pem = aged.public_bytes(serialization.Encoding.PEM).decode()
    proxy = lab_host(PROXY)
    proxy.check_output(f"cat > {TLS_DIR}/registry.crt <<'EOF'\n{pem}EOF")
    res = proxy.run(f"openssl verify -CAfile {TLS_DIR}/ca.crt {TLS_DIR}/registry.crt")
    assert res.rc == 0, res.stdout + res.stderr
    return aged


def test_raise_renew_before_reissues_once():
    """A certificate 300 days into its 365 has 65 days left: renew_before 30 (the inventory's) keeps
    it, renew_before 90 reissues it once."""
    aged = age_server_certificate(300)
    assert 64 * DAY < aged.not_valid_after_utc - utcnow() < 66 * DAY

    run = run_ca_playbook()
    run.assert_unchanged()
    assert fingerprint(server_certificate()) == fingerprint(aged)

    expiry = aged.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    before, after = reissue_once(f"expires within 90 days (on {expiry})", ca_server_renew_before_days=90)
    assert fingerprint(before) == fingerprint(aged)
    assert abs(after.not_valid_after_utc - (utcnow() + 365 * DAY)) < DAY / 24
    # The new certificate is 365 days long, so the inventory's values accept it as it is (teardown).


def test_changed_san_reissues_once():
    before, after = reissue_once(f"SANs differ: add DNS:{ALIAS}", ca_server_extra_names=[ALIAS])
    # Documented order: registry name, registry address, extra names, then the discovered names.
    names = san_strings(before)
    assert names[:2] == [f"DNS:{NAME}", f"IP:{proxy_address()}"]
    assert f"DNS:{ALIAS}" not in names
    assert san_strings(after) == names[:2] + [f"DNS:{ALIAS}"] + names[2:]
    # Back to the inventory's names: one reissue, then stable.
    _, restored = reissue_once(f"SANs differ: remove DNS:{ALIAS}")
    assert san_strings(restored) == names


def test_a_name_outside_the_name_constraints_is_refused_before_anything_changes():
    """The CA may sign only the names its constraints permit: a SAN outside them stops the run with
    the way to widen them, and nothing is signed or installed."""
    before = server_certificate()
    run = run_ca_playbook(ca_server_extra_names=["outside.example.org"])
    assert run.rc != 0, run.describe()
    failed = [r for r in run.results("x509_csr") if r.get("failed")]
    assert len(failed) == 1, run.describe()
    assert "DNS:outside.example.org is outside the CA's name constraints" in failed[0]["msg"]
    assert "ca_name_constraints_extra" in failed[0]["msg"]
    assert run.total_changed() == 0 and run.ran("x509_sign") == [], run.describe()
    assert fingerprint(server_certificate()) == fingerprint(before)
