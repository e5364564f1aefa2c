#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: container_engine_info
short_description: Tell whether a container engine answers on a host, and what to install if not
version_added: 0.2.0
description:
  - Asks the Docker API at O(docker_host) for C(/_ping) and C(/version) with the Python standard
    library only, so it runs on a bare host where neither Docker nor the Python C(requests) library
    (which the community.docker modules need) is installed yet.
  - Looks for the engine programs (C(dockerd), C(podman)) and checks whether C(requests) imports.
  - Returns RV(action) - C(none), C(install) (with RV(install_packages)) or C(fail) (with a
    RV(message) naming the host, the endpoint it tried and the variable that turns installation on)
    - decided from O(install), O(packages) and O(python_packages). An engine that is installed but
    does not answer is reported, never started or reconfigured.
  - Changes nothing on the host, so it runs in check mode too.
author:
  - dockyard.registry maintainers (@dockyard)
extends_documentation_fragment:
  - dockyard.registry.read_only
options:
  docker_host:
    description: The engine's API endpoint, as the community.docker modules take it (C(unix://) or C(tcp://)).
    type: str
    default: unix:///var/run/docker.sock
  timeout:
    description: Seconds to wait for the engine's answer.
    type: float
    default: 5
  install:
    description: Whether the caller may install what is missing (decides between RV(action=install) and RV(action=fail)).
    type: bool
    default: true
  packages:
    description: Packages that provide the engine, installed when no engine is installed.
    type: list
    elements: str
    default: [docker.io]
  python_packages:
    description: Packages that provide the Python C(requests) library.
    type: list
    elements: str
    default: [python3-requests]
  install_variable:
    description: Name of the variable that turns installation on, for the failure message.
    type: str
    default: registry_engine_install
notes:
  - The dockyard.registry.registry role runs this module in its preflight.
"""

EXAMPLES = r"""
- name: Is Docker there?
  dockyard.registry.container_engine_info:
    install: false
  register: engine

- name: Stop with the reason
  ansible.builtin.fail:
    msg: "{{ engine.message }}"
  when: engine.action == 'fail'
"""

RETURN = r"""
endpoint:
  description: The endpoint that was asked.
  returned: always
  type: str
  sample: unix:///var/run/docker.sock
reachable:
  description: Whether the engine answered C(/_ping) with C(OK).
  returned: always
  type: bool
error:
  description: Why the engine did not answer (null when it did).
  returned: always
  type: str
server_version:
  description: The engine's version from C(/version).
  returned: always
  type: str
  sample: 20.10.24+dfsg1
binaries:
  description: Path of each engine and client program found, or null.
  returned: always
  type: dict
  sample: {dockerd: /usr/sbin/dockerd, podman: null, docker: /usr/bin/docker}
requests:
  description: Whether the Python C(requests) library imports with this interpreter.
  returned: always
  type: bool
action:
  description: C(none), C(install) or C(fail).
  returned: always
  type: str
install_packages:
  description: Packages to install when RV(action=install).
  returned: always
  type: list
  elements: str
start_engine:
  description: Whether the engine must be enabled and started after the installation.
  returned: always
  type: bool
message:
  description: One line saying what is missing and what to do (empty when RV(action=none)).
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dockyard.registry.plugins.module_utils import _container_engine as engine


def main():
    module = AnsibleModule(
        argument_spec=dict(
            docker_host=dict(type="str", default=engine.DEFAULT_DOCKER_HOST),
            timeout=dict(type="float", default=5.0),
            install=dict(type="bool", default=True),
            packages=dict(type="list", elements="str", default=["docker.io"]),
            python_packages=dict(type="list", elements="str", default=["python3-requests"]),
            install_variable=dict(type="str", default="registry_engine_install"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        state = engine.probe(p["docker_host"], timeout=p["timeout"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    state["binaries"] = engine.find_binaries(engine.ENGINE_BINARIES + engine.CLIENT_BINARIES)
    state["requests"] = engine.has_requests()
    decision = engine.plan(None, state, p["install"], p["packages"], p["python_packages"],
                           var=p["install_variable"])
    module.exit_json(changed=False, **state, **decision)


if __name__ == "__main__":
    main()
