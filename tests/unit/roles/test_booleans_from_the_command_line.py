# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Booleans given as strings on the command line behave as the booleans they spell (issue 16).

The four roles run in check mode with --diff on this machine (local connection, every path under a
temporary directory, nothing written): once with every boolean variable of every role given as
``-e name=<spelling of true>`` (true, True, yes, on, 1, ...), once as ``-e name=<spelling of false>``,
and once each with real JSON booleans. The string runs must equal the boolean runs task for task:
same tasks run, changed or skipped, same rendered files (the --diff of nginx.conf, the unit, the
logrotate file, hosts.toml; registry's config.yml and its checksum), same messages. The boolean runs themselves must
differ where the switches matter (``nginx_blob_cache=false`` renders no ``proxy_cache_path``).

A value that is no boolean stops the run in preflight before anything changes: through
playbooks/site.yml (the collection-wide check in playbooks/validate.yml, before the ca play) and
through a role used alone (its own preflight).

The registry role talks to this machine's Docker engine (read-only in check mode: it inspects the
image and a container named ``dockyard-bool-test``); without a reachable engine the test skips.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from ansible_collections.dockyard.registry.tests.harness import REPO, ansible_tool
from ansible_collections.dockyard.registry.tests.unit.roles.test_ca_role_local import run_lab_playbook

pytestmark = pytest.mark.slow


def run_playbook(lab, playbook, *extra, env=None):
    """ansible-playbook with the lab's inventory (``run_lab_playbook`` of test_ca_role_local)."""
    return run_lab_playbook(lab, *extra, playbook=playbook, timeout=900, env=env)


ROLES = ("ca", "nginx", "registry", "client_trust")
# client_trust's runtime switches are true, false or auto (type raw): their booleans are tested too.
TRI_STATES = ("client_trust_docker", "client_trust_containers", "client_trust_containerd")
SHARED_BOOLS = ("dockyard_no_log",)
TRUE_SPELLINGS = ("true", "True", "yes", "on", "1", "TRUE", "Yes", "ON")
FALSE_SPELLINGS = ("false", "False", "no", "off", "0", "FALSE", "No", "OFF")


def _spec_bools(role):
    options = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return [name for name, spec in options["argument_specs"]["main"]["options"].items() if spec.get("type") == "bool"]


BOOLS = [name for role in ROLES for name in _spec_bools(role)] + list(TRI_STATES) + list(SHARED_BOOLS)
# Switches the roles refuse together (preflight): in the "all true" runs each key here stays false
# while the switch it excludes is on (a false spelling in the string run, a real false in the
# other), so both runs still give the same inputs. (The token switch is on in the default molecule
# scenario, set from dockyard_auth_mode.)
EXCLUSIVE = {"registry_auth_token_enabled": "registry_auth_htpasswd_enabled"}


def _polar(name, polarity):
    return polarity and name not in EXCLUSIVE

INVENTORY = """
all:
  vars:
    dockyard_registry_name: registry.bool.test
    dockyard_registry_users: [{{name: ci, password: bool-test-password-0123}}]
    dockyard_ca_dir: {tmp}/ca
    dockyard_tls_dir: {tmp}/tls
    dockyard_http_secret: a-shared-secret-for-the-bool-test-0123
  children:
    registry_proxy:
      hosts:
        boolhost:
          ansible_connection: local
          ansible_host: 127.0.0.1
          ansible_python_interpreter: {python}
          ansible_become_method: su
    registry_backends:
      hosts:
        boolhost:
    registry_clients:
      hosts:
        boolhost:
"""

NGINX_ALONE = """
- name: nginx alone
  hosts: boolhost
  gather_facts: false
  vars:
    nginx_prefix: {tmp}/nginx
    nginx_backends:
      - {{name: b1, address: 192.0.2.11, port: 5000}}
  roles:
    - dockyard.registry.nginx
"""

