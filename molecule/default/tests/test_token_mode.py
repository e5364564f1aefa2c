"""Token mode end to end: real clients, the nginx proxy, the token service and Distribution 2.8.

Users and rules (inventory/group_vars/all.yml): ``ci`` may do everything (no rules), ``reader``
pulls everywhere, ``alice`` owns ``team-a/*``; anonymous clients may pull ``public/*``. The blob
cache is on and registry redirects are off, so blobs are served from nginx's cache once warm.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shlex
import time
import uuid

import pytest
from conftest import (BACKENDS, KEY_DIR, NAME, PROXY, TOKEN_USER, USERS, claims, curl, get_token, lab_host, sh)

SERVICE = "dockyard-token"


def build_image(client, ref: str, layers: int = 3) -> None:
    """An image FROM scratch with ``layers`` small random layers, built on the client."""
    ctx = f"/root/build-{uuid.uuid4().hex[:8]}"
    copies = "".join(f"COPY f{i}.bin /f{i}.bin\\n" for i in range(layers))
    sh(client, f"""
        set -e; mkdir -p {ctx} && cd {ctx}
        for i in $(seq 0 {layers - 1}); do head -c 65536 /dev/urandom > f$i.bin; done
        printf 'FROM scratch\\n{copies}' > Dockerfile
        docker build -q -t {ref} . >/dev/null
        cd / && rm -rf {ctx}
    """)


def docker_as(client, user: str, cmd: str, check: bool = True):
    """A docker command with a throwaway config logged in as ``user`` (None: anonymous)."""
    cfg = f"/root/.docker-{user or 'anonymous'}"
    if user:
        sh(client, f"mkdir -p {cfg} && printf '%s' {shlex.quote(USERS[user])} | docker --config {cfg} login "
                   f"--username {user} --password-stdin {NAME} >/dev/null")
    else:
        sh(client, f"mkdir -p {cfg}")
    res = client.run(f"timeout 300 docker --config {cfg} {cmd}")
    if check:
        assert res.rc == 0, f"docker {cmd} as {user}: {res.stderr[-1500:]}"
    return res


@pytest.fixture(scope="module")
def images(client):
    """team-a/app (pushed by alice), team-b/app and public/app (pushed by ci)."""
    refs = {}
    for repo, user in (("team-a/app", "alice"), ("team-b/app", "ci"), ("public/app", "ci")):
        ref = f"{NAME}/{repo}:{uuid.uuid4().hex[:8]}"
        build_image(client, ref)
        docker_as(client, user, f"push {ref}")
        sh(client, f"docker image rm {ref} >/dev/null")
        refs[repo] = ref
    return refs


def manifest_layers(client, token: str, repo: str, tag: str) -> list:
    status, _h, body = curl(client, f"-H 'Authorization: Bearer {token}' "
                                    f"-H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "
                                    f"https://{NAME}/v2/{repo}/manifests/{tag}")
    assert status == 200, body
    return [layer["digest"] for layer in json.loads(body)["layers"]]


def test_unauthenticated_request_gets_a_bearer_challenge(client):
    status, headers, _body = curl(client, f"https://{NAME}/v2/")
    assert status == 401
    assert headers["www-authenticate"].startswith(f'Bearer realm="https://{NAME}/token",service="{NAME}"')
    assert headers["docker-distribution-api-version"] == "registry/2.0"


def test_wrong_password_and_unknown_user_get_no_token(client):
    for user, password in (("ci", "not-the-password"), ("nobody", "whatever-123")):
        status, _h, body = curl(client, f"-u {user}:{password} 'https://{NAME}/token?service={NAME}"
                                        f"&scope=repository:team-b/app:pull'")
        assert status == 401 and "token" not in body


def test_token_endpoint_speaks_get_and_the_oauth2_post_form(client):
    tok = get_token(client, "ci", "repository:any/thing:pull,push")
    assert claims(tok)["access"] == [{"type": "repository", "name": "any/thing", "actions": ["pull", "push"]}]
    assert claims(tok)["aud"] == NAME and claims(tok)["sub"] == "ci"
    fields = ["grant_type=password", f"service={NAME}", "client_id=containerd", "username=alice",
              f"password={USERS['alice']}", "scope=repository:team-a/app:pull repository:team-b/app:pull"]
    data = " ".join(f"--data-urlencode {shlex.quote(f)}" for f in fields)
    status, _h, body = curl(client, f"-X POST {data} https://{NAME}/token")
    assert status == 200, body
    assert claims(json.loads(body)["access_token"])["access"] == [
        {"type": "repository", "name": "team-a/app", "actions": ["pull"]}]


def test_docker_login_push_pull_and_skopeo_copy(client, images):
    ref = f"{NAME}/dockyard/token:{uuid.uuid4().hex[:8]}"
    build_image(client, ref, layers=2)
    docker_as(client, "ci", f"push {ref}")
    sh(client, f"docker image rm {ref} >/dev/null")
    docker_as(client, "ci", f"pull {ref}")
    dst = ref.replace("dockyard/token", "dockyard/token-copy")
    creds = f"ci:{USERS['ci']}"
    sh(client, f"skopeo copy --quiet --src-creds {creds} --dest-creds {creds} docker://{ref} docker://{dst}")
    inspected = json.loads(sh(client, f"skopeo inspect --creds {creds} docker://{dst}"))
    assert inspected["Name"].endswith("dockyard/token-copy")
    bad = client.run(f"skopeo inspect --creds ci:wrong-password docker://{dst}")
    assert bad.rc != 0
    sh(client, f"docker image rm {ref} >/dev/null")


def test_pull_only_user_pulls_and_is_denied_push(client, images):
    docker_as(client, "reader", f"pull {images['team-b/app']}")
    ref = f"{NAME}/team-b/app:reader-{uuid.uuid4().hex[:6]}"
    sh(client, f"docker tag {images['team-b/app']} {ref}")
    res = docker_as(client, "reader", f"push {ref}", check=False)
    assert res.rc != 0
    assert "denied" in res.stderr.lower() or "unauthorized" in res.stderr.lower(), res.stderr[-800:]
    tag = ref.rsplit(":", 1)[1]
    tok = get_token(client, "ci", "repository:team-b/app:pull")
    status, _h, _b = curl(client, f"-I -H 'Authorization: Bearer {tok}' https://{NAME}/v2/team-b/app/manifests/{tag}")
    assert status == 404, "the refused push created the tag"
    sh(client, f"docker image rm {ref} {images['team-b/app']} >/dev/null")


def test_team_user_cannot_pull_another_team(client, images):
    docker_as(client, "alice", f"pull {images['team-a/app']}")
    res = docker_as(client, "alice", f"pull {images['team-b/app']}", check=False)
    assert res.rc != 0
    sh(client, f"docker image rm {images['team-a/app']} >/dev/null")


def test_catalog_is_filtered_per_user(client, images):
    def catalog(user):
        tok = get_token(client, user, "registry:catalog:*")
        status, _h, body = curl(client, f"-H 'Authorization: Bearer {tok}' 'https://{NAME}/v2/_catalog?n=1000'")
        assert status == 200, body
        return json.loads(body)["repositories"]
    everything = catalog("ci")
    assert {"team-a/app", "team-b/app", "public/app"} <= set(everything)
    alice = catalog("alice")
    assert "team-a/app" in alice and "public/app" in alice
    assert "team-b/app" not in alice
    assert set(alice) <= set(everything)
    status, headers, _b = curl(client, f"https://{NAME}/v2/_catalog")
    assert status == 401 and 'scope="registry:catalog:*"' in headers["www-authenticate"]


def test_blob_cache_does_not_bypass_access_control(client, images):
    """A team-b blob, already in nginx's cache, is not served to alice (team-a only) or to anonymous
    clients, neither under team-b's name nor under a repository alice may read."""
    tag = images["team-b/app"].rsplit(":", 1)[1]
    ci_tok = get_token(client, "ci", "repository:team-b/app:pull")
    digest = manifest_layers(client, ci_tok, "team-b/app", tag)[0]
    url = f"https://{NAME}/v2/team-b/app/blobs/{digest}"
    for _ in range(2):
        status, headers, _b = curl(client, f"-H 'Authorization: Bearer {ci_tok}' {url}", body=False)
        assert status == 200
    assert headers.get("x-cache-status") == "HIT", headers
    alice_b = get_token(client, "alice", "repository:team-b/app:pull")
    assert claims(alice_b)["access"] == []
    status, headers, _b = curl(client, f"-H 'Authorization: Bearer {alice_b}' {url}", body=False)
    assert status == 401, status
    assert "insufficient_scope" in headers.get("www-authenticate", "")
    alice_a = get_token(client, "alice", "repository:team-a/app:pull")
    status, _h, _b = curl(client, f"-H 'Authorization: Bearer {alice_a}' https://{NAME}/v2/team-a/app/blobs/{digest}", body=False)
    assert status != 200, "a team-b blob was served under team-a"
    status, _h, _b = curl(client, f"-u alice:{USERS['alice']} {url}", body=False)
    assert status == 403
    status, _h, _b = curl(client, url, body=False)
    assert status == 401
    status, _h, _b = curl(client, f"-H 'Authorization: Bearer {ci_tok}' {url}", body=False)
    assert status == 200, "the owner of the blob lost access"


