# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the ``ca`` role for real with ansible-playbook, the "proxy" being this machine.

No Docker: the proxy host is ``ansible_connection=local`` and every directory lives under
``tmp_path``. The proxy uses the system Python when it has cryptography (Debian 12: 38.0.4) and
the CA host (implicit localhost) the test's Python (cryptography 50), so both ends are exercised.
Proves: second run changed=0 with the CA untouched, name constraints refuse a name outside them
before anything changes and widen with the same key, a SAN change reissues exactly once, check mode
writes nothing, a missing CA directory is not silently replaced, and openssl accepts the chain,
SANs, EKU and AKI.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.dockyard.registry.tests.harness import ansible_tool, run_playbook

pytestmark = pytest.mark.slow

PLAYBOOK = Path(ansible_tool("ansible-playbook"))


def _proxy_python():
    system = "/usr/bin/python3"
    if os.path.exists(system) and subprocess.run([system, "-c", "import cryptography"],
                                                 capture_output=True, check=False).returncode == 0:
        return system
    return sys.executable


INVENTORY = """
all:
  vars:
    dockyard_registry_name: registry.example.test
    dockyard_registry_address: 192.0.2.10
    dockyard_ca_dir: {tmp}/ca
    dockyard_tls_dir: {tmp}/tls
    ca_reload_service: ""
    ca_install_dependencies: false
  children:
    registry_proxy:
      hosts:
        proxy1:
          ansible_connection: local
          ansible_host: 127.0.0.1
          ansible_python_interpreter: {python}
"""

PLAY = """
- name: Issue the proxy certificate
  hosts: registry_proxy
  gather_facts: false
  tasks:
    - name: A CA rotation step (playbooks/rotate-ca.yml), when one is asked for
      ansible.builtin.include_role:
        name: dockyard.registry.ca
        tasks_from: rotate.yml
      vars:
        ca_rotation_step: "{{ step }}"
      when: step is defined

    - name: The role
      ansible.builtin.include_role:
        name: dockyard.registry.ca
"""


def make_lab(tmp, inventory=INVENTORY, play=PLAY, python=None):
    """Write ``inventory`` (its ``{tmp}`` and ``{python}`` filled in: ``tmp``, and ``python`` or the
    proxy's Python) and ``play`` into ``tmp`` as inventory.yml and site.yml; skips without
    ansible-playbook. The lab of every ``*_local`` role test."""
    if not PLAYBOOK.exists():
        pytest.skip("ansible-playbook is not installed next to this Python")
    (tmp / "inventory.yml").write_text(inventory.format(tmp=tmp, python=python or _proxy_python()))
    (tmp / "site.yml").write_text(play)
    return tmp


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    return make_lab(tmp_path_factory.mktemp("ca_role"))


def run_lab_playbook(lab, *extra, playbook=None, timeout=300, env=None):
    """``ansible-playbook -i lab/inventory.yml <playbook, else lab/site.yml> extra...`` through
    tests/harness.py: Ansible's local temp files under the lab, the default callback with YAML
    results, then ``env``."""
    return run_playbook("-i", lab / "inventory.yml", playbook or lab / "site.yml", *extra, timeout=timeout,
                        env={"ANSIBLE_LOCAL_TEMP": lab / ".tmp", "ANSIBLE_STDOUT_CALLBACK": "default",
                             "ANSIBLE_CALLBACK_RESULT_FORMAT": "yaml", **(env or {})})


def play(lab, *extra):
    proc = run_lab_playbook(lab, *extra)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    recap = re.search(r"^proxy1\s*:\s*ok=(\d+)\s+changed=(\d+)", proc.stdout, re.MULTILINE)
    return int(recap.group(2)), proc.stdout


def openssl(*args):
    return subprocess.run(["openssl"] + list(args), capture_output=True, text=True, check=True).stdout


