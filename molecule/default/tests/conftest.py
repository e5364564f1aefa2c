"""Shared helpers for the default scenario's testinfra verifiers.

Host names come from the scenario's inventory groups (registry_proxy, registry_backends,
registry_clients); registry name, users and access rules from its group_vars/all.yml.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
LAB = PROJECT / "lab"
sys.path.insert(0, str(PROJECT / ".cache" / "collections"))
from ansible_collections.dockyard.registry.tests.harness import run_playbook as _run_playbook  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.dockyard.registry.tests.lab_hosts import lab_host, sh  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
INVENTORY = os.environ.get("MOLECULE_INVENTORY_FILE")


def lab_env() -> dict:
    """Credentials and bucket of the lab's S3 host (lab/images/s3/lab.env, read by labctl)."""
    sys.path.insert(0, str(LAB))
    import labctl  # pylint: disable=import-outside-toplevel
    return labctl.s3_facts()


def s3lite_program(code: str) -> str:
    """``code`` after the lab's S3 client (lab/images/s3/s3lite.py), as one program for run_python."""
    sys.path.insert(0, str(LAB))
    from dockyard_lab.s3 import s3lite_program as program  # pylint: disable=import-outside-toplevel
    return program(code)


def run_python(host, source: str, *args: str):
    """Run a Python script on a lab host through stdin (nothing is left on the host)."""
    cmd = "python3 - " + " ".join(shlex.quote(a) for a in args) + " <<'PYEOF'\n" + source + "\nPYEOF"
    return host.run(cmd)


@pytest.fixture(scope="session")
def s3_env() -> dict:
    return lab_env()


SCENARIO = Path(__file__).resolve().parents[1]
GROUP_VARS = yaml.safe_load((SCENARIO / "inventory" / "group_vars" / "all.yml").read_text())


def _groups() -> dict:
    """Group -> hosts from molecule's inventory (falls back to the scenario's molecule.yml)."""
    if INVENTORY and Path(INVENTORY).exists():
        inv = yaml.safe_load(Path(INVENTORY).read_text())
        out = {}

        def walk(name, node):
            node = node or {}
            out.setdefault(name, []).extend((node.get("hosts") or {}).keys())
            for child, sub in (node.get("children") or {}).items():
                walk(child, sub)
                out[name].extend(out.get(child, []))
        for name, node in (inv or {}).items():
            walk(name, node)
        return out
    platforms = yaml.safe_load((SCENARIO / "molecule.yml").read_text())["platforms"]
    out = {}
    for p in platforms:
        for g in p.get("groups", []):
            out.setdefault(g, []).append(p["name"])
    return out


GROUPS = _groups()
PROXY = GROUPS["registry_proxy"][0]
BACKENDS = GROUPS["registry_backends"]
CLIENT = GROUPS["registry_clients"][0]
NAME = GROUP_VARS["dockyard_registry_name"]
USERS = {u["name"]: u["password"] for u in GROUP_VARS["dockyard_registry_users"]}
TOKEN_USER = "dockyard-token"
CERTS_D_CA = f"/etc/docker/certs.d/{NAME}/ca.crt"
KEY_DIR = "/etc/dockyard/token/keys"


def curl(host, args: str, body: bool = True) -> tuple:
    """(status, headers lower-cased, body) of a curl on ``host``, trusting the registry's CA through the
    docker certs.d file client_trust wrote (the system store is left alone by default).
    ``body=False`` discards the body (blobs are binary) and returns its size instead."""
    marker = uuid.uuid4().hex
    show = f"cat /tmp/b-{marker}" if body else f"stat -c %s /tmp/b-{marker}"
    out = host.run(f"curl -sS --cacert {CERTS_D_CA} -D /tmp/h-{marker} -o /tmp/b-{marker} -w '%{{http_code}}' {args};"
                   f" echo; cat /tmp/h-{marker}; echo '@@BODY@@'; {show}; rm -f /tmp/h-{marker} /tmp/b-{marker}")
    status_line, rest = out.stdout.split("\n", 1)
    head, _, body = rest.partition("@@BODY@@\n")
    headers = {}
    for line in head.replace("\r", "").split("\n")[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return int(status_line.strip() or 0), headers, body


def get_token(host, user: str | None, *scopes: str, password: str | None = None) -> str:
    query = "&".join([f"service={NAME}"] + [f"scope={s}" for s in scopes])
    creds = ""
    if user is not None:
        creds = f"-u {shlex.quote(user + ':' + (password if password is not None else USERS[user]))}"
    status, _h, body = curl(host, f"{creds} 'https://{NAME}/token?{query}'")
    assert status == 200, (status, body)
    return json.loads(body)["token"]


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.fixture(scope="module")
def client():
    return lab_host(CLIENT)


@pytest.fixture(scope="module")
def proxy():
    return lab_host(PROXY)


def run_playbook(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """ansible-playbook from this checkout against the scenario's molecule inventory (tests/harness.py)."""
    return _run_playbook("-i", Path(INVENTORY).parent, *args, timeout=timeout)