def test_anonymous_pull_only_where_configured(client, images):
    docker_as(client, None, f"pull {images['public/app']}")
    res = docker_as(client, None, f"pull {images['team-b/app']}", check=False)
    assert res.rc != 0
    sh(client, f"docker image rm {images['public/app']} >/dev/null")


MINT = r"""
import json, sys, time
sys.path.insert(0, "/usr/lib/dockyard-token")
import dockyard_token_service as s, _token_access as ta
cfg = s.load_config("/etc/dockyard/token/config.json")
keys = s.Keys(cfg["key_dir"], cfg["trusted_bundle"])
aud, age, repo = sys.argv[1], int(sys.argv[2]), sys.argv[3]
now = int(time.time()) - age
print(keys.sign(ta.build_claims(cfg["issuer"], aud, "ci", [{"type": "repository", "name": repo, "actions": ["pull"]}], now, 300, "test")))
"""


def mint_on_proxy(aud: str, age: int, repo: str) -> str:
    """A token signed with the proxy's real signing key (run as root on the proxy)."""
    out = sh(lab_host(PROXY), f"python3 - {shlex.quote(aud)} {age} {shlex.quote(repo)} <<'PYEOF'\n{MINT}\nPYEOF")
    return out.strip().splitlines()[-1]


def manifest_status(client, token: str, repo: str, tag: str) -> int:
    status, _h, _b = curl(client, f"-I -H 'Authorization: Bearer {token}' "
                                  f"-H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "
                                  f"https://{NAME}/v2/{repo}/manifests/{tag}")
    return status


