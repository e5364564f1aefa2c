# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for the dockyard.registry.registry_config filter and the role template that uses it."""

from __future__ import annotations

import copy
from pathlib import Path

import jinja2
import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible.plugins.filter.core import comment, to_nice_yaml

from ansible_collections.dockyard.registry.plugins.filter.registry_config import FilterModule, registry_config

REPO = Path(__file__).resolve().parents[4]
TEMPLATE = REPO / "roles" / "registry" / "templates" / "config.yml.j2"

F = FilterModule().filters()

PARAMS = {
    "host": "backend1",
    "image": "registry.internal:5000/dockyard/registry:2.8.2-debian",
    "backends": ["backend1", "backend2"],
    "env": {"OTEL_TRACES_EXPORTER": "none"},
    "network_mode": "bridge",
    "listen_address": "172.30.0.11",
    "port": 5000,
    "http_secret": "s" * 64,
    "public_url": "https://registry.lab.test",
    "headers": {"X-Content-Type-Options": ["nosniff"]},
    "storage_driver": "s3",
    "storage_s3": {
        "accesskey": "LAB", "secretkey": "lab-secret", "region": "us-east-1",
        "regionendpoint": "http://172.30.0.5:7480", "bucket": "registry", "secure": False,
    },
}


def render_template(params, version=""):
    """Render roles/registry/templates/config.yml.j2 as the template module does."""
    env = jinja2.Environment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters.update({"comment": comment, "to_nice_yaml": to_nice_yaml,
                        "dockyard.registry.registry_config": registry_config})
    return env.from_string(TEMPLATE.read_text()).render(
        __registry_params=params, registry_version=version, ansible_managed="Ansible managed")


def test_registered_names():
    assert sorted(F) == ["registry_config"]


def test_config_output():
    config = F["registry_config"](PARAMS)
    assert config["storage"]["s3"]["regionendpoint"] == "http://172.30.0.5:7480"
    assert "forcepathstyle" not in config["storage"]["s3"]  # 2.x: path style is implied
    config = F["registry_config"](PARAMS, "3.0.0")
    assert config["storage"]["s3"]["forcepathstyle"] is True


def test_errors_output():
    assert F["registry_config"](PARAMS, output="errors") == []
    broken = dict(PARAMS, storage_driver="oss", storage_oss={"region": "oss-cn-beijing", "bucket": "b"},
                  tag_concurrencylimit=3)
    errors = F["registry_config"](broken, "", output="errors")
    assert errors == [
        "registry_storage_oss: accesskeyid and accesskeysecret are required (vault them)",
        "registry_tag_concurrencylimit (storage.tag.concurrencylimit) exists only in registry 3.x; "
        "2.x would read storage.tag as a second storage driver and refuse to start",
    ]


def test_config_output_fails_with_every_problem():
    with pytest.raises(AnsibleFilterError) as info:
        F["registry_config"](dict(PARAMS, storage_driver="oss", storage_oss={"region": "x"}, log_level="x"), "3")
    assert str(info.value).splitlines()[0].startswith("registry_log_level must be one of")
    assert "registry_storage_oss" in str(info.value)


def test_native_oss_on_3x_is_refused():
    params = dict(PARAMS, storage_driver="oss", storage_oss={"accesskeyid": "a", "accesskeysecret": "b",
                                                             "region": "oss-cn-beijing", "bucket": "b", "api": "native"})
    with pytest.raises(AnsibleFilterError, match="'oss' with registry_storage_oss.api: native is not available in registry 3.x"):
        F["registry_config"](params, "3.0.0")


def test_fingerprint_output():
    fp = F["registry_config"](PARAMS, output="fingerprint")
    assert sorted(fp) == ["http_secret", "redis", "storage"]
    assert "lab-secret" not in str(fp)


def test_major_version_output():
    assert F["registry_config"]({"image": "registry:3.0.0"}, output="major_version") == 3
    assert F["registry_config"]({"image": "registry:latest"}, "2.8", output="major_version") == 2
    with pytest.raises(AnsibleFilterError, match="registry_version: cannot derive"):
        F["registry_config"]({"image": "registry:latest"}, "", output="major_version")


