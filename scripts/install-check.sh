#!/usr/bin/env bash
# The built collection tarball installs offline and its content works by FQCN from a playbook
# outside this checkout (no ansible.cfg, no .cache link): modules, filters, a lookup and a role.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
TARBALL=$(ls -t .cache/dist/dockyard-registry-*.tar.gz | head -1)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dockyard-install.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
unset ANSIBLE_CONFIG
export ANSIBLE_COLLECTIONS_PATH="$WORK/collections" ANSIBLE_NOCOLOR=1
# Dependencies (community.docker) come from the `ansible` bundle in the venv, not from Galaxy.
"$REPO/.venv/bin/ansible-galaxy" collection install --offline --no-deps -p "$WORK/collections" "$REPO/$TARBALL" >/dev/null
"$REPO/.venv/bin/ansible-galaxy" collection list dockyard.registry -p "$WORK/collections" | grep -q 'dockyard.registry'
for plugin in htpasswd x509_ca x509_csr x509_sign registry_check nginx_build_info; do
  "$REPO/.venv/bin/ansible-doc" "dockyard.registry.$plugin" >/dev/null
done
"$REPO/.venv/bin/ansible-doc" -t filter dockyard.registry.registry_host >/dev/null
cat > play.yml <<'PLAY'
- name: Use dockyard.registry by FQCN from an installed tarball
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    dir: "{{ playbook_dir }}/out"
    nginx_blob_cache: maybe  # the lookup finds the installed roles' argument specs
  tasks:
    - name: Write an htpasswd file
      dockyard.registry.htpasswd:
        path: "{{ dir }}/htpasswd"
        users: [{name: ci, password: s3cret-password}]
        hash_scheme: sha512_crypt
        create: true
      register: first
    - name: Again (idempotent)
      dockyard.registry.htpasswd:
        path: "{{ dir }}/htpasswd"
        users: [{name: ci, password: s3cret-password}]
        hash_scheme: sha512_crypt
      register: second
    - name: A CA
      dockyard.registry.x509_ca:
        privatekey_path: "{{ dir }}/ca.key"
        certificate_path: "{{ dir }}/ca.crt"
    - name: Checks
      ansible.builtin.assert:
        that:
          - first is changed
          - second is not changed
          - "'registry.example.com' | dockyard.registry.registry_host(443) == 'registry.example.com'"
          - "'registry.example.com' | dockyard.registry.registry_host(5043) == 'registry.example.com:5043'"
          - lookup('ansible.builtin.file', dir ~ '/ca.crt') is search('BEGIN CERTIFICATE')
          - query('dockyard.registry.scalar_problems', 'nginx') | select('search', '^nginx_blob_cache must be a boolean') | list | length == 1
PLAY
mkdir -p out
"$REPO/.venv/bin/ansible-playbook" -i localhost, -e ansible_python_interpreter="$REPO/.venv/bin/python" play.yml > play.log 2>&1 || { cat play.log; exit 1; }
# Roles and playbooks come along.
for role in ca nginx registry client_trust; do
  test -f "$WORK/collections/ansible_collections/dockyard/registry/roles/$role/meta/argument_specs.yml"
done
"$REPO/.venv/bin/ansible-playbook" --syntax-check -i localhost, "$WORK/collections/ansible_collections/dockyard/registry/playbooks/site.yml" >/dev/null
echo "install check: $(basename "$TARBALL") installs offline; modules, filters, roles and playbooks work by FQCN"
