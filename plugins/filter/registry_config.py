# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter exposing the registry config.yml model of plugins/module_utils/_registry_config/."""

from __future__ import annotations

DOCUMENTATION = r"""
name: registry_config
short_description: Build (or check) a CNCF Distribution registry C(config.yml) from role inputs
version_added: 0.1.0
author: dockyard.registry maintainers
description:
  - Turns the inputs of the C(dockyard.registry.registry) role into the structure of the registry's
    C(config.yml) for a registry major version (2.x or 3.x), ready for P(ansible.builtin.to_nice_yaml#filter).
  - Branches on the major version where Distribution 2.x and 3.x differ. Aliyun OSS uses the native
    C(oss) driver on 2.x (as the recipe did) and the C(s3) driver at C(https://s3.oss-<region>[-internal].aliyuncs.com)
    in virtual-hosted style on 3.x; C(storage.s3.forcepathstyle), C(storage.tag) and
    C(storage.cache.blobdescriptorsize) are written for 3.x only; Redis uses C(addr) + C(pool) on 2.x and
    C(addrs) + C(poolsize)/C(maxidleconns)/C(connmaxidletime) on 3.x.
  - Refuses what a version cannot do (for example the native C(oss) driver on 3.x, or OSS through the C(s3)
    driver on 2.x, which forces path-style requests that OSS rejects) with a message naming the role variable.
  - With O(output=errors) it returns the list of problems instead of failing, for C(ansible.builtin.assert).
options:
  _input:
    description:
      - The role inputs, keyed by the role variable names without the C(registry_) prefix
        (C(storage_driver) is C(registry_storage_driver), C(storage_s3) is C(registry_storage_s3), and so on).
        The role assembles this dictionary as C(__registry_params) in C(roles/registry/vars/main.yml).
      - Besides the C(config.yml) inputs it may hold C(env) (container environment, checked for secrets and
        C(REGISTRY_*) overrides), C(backends) (the backend host names, to refuse unshareable storage) and,
        for O(output=errors), C(host) and C(lb_peers) (host name to O(output=fingerprint) result of every
        backend) to compare the storage, C(http.secret) and Redis cache of all backends.
    type: dict
    required: true
  version:
    description:
      - The registry release (C(2), C(3), C(2.8.3), C(3.0.0)), normally C(registry_version).
      - Empty means "derive it from the tag of C(image) in the input" (C(registry:3.0.0) is 3.x).
    type: raw
    default: ""
  output:
    description:
      - V(config) returns the C(config.yml) structure and fails listing every problem.
      - V(errors) returns the problems as a list of strings (empty when the inputs are valid).
      - V(fingerprint) returns SHA-256 digests of the storage inputs, the C(http.secret) and the Redis
        cache, which every backend behind the load balancer must share (digests only, never the secrets).
      - V(major_version) returns the registry major version as an integer.
      - V(version_errors) returns what V(major_version) would refuse as a list of strings (empty when
        C(image) and O(version) give a supported major version); it never fails, so a preflight
        C(ansible.builtin.assert) can report a bad C(registry_image)/C(registry_version) before any
        C(no_log) task needs the major version.
    type: str
    default: config
    choices: [config, errors, fingerprint, major_version, version_errors]
seealso:
  - name: Distribution registry configuration reference
    description: Every key of C(config.yml).
    link: https://distribution.github.io/distribution/about/configuration/
notes:
  - The output contains secrets (C(http.secret), storage keys). Write it with C(no_log) and without diff
    (C(diff=false) on the task).
  - Error messages name the variable and never echo a value that may hold a secret; URLs and
    addresses are shown with C(user:password@) and query strings hidden (C(https://***@host/path?***)).
"""

EXAMPLES = r"""
- name: Write config.yml (what roles/registry/templates/config.yml.j2 does)
  ansible.builtin.copy:
    content: "{{ __registry_params | dockyard.registry.registry_config(registry_version) | ansible.builtin.to_nice_yaml(indent=2, sort_keys=true) }}"
    dest: /etc/dockyard/registry/config.yml
    mode: "0600"
  no_log: true
  diff: false

- name: Aliyun OSS on a 3.x image becomes the s3 driver in virtual-hosted style
  ansible.builtin.debug:
    msg: "{{ (params | dockyard.registry.registry_config('3.0.0')).storage.s3.regionendpoint }}"
  vars:
    params:
      storage_driver: oss
      storage_oss: {accesskeyid: AKID, accesskeysecret: SECRET, region: oss-cn-beijing, bucket: images}
      http_secret: a-long-random-shared-secret
      listen_address: 10.0.0.11
  # -> https://s3.oss-cn-beijing.aliyuncs.com

- name: Fail with every problem at once, each naming its variable
  ansible.builtin.assert:
    that: __errors | length == 0
    fail_msg: "{{ __errors | join('\n') }}"
  vars:
    __errors: "{{ __registry_params | dockyard.registry.registry_config(registry_version, output='errors') }}"
"""

RETURN = r"""
_value:
  description:
    - With O(output=config), the C(config.yml) structure (C(version), C(log), C(storage), C(http), C(health)
      and, when configured, C(auth), C(notifications), C(redis)).
    - With O(output=errors), a list of messages; with O(output=fingerprint), a dict with the keys
      C(storage), C(http_secret) and C(redis); with O(output=major_version), C(2) or C(3).
  type: raw
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.registry.plugins.module_utils._registry_config import (
    build_config,
    config_errors,
    lb_fingerprint,
    major_version,
    version_errors,
)

_OUTPUTS = ("config", "errors", "fingerprint", "major_version", "version_errors")


def _plain(value):
    """Copy Ansible's (possibly tagged or lazy) containers into plain dicts and lists."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def registry_config(params, version="", output="config"):
    """See DOCUMENTATION."""
    if output not in _OUTPUTS:
        raise AnsibleFilterError("registry_config: output must be one of %s, got %r" % (", ".join(_OUTPUTS), output))
    if not isinstance(params, dict):
        raise AnsibleFilterError("registry_config: the input must be a dictionary, got %s" % type(params).__name__)
    params = _plain(params)
    try:
        if output == "errors":
            return config_errors(params, version)
        if output == "fingerprint":
            return lb_fingerprint(params)
        if output == "major_version":
            return major_version(params.get("image"), version)
        if output == "version_errors":
            return version_errors(params.get("image"), version)
        return build_config(params, version)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    """dockyard.registry registry config filters."""

    def filters(self):
        return {"registry_config": registry_config}