def test_lb_peers_through_the_filter():
    me = dict(PARAMS)
    other = dict(PARAMS, host="backend2", http_secret="t" * 64)
    peers = {"backend1": F["registry_config"](me, output="fingerprint"),
             "backend2": F["registry_config"](other, output="fingerprint"),
             "backend3": None}
    errors = F["registry_config"](dict(me, lb_peers=peers), output="errors")
    assert len(errors) == 1 and errors[0].startswith("registry_http_secret: backend1 would get a different http.secret than backend2")


def test_bad_arguments():
    with pytest.raises(AnsibleFilterError, match="output must be one of config, errors, fingerprint, major_version"):
        F["registry_config"](PARAMS, output="yaml")
    with pytest.raises(AnsibleFilterError, match="the input must be a dictionary"):
        F["registry_config"]("storage: s3")


def test_input_containers_are_copied():
    params = copy.deepcopy(PARAMS)
    config = F["registry_config"](params)
    config["storage"]["s3"]["bucket"] = "changed"
    assert params["storage_s3"]["bucket"] == "registry"


# ---------------------------------------------------------------------------------------------
# The role template, rendered and parsed back
# ---------------------------------------------------------------------------------------------


def test_template_renders_the_filter_output():
    text = render_template(PARAMS)
    assert text.startswith("#\n# Ansible managed\n#\n")
    assert yaml.safe_load(text) == F["registry_config"](PARAMS)


def test_template_is_deterministic_and_sorted():
    first = render_template(PARAMS)
    assert first == render_template(copy.deepcopy(PARAMS))
    top_level = [line.split(":")[0] for line in first.splitlines() if line and not line.startswith((" ", "#", "-"))]
    assert top_level == sorted(top_level) == ["health", "http", "log", "storage", "version"]


@pytest.mark.parametrize("version, driver_section", [
    ("2.8.3", {"oss": {"accesskeyid": "LTAI", "accesskeysecret": "k", "region": "oss-cn-shanghai", "bucket": "img"}}),
    ("3.0.0", {"s3": {"accesskey": "LTAI", "secretkey": "k", "region": "cn-shanghai",
                      "regionendpoint": "https://s3.oss-cn-shanghai.aliyuncs.com", "forcepathstyle": False,
                      "bucket": "img", "v4auth": True}}),
])
def test_template_oss_per_version(version, driver_section):
    params = dict(PARAMS, storage_driver="oss", storage_oss={"accesskeyid": "LTAI", "accesskeysecret": "k",
                                                             "region": "oss-cn-shanghai", "bucket": "img"})
    storage = yaml.safe_load(render_template(params, version))["storage"]
    assert {k: v for k, v in storage.items() if k in ("oss", "s3")} == driver_section


def test_template_quotes_awkward_secrets():
    params = dict(PARAMS, http_secret="#not-a-comment: {x} 'q' \"dq\" & *a", storage_s3=dict(PARAMS["storage_s3"], secretkey="0x1e3"))
    parsed = yaml.safe_load(render_template(params))
    assert parsed["http"]["secret"] == "#not-a-comment: {x} 'q' \"dq\" & *a"
    assert parsed["storage"]["s3"]["secretkey"] == "0x1e3"


@pytest.mark.parametrize("spelled, meant", [("false", False), ("False", False), ("no", False), ("0", False),
                                            ("off", False), (0, False), ("true", True), ("YES", True),
                                            ("on", True), ("1", True), (1, True)])
def test_booleans_given_as_strings_mean_the_boolean_they_spell(spelled, meant):
    """-e registry_delete_enabled=false reaches the filter as the string "false": it means false."""
    params = dict(PARAMS, delete_enabled=spelled, readonly=spelled, redirect_disable=spelled)
    storage = F["registry_config"](params, "3")["storage"]
    assert storage["delete"]["enabled"] is meant
    assert storage["redirect"]["disable"] is meant
    assert storage["maintenance"]["readonly"]["enabled"] is meant


def test_a_string_that_is_no_boolean_is_refused_naming_the_variable():
    with pytest.raises(AnsibleFilterError, match="registry_delete_enabled must be a boolean: true or false"):
        F["registry_config"](dict(PARAMS, delete_enabled="maybe"), "3")