# Only paths and names are set here, never a boolean: play vars would hide the -e values' types.
PLAYS = """
- name: ca
  hosts: boolhost
  gather_facts: false
  vars:
    ca_reload_service: ""
  roles:
    - dockyard.registry.ca

- name: nginx
  hosts: boolhost
  gather_facts: false
  vars:
    nginx_prefix: {tmp}/nginx
    nginx_service_name: dockyard-bool-test-nginx
    nginx_pid_file: {tmp}/nginx.pid
    nginx_error_log: {tmp}/log/error.log
    nginx_access_log: {tmp}/log/access.log
    nginx_blob_cache_path: {tmp}/cache
    nginx_user: dockyard-bool-test
    nginx_group: dockyard-bool-test
    nginx_backends:
      - {{name: b1, address: 192.0.2.11, port: 5000}}
  roles:
    - dockyard.registry.nginx

- name: registry
  hosts: boolhost
  gather_facts: false
  vars:
    registry_container_name: dockyard-bool-test
    registry_listen_address: 127.0.0.1
    registry_port: 15999
    registry_debug_port: 15998
    registry_config_dir: {tmp}/registry
    registry_filesystem_host_dir: {tmp}/registry-data
  roles:
    - dockyard.registry.registry
  post_tasks:
    # config.yml is written with no_log and without diff (secrets): show it here (test secrets only),
    # with the checksum the role labels the container with.
    - name: Show the registry configuration the role rendered
      ansible.builtin.debug:
        msg:
          sha256: "{{{{ __registry_config_sha256 }}}}"
          config: "{{{{ __registry_params | dockyard.registry.registry_config(registry_version) }}}}"

- name: client_trust
  hosts: boolhost
  gather_facts: false
  vars:
    client_trust_ca_name: dockyard-bool-test-ca
    client_trust_docker_certs_dir: {tmp}/docker-certs.d
    client_trust_containers_certs_dir: {tmp}/containers-certs.d
    client_trust_containerd_certs_dir: {tmp}/containerd-certs.d
    client_trust_etc_hosts_address: 192.0.2.10
    client_trust_login_config_path: {tmp}/docker-config.json
  roles:
    - dockyard.registry.client_trust
"""


def _docker_reachable():
    docker = shutil.which("docker")
    return bool(docker) and subprocess.run([docker, "info"], capture_output=True, check=False,
                                           timeout=60).returncode == 0


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not Path(ansible_tool("ansible-playbook")).exists():
        pytest.skip("ansible-playbook is not installed")
    if not _docker_reachable():
        pytest.skip("the registry role needs a reachable Docker engine (docker info failed)")
    tmp = tmp_path_factory.mktemp("booleans")
    work = tmp / "w"  # the roles' paths: nothing may appear there (check mode)
    (tmp / "inventory.yml").write_text(INVENTORY.format(tmp=work, python=sys.executable))
    (tmp / "site.yml").write_text(PLAYS.format(tmp=work))
    (tmp / "nginx.yml").write_text(NGINX_ALONE.format(tmp=work))
    return tmp


def _outcome(result):
    if result.get("skipped"):
        return "skipped"
    if result.get("failed"):
        return "failed"
    return "changed" if result.get("changed") else "ok"


_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _stable(value):
    """The value without what differs between two identical runs (times of day, temp file names)."""
    if isinstance(value, str):
        return _TIMESTAMP.sub("<time>", value)
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if not k.endswith("_header")}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _rendered(result):
    """What a task would write (--diff) or say (debug), per loop item."""
    diffs = result.get("diff") or []
    if isinstance(diffs, dict):
        diffs = [diffs]
    shown = [_stable(d) for d in diffs]
    msg = _stable(result.get("msg")) if result.get("action") == "ansible.builtin.debug" else None
    return {"outcome": _outcome(result), "diff": shown, "msg": msg,
            "items": [_rendered(item) for item in result.get("results", [])]}