def test_ca_role_end_to_end(lab):
    ca_crt, ca_key = lab / "ca" / "ca.crt", lab / "ca" / "ca.key"
    tls = lab / "tls"

    changed, _out = play(lab)
    assert changed > 0
    assert (ca_key.stat().st_mode & 0o777) == 0o600
    assert ((tls / "registry.key").stat().st_mode & 0o777) == 0o600
    assert (tls / "ca.crt").read_bytes() == ca_crt.read_bytes()  # the trust bundle: the CA alone
    assert (lab / "ca" / "trust-bundle.crt").read_bytes() == ca_crt.read_bytes()  # published for clients
    ca_before, key_before = ca_crt.read_bytes(), ca_key.read_bytes()
    cert_before = (tls / "registry.crt").read_bytes()

    changed, _out = play(lab)
    assert changed == 0
    assert ca_crt.read_bytes() == ca_before and ca_key.read_bytes() == key_before
    assert (tls / "registry.crt").read_bytes() == cert_before

    if shutil.which("openssl"):
        assert openssl("verify", "-CAfile", str(ca_crt), str(tls / "registry.crt")).strip().endswith(": OK")
        text = openssl("x509", "-in", str(tls / "registry.crt"), "-noout", "-text")
        assert "DNS:registry.example.test" in text and "IP Address:192.0.2.10" in text
        assert "DNS:proxy1" in text and "IP Address:127.0.0.1" in text
        assert "TLS Web Server Authentication" in text and "CA:FALSE" in text
        ca_text = openssl("x509", "-in", str(ca_crt), "-noout", "-text")
        ski = re.search(r"Subject Key Identifier:\s*\n\s*([0-9A-F:]+)", ca_text).group(1)
        aki = re.search(r"Authority Key Identifier:\s*\n\s*(?:keyid:)?([0-9A-F:]+)", text).group(1)
        assert aki == ski
        assert "CA:TRUE" in ca_text and "Certificate Sign, CRL Sign" in ca_text

    # The CA may sign only for the registry's names (critical name constraints): a name outside them
    # is refused before anything changes, with the way to widen them.
    ca_text = openssl("x509", "-in", str(ca_crt), "-noout", "-text") if shutil.which("openssl") else ""
    assert not ca_text or ("X509v3 Name Constraints: critical" in ca_text and "DNS:registry.example.test" in ca_text)
    server_key = (tls / "registry.key").read_bytes()
    proc = run_lab_playbook(lab, "-e", '{"ca_server_extra_names": ["mirror.example.test"]}')
    assert proc.returncode != 0
    assert "DNS:mirror.example.test is outside the CA's name constraints" in proc.stdout
    assert "ca_name_constraints_extra" in proc.stdout and "Nothing was changed" in proc.stdout
    assert (tls / "registry.crt").read_bytes() == cert_before and (tls / "registry.key").read_bytes() == server_key
    assert not (tls / "registry.key.pending").exists()

    # Widening: the CA certificate is re-signed with the same key; the proxy certificate stays valid.
    changed, out = play(lab, "-e", '{"ca_name_constraints_extra": ["mirror.example.test"], "ca_reissue_certificate": true}')
    assert changed == 3  # the CA certificate, the published trust bundle and the copy in tls/
    assert ca_key.read_bytes() == key_before and ca_crt.read_bytes() != ca_before
    assert (tls / "registry.crt").read_bytes() == cert_before
    if shutil.which("openssl"):
        assert openssl("verify", "-CAfile", str(ca_crt), str(tls / "registry.crt")).strip().endswith(": OK")
    widened = ca_crt.read_bytes()

    # A SAN change then reissues exactly once; the CA and the proxy key stay.
    wide = '"ca_name_constraints_extra": ["mirror.example.test"]'
    changed, out = play(lab, "-e", '{"ca_server_extra_names": ["mirror.example.test"], %s}' % wide)
    assert changed == 2  # sign + install (the key is kept)
    assert "SANs differ: add DNS:mirror.example.test" in out
    assert (tls / "registry.key").read_bytes() == server_key
    assert ca_crt.read_bytes() == widened
    reissued = (tls / "registry.crt").read_bytes()
    assert reissued != cert_before

    # Check mode with the same name is quiet (the reissue happened once); with another permitted name it
    # reports the reissue and writes nothing.
    changed, out = play(lab, "--check", "-e",
                        '{"ca_server_extra_names": ["mirror.example.test", "o.mirror.example.test"], %s}' % wide)
    assert changed == 1 and "SANs differ: add DNS:o.mirror.example.test" in out
    assert (tls / "registry.crt").read_bytes() == reissued
    assert "DNS:mirror.example.test" not in out.split("SANs differ")[1].splitlines()[0]


