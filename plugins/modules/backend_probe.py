#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: backend_probe
short_description: Probe a registry backend the way the nginx proxy reaches it
version_added: 0.2.0
description:
  - Run on a proxy host, it connects to a backend exactly as nginx does, with HTTPS to the backend's
    address with SNI and certificate verification against O(server_name) (the name every backend
    certificate carries), presenting the proxy's client certificate, or plain HTTP when O(tls) is
    false. Run on a backend host against the registry's debug server, it reads C(/debug/health).
  - Each of O(checks) is one request; RV(ok) is true when every one passed. The module itself fails
    only on bad input, so it can be retried with C(until).
  - V(api) C(GET /v2/) expects 200 or 401 with C(Docker-Distribution-Api-Version registry/2.0) (the
    registry answers 503 while one of its health checks fails). V(storage) C(GET /v2/_catalog?n=1)
    expects 200 (the registry listed its storage). V(readonly) starts an upload and expects the
    read-only answer (405, C(Allow) without POST); an upload a writable backend accepted is cancelled.
    V(debug_health) C(GET /debug/health) expects 200 and C({}).
author:
  - dockyard.registry maintainers (@dockyard)
attributes:
  check_mode:
    description:
      - Runs in check mode too; the V(readonly) check is skipped there (it may start an upload).
      - Certificate files that do not exist yet (a fresh host) give RV(ok=false) instead of a failure.
    support: full
  diff_mode:
    description: Nothing to diff.
    support: none
  idempotent:
    description: Reports no change.
    support: full
options:
  address:
    description: Address of the backend (as in the proxy's upstream).
    type: str
    required: true
  port:
    description: Port of the backend (or of its debug server).
    type: int
    required: true
  tls:
    description: Connect with TLS (mutual TLS when O(client_cert) is set).
    type: bool
    default: false
  server_name:
    description: Name used for SNI and for the certificate check (C(dockyard_backend_tls_name)).
    type: str
  ca_path:
    description: CA bundle that signs the backend certificates.
    type: path
  client_cert:
    description: Client certificate the proxy presents (PEM).
    type: path
  client_key:
    description: Key of O(client_cert).
    type: path
  checks:
    description: What to ask, in order.
    type: list
    elements: str
    choices: [api, debug_health, readonly, storage]
    default: [api]
  repository:
    description: Repository name the V(readonly) check starts an upload in.
    type: str
    default: dockyard/readonly-probe
  username:
    description: User for a backend that asks for credentials itself.
    type: str
  password:
    description: Password of O(username).
    type: str
  timeout:
    description: Seconds for each request.
    type: float
    default: 5
"""

EXAMPLES = r"""
- name: Probe backend1 from every proxy through the path nginx uses
  dockyard.registry.backend_probe:
    address: 10.0.0.11
    port: 5000
    tls: true
    server_name: backends.registry.example.com
    ca_path: /etc/dockyard/tls/ca.crt
    client_cert: /etc/dockyard/tls/proxy-client.crt
    client_key: /etc/dockyard/tls/proxy-client.key
    checks: [api, storage]
  delegate_to: "{{ item }}"
  loop: "{{ groups['registry_proxy'] }}"
  register: probe
  until: probe.ok
  retries: 30
  delay: 1
"""

RETURN = r"""
ok:
  description: Whether every check passed.
  returned: always
  type: bool
results:
  description: One entry per check with C(check), C(method), C(path), C(status), C(passed) and C(detail).
  returned: always
  type: list
  elements: dict
msg:
  description: One line summing up the checks.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dockyard.registry.plugins.module_utils import _backend_probe


def run_module(module):
    params = module.params
    try:
        target = _backend_probe.host_for_url(params["address"])
        context = None
        if params["tls"]:
            context = _backend_probe.ssl_context(params["ca_path"], params["client_cert"], params["client_key"])
    except OSError as exc:
        if module.check_mode:
            # Check mode on a fresh proxy: the ca role only pretended to write the certificates.
            module.exit_json(changed=False, ok=False, results=[],
                             msg="check mode: %s:%s not probed (%s)" % (params["address"], params["port"], exc))
        module.fail_json(msg="cannot set up the probe of %s:%s: %s" % (params["address"], params["port"], exc))
    except ValueError as exc:
        module.fail_json(msg="cannot set up the probe of %s:%s: %s" % (params["address"], params["port"], exc))
    authorization = _backend_probe.basic_auth(params["username"], params["password"])
    results = []
    for check in params["checks"]:
        if check == "readonly" and module.check_mode:
            results.append({"check": check, "passed": True, "status": None, "detail": "skipped in check mode"})
            continue
        results.append(_backend_probe.run_check(
            check, params["address"], params["port"], tls=params["tls"], server_name=params["server_name"],
            context=context, timeout=params["timeout"], repository=params["repository"],
            authorization=authorization))
    ok = all(r["passed"] for r in results)
    scheme = "https" if params["tls"] else "http"
    details = "; ".join("%s %s" % (r["check"], r["detail"]) for r in results)
    msg = "%s://%s:%d: %s" % (scheme, target, params["port"], details)
    module.exit_json(changed=False, ok=ok, results=results, msg=msg)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            address=dict(type="str", required=True),
            port=dict(type="int", required=True),
            tls=dict(type="bool", default=False),
            server_name=dict(type="str"),
            ca_path=dict(type="path"),
            client_cert=dict(type="path"),
            client_key=dict(type="path", no_log=False),
            checks=dict(type="list", elements="str", default=["api"],
                        choices=sorted(_backend_probe.CHECKS)),
            repository=dict(type="str", default=_backend_probe.DEFAULT_REPOSITORY),
            username=dict(type="str"),
            password=dict(type="str", no_log=True),
            timeout=dict(type="float", default=5.0),
        ),
        required_by={"client_key": "client_cert"},
        supports_check_mode=True,
    )
    run_module(module)


if __name__ == "__main__":
    main()
