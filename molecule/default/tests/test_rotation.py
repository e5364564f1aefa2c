"""Signing-key rotation with an overlap: one run of the token and registry plays with
token_service_key_force_rotate makes a new key, puts it in every backend's bundle, signs with it,
and keeps the old key trusted, so a token issued before the rotation still works."""

from __future__ import annotations

import json

from conftest import BACKENDS, KEY_DIR, NAME, PROJECT, claims, curl, get_token, lab_host, run_playbook, sh


def manifest_status(client, token: str) -> int:
    status, _h, _b = curl(client, f"-I -H 'Authorization: Bearer {token}' https://{NAME}/v2/rotation/check/manifests/none")
    return status


def test_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(client, proxy):
    before = json.loads(sh(proxy, f"cat {KEY_DIR}/state.json"))
    old_token = get_token(client, "ci", "repository:rotation/check:pull")
    assert manifest_status(client, old_token) == 404  # valid token, no such manifest
    res = run_playbook("-e", "token_service_key_force_rotate=true", str(PROJECT / "playbooks" / "token.yml"),
                       str(PROJECT / "playbooks" / "registry.yml"))
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    after = json.loads(sh(proxy, f"cat {KEY_DIR}/state.json"))
    assert after["active"] != before["active"] and after["pending"] is None
    assert after["keys"][before["active"]].get("retired")
    for backend in BACKENDS:
        bundle = sh(lab_host(backend), "cat /etc/dockyard/registry/token-bundle.pem")
        assert bundle.count("BEGIN CERTIFICATE") == 2
    new_token = get_token(client, "ci", "repository:rotation/check:pull")
    assert _x5c(new_token) != _x5c(old_token)
    assert manifest_status(client, new_token) == 404
    assert manifest_status(client, old_token) == 404, "a token of the retired key is refused during the overlap"
    assert claims(old_token)["exp"] > claims(new_token)["iat"]
    key = proxy.file(f"{KEY_DIR}/{after['active']}.key")
    assert key.mode == 0o600 and key.user == "dockyard-token"


def _x5c(token: str) -> str:
    import base64
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["x5c"][0]