def test_a_missing_ca_directory_is_not_replaced_silently(tmp_path):
    lab = make_lab(tmp_path)
    play(lab)
    cert = (tmp_path / "tls" / "registry.crt").read_bytes()
    shutil.rmtree(tmp_path / "ca")  # a fresh clone, a CI runner: the CA directory is not there
    proc = run_lab_playbook(lab)
    assert proc.returncode != 0
    assert "has no ca.key/ca.crt, but proxy1 already hold" in proc.stdout and "ca_force_rotate" in proc.stdout
    assert not (tmp_path / "ca" / "ca.key").exists()
    assert (tmp_path / "tls" / "registry.crt").read_bytes() == cert
    # deliberately: a new CA and new certificates
    play(lab, "-e", "ca_force_rotate=true")
    assert (tmp_path / "ca" / "ca.key").exists() and (tmp_path / "tls" / "registry.crt").read_bytes() != cert


def test_short_ca_passphrase_is_refused_before_anything_is_written(tmp_path):
    proc = run_lab_playbook(make_lab(tmp_path), "-e", '{"ca_key_passphrase": "short-pw"}')
    assert proc.returncode != 0
    assert "ca_key_passphrase must be empty" in proc.stdout and "at least 12 characters" in proc.stdout
    assert "short-pw" not in proc.stdout + proc.stderr
    assert not (tmp_path / "ca").exists() and not (tmp_path / "tls").exists()


def _certs(path):
    """The certificates of a PEM bundle, as cryptography objects."""
    from ansible_collections.dockyard.registry.plugins.module_utils import _x509  # pylint: disable=import-outside-toplevel
    text = path.read_text()
    parts = ["-----BEGIN CERTIFICATE-----" + p for p in text.split("-----BEGIN CERTIFICATE-----")[1:]]
    return [_x509.load_certificate(p) for p in parts]


def test_ca_rotation_steps(tmp_path):
    """prepare: both CAs trusted, certificates unchanged; switch: reissued by the next CA; finish:
    the next CA is the CA, the old one retired, only the new one trusted. Each step is idempotent."""
    from ansible_collections.dockyard.registry.plugins.module_utils import _x509  # pylint: disable=import-outside-toplevel
    lab = make_lab(tmp_path)
    play(lab)
    ca_dir, tls = tmp_path / "ca", tmp_path / "tls"
    old_ca = _x509.load_certificate((ca_dir / "ca.crt").read_bytes())
    leaf = (tls / "registry.crt").read_bytes()
    client_leaf = (tls / "proxy-client.crt").read_bytes()

    play(lab, "-e", "step=prepare")
    assert (ca_dir / "next" / "ca.key").stat().st_mode & 0o777 == 0o600
    new_ca = _x509.load_certificate((ca_dir / "next" / "ca.crt").read_bytes())
    assert [c.fingerprint(new_ca.signature_hash_algorithm) for c in _certs(tls / "ca.crt")] == \
        [c.fingerprint(new_ca.signature_hash_algorithm) for c in (old_ca, new_ca)]
    assert len(_certs(ca_dir / "trust-bundle.crt")) == 2
    assert (tls / "registry.crt").read_bytes() == leaf  # still issued by the current CA
    assert _x509.constraints.of_certificate(new_ca) == _x509.constraints.of_certificate(old_ca)
    changed, _out = play(lab, "-e", "step=prepare")
    assert changed == 0

    play(lab, "-e", "step=switch")
    for name in ("registry", "proxy-client"):
        cert = _x509.load_certificate((tls / f"{name}.crt").read_bytes())
        assert _x509.is_issued_by(cert, new_ca) and not _x509.is_issued_by(cert, old_ca), name
    assert (tls / "proxy-client.crt").read_bytes() != client_leaf
    changed, _out = play(lab, "-e", "step=switch")
    assert changed == 0

    play(lab, "-e", "step=finish")
    assert _x509.load_certificate((ca_dir / "ca.crt").read_bytes()).fingerprint(new_ca.signature_hash_algorithm) == \
        new_ca.fingerprint(new_ca.signature_hash_algorithm)
    assert not (ca_dir / "next").exists()
    retired = list((ca_dir / "retired").iterdir())
    assert len(retired) == 1 and (retired[0] / "ca.key").exists()
    assert len(_certs(tls / "ca.crt")) == 1 and len(_certs(ca_dir / "trust-bundle.crt")) == 1
    changed, _out = play(lab)
    assert changed == 0
    if shutil.which("openssl"):
        assert openssl("verify", "-CAfile", str(ca_dir / "ca.crt"), str(tls / "registry.crt")).strip().endswith(": OK")
