#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nginx_build_info
short_description: Tell whether nginx built from source must be (re)built
version_added: 0.1.0
description:
  - Runs C(<prefix>/sbin/nginx -V) when that binary exists and reads the version and the
    C(configure arguments) it was built with (nginx prints them on standard error).
  - Compares them with the wanted O(version) and O(configure_args) and returns RV(needs_build)
    and a one-line RV(reason). A rebuild is needed only when the binary is missing or unreadable,
    the version differs, or the configure arguments differ.
  - Configure arguments are compared the way C(configure) reads them, not as strings. Flags such as
    C(--with-http_ssl_module) may appear in any order and repeated; for C(--name=value) options the
    last one counts; C(--add-module) and C(--add-dynamic-module) keep their order because module
    order matters.
  - Changes nothing on the host, so it runs in check mode too.
author:
  - dockyard.registry maintainers (@dockyard)
extends_documentation_fragment:
  - dockyard.registry.read_only
options:
  prefix:
    description:
      - Installation prefix nginx was configured with (C(--prefix)).
      - The binary is looked up as C(<prefix>/sbin/nginx) unless O(binary) is set.
    type: path
    default: /opt/nginx
  binary:
    description:
      - Path of the nginx binary to inspect, when it is not C(<prefix>/sbin/nginx).
    type: path
  version:
    description: nginx release that should be installed, for example C(1.26.3).
    type: str
    required: true
  configure_args:
    description:
      - The full list of arguments the wanted build passes to C(./configure), including
        C(--prefix), C(--user) and C(--group).
    type: list
    elements: str
    required: true
seealso:
  - name: nginx configure options
    description: What each C(--with-*) option does.
    link: https://nginx.org/en/docs/configure.html
notes:
  - The dockyard.registry.nginx role runs this module first and builds only when RV(needs_build) is true.
"""

EXAMPLES = r"""
- name: Decide whether nginx needs a build
  dockyard.registry.nginx_build_info:
    prefix: /opt/nginx
    version: 1.26.3
    configure_args:
      - --prefix=/opt/nginx
      - --user=www
      - --group=www
      - --with-pcre
      - --with-http_ssl_module
  register: nginx_build

- name: Show why
  ansible.builtin.debug:
    msg: "{{ nginx_build.reason }}"
  when: nginx_build.needs_build
"""

RETURN = r"""
binary:
  description: The binary that was inspected.
  returned: always
  type: str
  sample: /opt/nginx/sbin/nginx
installed:
  description: Whether the binary exists.
  returned: always
  type: bool
  sample: true
installed_version:
  description: Version the installed binary reports; V(null) when there is none or it cannot be read.
  returned: always
  type: str
  sample: 1.26.3
installed_configure_args:
  description: Configure arguments of the installed binary, split as the shell split them.
  returned: always
  type: list
  elements: str
  sample: [--prefix=/opt/nginx, --user=www, --group=www, --with-http_ssl_module]
needs_build:
  description: Whether the wanted build differs from the installed one (or nothing usable is installed).
  returned: always
  type: bool
  sample: false
reason:
  description: One line saying why a build is or is not needed.
  returned: always
  type: str
  sample: "installed nginx 1.22.1, wanted 1.26.3"
wanted_version:
  description: The O(version) asked for.
  returned: always
  type: str
  sample: 1.26.3
wanted_configure_args:
  description: The O(configure_args) asked for.
  returned: always
  type: list
  elements: str
  sample: [--prefix=/opt/nginx, --user=www, --group=www, --with-http_ssl_module]
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dockyard.registry.plugins.module_utils._nginx import needs_build, parse_nginx_v


def run_module(module):
    params = module.params
    binary = params["binary"] or os.path.join(params["prefix"], "sbin", "nginx")
    result = {
        "changed": False,
        "binary": binary,
        "installed": False,
        "installed_version": None,
        "installed_configure_args": [],
        "wanted_version": params["version"],
        "wanted_configure_args": params["configure_args"],
    }
    output = None
    if os.path.exists(binary):
        result["installed"] = True
        rc, out, err = module.run_command([binary, "-V"])
        output = (out or "") + (err or "")
        if rc != 0:
            output = "exit code %d: %s" % (rc, output.strip())
        else:
            try:
                parsed = parse_nginx_v(output)
            except ValueError:
                pass
            else:
                result["installed_version"] = parsed.version
                result["installed_configure_args"] = parsed.configure_args
    try:
        result["needs_build"], result["reason"] = needs_build(output, params["version"], params["configure_args"])
    except ValueError as exc:
        module.fail_json(msg=str(exc), **result)
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            prefix=dict(type="path", default="/opt/nginx"),
            binary=dict(type="path"),
            version=dict(type="str", required=True),
            configure_args=dict(type="list", elements="str", required=True),
        ),
        supports_check_mode=True,
    )
    run_module(module)


if __name__ == "__main__":
    main()
