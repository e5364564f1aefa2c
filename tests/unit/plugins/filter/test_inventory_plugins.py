"""The present_users and url_host filters and the shared_fact lookup, as playbooks use them."""

from __future__ import annotations

import json

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.registry.plugins.filter.inventory import present_users, url_host
from ansible_collections.dockyard.registry.tests.harness import run_playbook


def test_filters():
    assert present_users([{"name": "a", "state": "absent"}, {"name": "b"}]) == [{"name": "b"}]
    assert url_host("2001:db8::1") == "[2001:db8::1]"
    with pytest.raises(AnsibleFilterError, match="client_trust_users must be a list"):
        present_users("ci", "client_trust_users")


def test_shared_fact_lookup_in_a_play_pattern_and_a_task(tmp_path):
    (tmp_path / "inventory.ini").write_text(
        "[registry_proxy]\np1 ansible_connection=local\n[edge]\np2 ansible_connection=local\n"
        "[all:vars]\ndockyard_ca_dir={{ '/srv' ~ '/ca' }}\n")
    (tmp_path / "play.yml").write_text("""
- name: Pattern from the shared fact
  hosts: "{{ lookup('dockyard.registry.shared_fact', 'dockyard_proxy_group') }}"
  gather_facts: false
  tasks:
    - name: Show the facts
      ansible.builtin.debug:
        msg: "{{ {'host': inventory_hostname,
                  'ca': lookup('dockyard.registry.shared_fact', 'dockyard_ca_certificate_file'),
                  'backends': lookup('dockyard.registry.shared_fact', 'dockyard_backends_group')} | to_json }}"
""")

    def shown(*extra):
        res = run_playbook("-i", tmp_path / "inventory.ini", tmp_path / "play.yml", *extra,
                           env={"ANSIBLE_STDOUT_CALLBACK": "json"})
        assert res.returncode == 0, res.stdout + res.stderr
        tasks = json.loads(res.stdout)["plays"][0]["tasks"]
        return [json.loads(r["msg"]) for t in tasks for r in t["hosts"].values()]

    assert shown() == [{"host": "p1", "ca": "/srv/ca/trust-bundle.crt", "backends": "registry_backends"}]
    assert shown("-e", "dockyard_proxy_group=edge", "-e", "dockyard_backends_group=b") == \
        [{"host": "p2", "ca": "/srv/ca/trust-bundle.crt", "backends": "b"}]