def test_expired_and_other_service_tokens_are_refused_by_the_registry(client, images):
    repo, tag = "team-b/app", images["team-b/app"].rsplit(":", 1)[1]
    assert manifest_status(client, mint_on_proxy(NAME, 0, repo), repo, tag) == 200  # the control
    assert manifest_status(client, mint_on_proxy(NAME, 1000, repo), repo, tag) == 401  # expired 700 s ago
    assert manifest_status(client, mint_on_proxy("other.registry.test", 0, repo), repo, tag) == 401


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_alg_none_and_hs256_tokens_built_by_the_test_are_refused(client, images):
    repo, tag = "team-b/app", images["team-b/app"].rsplit(":", 1)[1]
    real = get_token(client, "ci", f"repository:{repo}:pull")
    header = json.loads(base64.urlsafe_b64decode(real.split(".")[0] + "=="))
    body = dict(claims(real))
    cert_pem = ("-----BEGIN CERTIFICATE-----\n" + header["x5c"][0] + "\n-----END CERTIFICATE-----\n").encode()
    for alg in ("none", "HS256"):
        head = _b64(json.dumps(dict(header, alg=alg)).encode())
        payload = _b64(json.dumps(body).encode())
        sig = "" if alg == "none" else _b64(hmac.new(cert_pem, f"{head}.{payload}".encode(), hashlib.sha256).digest())
        assert manifest_status(client, f"{head}.{payload}.{sig}", repo, tag) == 401, alg
    assert manifest_status(client, real, repo, tag) == 200


def test_registry_bundle_holds_only_the_signing_certificates(proxy):
    key_certs = sh(proxy, f"cat {KEY_DIR}/*.crt")
    ca = sh(proxy, "cat /etc/dockyard/tls/ca.crt")
    for backend in BACKENDS:
        bundle = sh(lab_host(backend), "cat /etc/dockyard/registry/token-bundle.pem")
        assert bundle.count("BEGIN CERTIFICATE") == key_certs.count("BEGIN CERTIFICATE")
        assert ca.strip() not in bundle
        config = sh(lab_host(backend), "cat /etc/dockyard/registry/config.yml")
        assert "rootcertbundle" in config and f"https://{NAME}/token" in config