def _summary(report):
    """Task by task: (play, task) -> outcome, diff and debug message of the one host."""
    summary = []
    for play in report["plays"]:
        for task in play["tasks"]:
            for result in task["hosts"].values():
                summary.append(((play["play"]["name"], task["task"]["name"]), _rendered(result)))
    return summary


def _run(lab, *extra):
    proc = run_playbook(lab, lab / "site.yml", "--check", "--diff", *extra,
                        env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"})
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return _summary(json.loads(proc.stdout))


def variants(lab):
    """The -e arguments of the four runs: strings and real booleans, all true and all false."""
    (lab / "true.json").write_text(json.dumps({name: _polar(name, True) for name in BOOLS}))
    (lab / "false.json").write_text(json.dumps({name: False for name in BOOLS}))
    strings_true = [arg for i, name in enumerate(BOOLS)
                    for arg in ("-e", "%s=%s" % (name, (TRUE_SPELLINGS if _polar(name, True) else FALSE_SPELLINGS)[
                        i % len(TRUE_SPELLINGS)]))]
    strings_false = [arg for i, name in enumerate(BOOLS)
                     for arg in ("-e", "%s=%s" % (name, FALSE_SPELLINGS[i % len(FALSE_SPELLINGS)]))]
    return {
        "strings_true": strings_true, "bools_true": ["-e", "@%s" % (lab / "true.json")],
        "strings_false": strings_false, "bools_false": ["-e", "@%s" % (lab / "false.json")],
    }


def run_variants(lab, keys=None):
    """Check-mode runs of the variants, two at a time (the machine has two cores)."""
    args = variants(lab)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {key: pool.submit(_run, lab, *args[key]) for key in keys or args}
        return {key: future.result() for key, future in futures.items()}


@pytest.fixture(scope="module")
def runs(lab):
    return run_variants(lab)


def _differences(left, right):
    if [key for key, _ in left] != [key for key, _ in right]:
        return ["task lists differ:\n%s\n%s" % ([k for k, _ in left], [k for k, _ in right])]
    return ["%s: %r != %r" % (key, a, b) for (key, a), (_, b) in zip(left, right) if a != b]


def _task(summary, task_name):
    found = [value for (_, name), value in summary if name.split(" : ", 1)[-1] == task_name]
    assert found, task_name
    return found[0]


def _after(summary, task_name):
    return "".join(str(d.get("after") or "") for d in _task(summary, task_name)["diff"])


@pytest.mark.parametrize("polarity", ["true", "false"])
def test_string_booleans_run_exactly_like_real_booleans(runs, polarity):
    strings, bools = runs["strings_" + polarity], runs["bools_" + polarity]
    problems = _differences(strings, bools)
    assert problems == [], "\n".join(problems)


def test_the_switches_matter_so_the_comparison_means_something(runs):
    on, off = runs["bools_true"], runs["bools_false"]
    conf_on, conf_off = _after(on, "Write nginx.conf (tested with nginx -t before it replaces the old one)"), \
        _after(off, "Write nginx.conf (tested with nginx -t before it replaces the old one)")
    assert "proxy_cache_path" in conf_on and "proxy_cache_path" not in conf_off  # nginx_blob_cache
    assert "Strict-Transport-Security" in conf_on and "Strict-Transport-Security" not in conf_off  # nginx_hsts
    assert "auth_basic " in conf_on and "auth_basic " not in conf_off  # nginx_auth_basic
    assert "location = /_ping" in conf_on and "location = /_ping" not in conf_off  # nginx_legacy_ping_locations
    assert "stub_status" in conf_on and "stub_status" not in conf_off  # nginx_status_enabled
    assert "multi_accept on;" in conf_on and "multi_accept off;" in conf_off
    assert _task(on, "Create the blob cache directory")["outcome"] == "changed"
    assert _task(off, "Create the blob cache directory")["outcome"] == "skipped"
    assert _task(on, "Write the logrotate configuration")["outcome"] == "changed"
    assert _task(off, "Write the logrotate configuration")["outcome"] == "skipped"
    assert _task(on, "Remove the logrotate configuration")["outcome"] == "skipped"
    assert _task(off, "Remove the logrotate configuration")["outcome"] == "ok"
    registry_on = _task(on, "Show the registry configuration the role rendered")["msg"]["config"]
    registry_off = _task(off, "Show the registry configuration the role rendered")["msg"]["config"]
    assert registry_on["storage"]["delete"]["enabled"] is True and registry_off["storage"]["delete"]["enabled"] is False
    assert registry_on["storage"]["redirect"]["disable"] is True and registry_off["storage"]["redirect"]["disable"] is False
    assert "auth" in registry_on and "auth" not in registry_off  # registry_auth_htpasswd_enabled
    assert "debug" in registry_on["http"] and "debug" not in registry_off["http"]  # registry_debug_enabled
    assert _task(on, "Check the backend authentication inputs")["outcome"] == "ok"  # registry_auth_htpasswd_enabled
    assert _task(off, "Check the backend authentication inputs")["outcome"] == "skipped"
    assert _task(on, "Map the registry name to its address in /etc/hosts")["outcome"] == "changed"  # client_trust_etc_hosts
    assert _task(off, "Map the registry name to its address in /etc/hosts")["outcome"] == "skipped"
    assert _task(on, "Install the CA certificate as a trust anchor")["outcome"] == "changed"  # client_trust_system
    assert _task(off, "Install the CA certificate as a trust anchor")["outcome"] == "skipped"
    runtimes_on = _task(on, "Install the CA certificate in the registry's certs.d directories")["items"]
    runtimes_off = _task(off, "Install the CA certificate in the registry's certs.d directories")["items"]
    assert len(runtimes_on) == 3 and runtimes_off == []  # client_trust_docker/containers/containerd


def _recap(stdout):
    return dict(re.findall(r"^(\S+)\s*:\s*ok=\d+\s+changed=(\d+)", stdout, re.MULTILINE))


def test_a_bad_boolean_stops_site_yml_before_any_play_changes_anything(lab):
    """playbooks/validate.yml runs first and checks every role's booleans and numbers."""
    proc = run_playbook(lab, REPO / "playbooks" / "site.yml", "-e", "nginx_blob_cache=maybe")
    assert proc.returncode != 0
    before_failure = proc.stdout[:proc.stdout.index("fatal:")]
    assert before_failure.count("TASK [") == 1  # the first task of the first play failed
    assert "TASK [Booleans and numbers set in the inventory or with -e are booleans and numbers]" in before_failure
    assert "nginx_blob_cache must be a boolean: true or false (yes/no, on/off, 1/0, any case), got 'maybe'" \
        in " ".join(proc.stdout.split())
    assert "PLAY [Private CA" not in proc.stdout and "PLAY [Certificates" not in proc.stdout
    assert set(_recap(proc.stdout).values()) == {"0"}
    assert not (lab / "w").exists()


@pytest.mark.parametrize("argument, message", [
    # argument-spec validation reads "y" as true, `| bool` as false: the role's preflight refuses it
    ("nginx_blob_cache=y", "nginx_blob_cache must be a boolean: true or false (yes/no, on/off, 1/0, any case), got 'y'"),
    ("nginx_worker_connections=1e3", "nginx_worker_connections must be an integer, got '1e3'"),
])
def test_a_role_alone_refuses_in_preflight_what_bool_and_int_would_misread(lab, argument, message):
    proc = run_playbook(lab, lab / "nginx.yml", "-e", argument)
    assert proc.returncode != 0
    assert "Check that booleans and numbers are booleans and numbers" in proc.stdout
    assert message in " ".join(proc.stdout.split())
    assert _recap(proc.stdout) == {"boolhost": "0"}
    assert not (lab / "w").exists()