def test_signing_key_is_private_to_the_service_user(proxy):
    state = json.loads(sh(proxy, f"cat {KEY_DIR}/state.json"))
    key = proxy.file(f"{KEY_DIR}/{state['active']}.key")
    assert key.user == TOKEN_USER and key.mode == 0o600
    assert proxy.file(KEY_DIR).mode == 0o700 and proxy.file(KEY_DIR).user == TOKEN_USER
    assert proxy.run(f"runuser -u nobody -- cat {KEY_DIR}/{state['active']}.key").rc != 0


def test_service_is_unprivileged_hardened_and_on_loopback_only(proxy):
    props = dict(line.split("=", 1) for line in sh(proxy, f"systemctl show {SERVICE} -p User -p NoNewPrivileges "
                                                           "-p ProtectSystem -p PrivateTmp -p ProtectHome "
                                                           "-p CapabilityBoundingSet -p ActiveState").splitlines())
    assert props["ActiveState"] == "active" and props["User"] == TOKEN_USER
    assert props["NoNewPrivileges"] == "yes" and props["ProtectSystem"] == "strict"
    assert props["PrivateTmp"] == "yes" and props["ProtectHome"] == "yes"
    assert props["CapabilityBoundingSet"] == ""
    listening = sh(proxy, "ss -Hltnp")
    lines = [line for line in listening.splitlines() if "gunicorn" in line or "python3" in line]
    assert lines and all("127.0.0.1:" in line for line in lines), listening


def test_oversized_and_malformed_requests_are_refused(client):
    status, _h, body = curl(client, f"-u ci:{USERS['ci']} 'https://{NAME}/token?service={NAME}"
                                    f"&scope=repository:{'a' * 20000}:pull'")
    assert 400 <= status < 500 and "token" not in body
    status, _h, body = curl(client, f"-u ci:{USERS['ci']} 'https://{NAME}/token?service={NAME}"
                                    f"&scope=repository:team-a/App:pull'")
    assert status == 400 and "token" not in body
    status, _h, _b = curl(client, f"-H 'Authorization: Basic {'A' * 40000}' 'https://{NAME}/token?service={NAME}'")
    assert 400 <= status < 500


def test_one_password_verification_for_a_ten_layer_pull(client, proxy):
    ref = f"{NAME}/team-a/ten:{uuid.uuid4().hex[:8]}"
    build_image(client, ref, layers=10)
    docker_as(client, "ci", f"push {ref}")
    sh(client, f"docker image rm {ref} >/dev/null")
    docker_as(client, "reader", "version --format '{{.Server.Version}}'")  # logs reader in (one check)
    sh(proxy, f"systemctl restart {SERVICE} && for i in $(seq 40); do curl -sf http://127.0.0.1:5010/healthz >/dev/null && exit 0; sleep 0.25; done; exit 1")
    since = sh(proxy, "date '+%Y-%m-%d %H:%M:%S'").strip()
    time.sleep(1)
    docker_as(client, "reader", f"pull {ref}")
    log = sh(proxy, f"journalctl -u {SERVICE} --since {shlex.quote(since)} -o cat")
    checks = [line for line in log.splitlines() if "password check user=reader" in line]
    verified = [line for line in checks if "password=verified" in line]
    assert len(verified) == 1, log[-3000:]
    layers = json.loads(sh(client, f"docker image inspect --format '{{{{ json .RootFS.Layers }}}}' {ref}"))
    assert len(layers) == 10
    sh(client, f"docker image rm {ref} >/dev/null")


def test_service_logs_say_who_got_what_and_hold_no_secret(proxy, client):
    tok = get_token(client, "alice", "repository:team-a/app:pull")
    log = sh(proxy, f"journalctl -u {SERVICE} -o cat --no-pager")
    assert "token issued user=alice" in log and "granted=repository:team-a/app:pull" in log
    secrets = list(USERS.values()) + [tok, tok.split(".")[2]]
    secrets += [base64.b64encode(f"{u}:{p}".encode()).decode() for u, p in USERS.items()]
    for secret in secrets:
        assert secret not in log
    assert "PRIVATE KEY" not in log
