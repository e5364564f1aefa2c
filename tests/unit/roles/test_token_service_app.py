"""The token service app (roles/token_service/files/dockyard_token_service.py), in process.

It runs here exactly as on the proxy: the role copies module_utils/_token_access.py and
_htpasswd.py next to it, so the same directory layout is rebuilt in a temporary directory. Keys come
from module_utils/_token_keys.py (what the token_signing_key module writes); tokens are checked
with PyJWT (the controller has the 2.6.0 that Debian bookworm ships).
"""

from __future__ import annotations

import base64
import importlib
import io
import json
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import jwt
import pytest
import yaml

from ansible_collections.dockyard.registry.plugins.module_utils import _htpasswd, _token_access, _token_keys

REPO = Path(__file__).resolve().parents[3]
SERVICE = "registry.example.test"
USERS = {"alice": "alice-password-123", "reader": "reader-password-456", "ci": "ci-password-789"}
ACCESS = {
    "anonymous_pull": ["public/**"],
    "users": [{"name": "alice", "rules": [{"repositories": ["team-a/*"], "actions": ["pull", "push"]}]},
              {"name": "reader", "rules": [{"repositories": ["**"], "actions": ["pull"]}], "catalog": False}],
}


def write_key(key_dir: Path, state_extra=None):
    key_dir.mkdir(parents=True, exist_ok=True)
    kid, key_pem, cert_pem = _token_keys.new_key("test signer", 30)
    (key_dir / f"{kid}.key").write_text(key_pem)
    (key_dir / f"{kid}.crt").write_text(cert_pem)
    state = {"version": 1, "active": kid, "pending": None, "keys": {kid: {"created": 1, "activated": 1}}}
    (key_dir / "state.json").write_text(json.dumps(state))
    return kid, key_pem, cert_pem


def _service_files():
    """The files the role installs next to each other on the proxy (roles/token_service/vars/main.yml)."""
    entries = yaml.safe_load((REPO / "roles/token_service/vars/main.yml").read_text())["__token_service_files"]
    role_path = REPO / "roles" / "token_service"
    return [(Path(e["src"].replace("{{ role_path }}", str(role_path))).resolve(), e["dest"]) for e in entries]


@pytest.fixture(scope="module")
def service_lib(tmp_path_factory):
    """A directory laid out like the service's on the proxy, from the role's own file list."""
    lib = tmp_path_factory.mktemp("lib")
    for src, dest in _service_files():
        shutil.copy(src, lib / dest)
    return lib


def test_the_installed_files_import_on_their_own(service_lib):
    """The service starts from the flat directory alone: no collection on the proxy's sys.path."""
    # -I ignores PYTHONPATH and the script directory: put the service directory first, as gunicorn's --chdir does.
    proc = subprocess.run([sys.executable, "-I", "-c",
                           "import sys; sys.path.insert(0, '.'); import dockyard_token_service"],
                          cwd=service_lib, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.fixture(scope="module")
def app_module(service_lib):
    """The service module imported from a directory laid out like the one on the proxy."""
    names = [dest[:-len(".py")] for _, dest in _service_files()]
    sys.path.insert(0, str(service_lib))
    try:
        for name in names:
            sys.modules.pop(name, None)
        yield importlib.import_module("dockyard_token_service")
    finally:
        sys.path.remove(str(service_lib))
        for name in names:
            sys.modules.pop(name, None)


@pytest.fixture
def env(tmp_path, app_module):
    etc = tmp_path / "etc"
    _kid, _key, cert = write_key(etc / "keys")
    (etc / "trusted.pem").write_text(cert)
    lines = "".join(f"{u}:{_htpasswd.hash_password(p, 'bcrypt', bcrypt_cost=4)}\n" for u, p in USERS.items())
    (etc / "htpasswd").write_text(lines)
    (etc / "access.json").write_text(json.dumps(_token_access.normalize_access(ACCESS, list(USERS))))
    config = dict(app_module.DEFAULTS, issuer="test-issuer", service=SERVICE, realm=f"https://{SERVICE}/token",
                  key_dir=str(etc / "keys"), trusted_bundle=str(etc / "trusted.pem"),
                  htpasswd=str(etc / "htpasswd"), access=str(etc / "access.json"))
    app = app_module.make_app(config)
    return {"app": app, "cert": cert, "etc": etc, "config": config, "mod": app_module}


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def call(app, method="GET", path="/token", query="", headers=None, body=b"", content_type=None):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "REMOTE_ADDR": "127.0.0.1",
               "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
    if content_type:
        environ["CONTENT_TYPE"] = content_type
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    out = {}

    def start_response(status, hdrs):
        out["status"] = int(status.split()[0])
        out["headers"] = {k.lower(): v for k, v in hdrs}

    data = b"".join(app(environ, start_response))
    out["json"] = json.loads(data) if data.strip() else None
    return out


def token_query(*scopes, service=SERVICE):
    return urllib.parse.urlencode([("service", service)] + [("scope", s) for s in scopes])


def decode(env, token):
    from cryptography import x509
    key = x509.load_pem_x509_certificate(env["cert"].encode()).public_key()
    return jwt.decode(token, key, algorithms=["ES256"], audience=SERVICE, issuer="test-issuer")


def test_get_token_with_basic_credentials(env):
    res = call(env["app"], query=token_query("repository:team-a/app:pull,push"),
               headers={"Authorization": basic("alice", USERS["alice"])})
    assert res["status"] == 200
    body = res["json"]
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 300 and body["issued_at"].endswith("Z")
    assert res["headers"]["cache-control"] == "no-store"
    claims = decode(env, body["token"])
    assert claims["sub"] == "alice" and claims["aud"] == SERVICE
    assert claims["access"] == [{"type": "repository", "name": "team-a/app", "actions": ["pull", "push"]}]
    assert claims["exp"] - claims["iat"] == 300
    header = jwt.get_unverified_header(body["token"])
    assert header["alg"] == "ES256" and len(header["x5c"]) == 1


def test_healthz_names_the_signing_key_and_no_secret(env):
    """The role waits on /healthz's kid after a reload that activates a new key (tasks/activate.yml)."""
    res = call(env["app"], path="/healthz")
    assert res["status"] == 200
    kid = json.loads((env["etc"] / "keys" / "state.json").read_text())["active"]
    assert res["json"] == {"ok": True, "kid": kid}
    token = call(env["app"], query=token_query(), headers={"Authorization": basic("alice", USERS["alice"])})
    assert jwt.get_unverified_header(token["json"]["token"])["kid"] == kid


def test_post_oauth2_password_grant(env):
    form = urllib.parse.urlencode({"grant_type": "password", "username": "alice", "password": USERS["alice"],
                                   "service": SERVICE, "client_id": "containerd",
                                   "scope": "repository:team-a/app:pull repository:team-b/app:pull"}).encode()
    res = call(env["app"], "POST", body=form, content_type="application/x-www-form-urlencoded")
    assert res["status"] == 200
    assert decode(env, res["json"]["access_token"])["access"] == [
        {"type": "repository", "name": "team-a/app", "actions": ["pull"]}]


def test_post_refuses_other_grants_and_wrong_passwords(env):
    for form in ({"grant_type": "refresh_token", "refresh_token": "x", "service": SERVICE},
                 {"grant_type": "password", "username": "alice", "password": "nope", "service": SERVICE}):
        res = call(env["app"], "POST", body=urllib.parse.urlencode(form).encode(),
                   content_type="application/x-www-form-urlencoded")
        assert res["status"] in (400, 401)
        assert "token" not in res["json"]


def test_wrong_password_and_unknown_user_get_no_token(env):
    for user, password in (("alice", "wrong"), ("nobody", "whatever"), ("alice", ""), ("alice", "x" * 2000)):
        res = call(env["app"], query=token_query("repository:team-a/app:pull"),
                   headers={"Authorization": basic(user, password)})
        assert res["status"] == 401, (user, password)
        assert "token" not in res["json"]


def test_unknown_user_costs_a_hash_check_like_a_wrong_password(env):
    """Same timing class: an unknown user runs one verification of the same scheme and cost as a
    wrong password does (counted, not timed: timing asserts do not belong in tests)."""
    users = env["app"].service.users
    calls = []
    htp = env["mod"]._htpasswd
    original = htp.verify_password

    def spy(password, hashed):
        calls.append(htp.identify(hashed))
        return original(password, hashed)

    htp.verify_password = spy
    try:
        assert users.check("alice", "definitely-wrong") == (False, "verified")
        assert users.check("nobody-at-all", "definitely-wrong") == (False, "verified")
    finally:
        htp.verify_password = original
    assert len(calls) == 2
    assert (calls[0].scheme, calls[0].cost) == (calls[1].scheme, calls[1].cost) == ("bcrypt", 4)


def test_one_password_verification_for_many_token_requests(env):
    users = env["app"].service.users
    before = users.verifications
    for scope in ["repository:team-a/app:pull"] * 15:
        res = call(env["app"], query=token_query(scope), headers={"Authorization": basic("alice", USERS["alice"])})
        assert res["status"] == 200
    assert users.verifications - before == 1


def test_verdict_cache_is_keyed_and_follows_password_changes(env):
    users = env["app"].service.users
    assert users.check("alice", USERS["alice"]) == (True, "verified")
    assert users.check("alice", USERS["alice"]) == (True, "cached")
    assert all(USERS["alice"].encode() not in k and b"alice" not in k for k in users._cache)
    # a new hash for alice (password changed): the old password no longer passes, from the cache or not
    path = Path(env["config"]["htpasswd"])
    text = path.read_text().replace(path.read_text().splitlines()[0],
                                    "alice:" + _htpasswd.hash_password("new-password-000", "bcrypt", bcrypt_cost=4))
    path.write_text(text)
    users._next_check = 0
    assert users.check("alice", USERS["alice"]) == (False, "verified")
    assert users.check("alice", "new-password-000")[0]


def test_anonymous_token_gets_only_public_pull(env):
    res = call(env["app"], query=token_query("repository:public/app:pull,push", "repository:team-a/app:pull"))
    assert res["status"] == 200
    claims = decode(env, res["json"]["token"])
    assert claims["sub"] == ""
    assert claims["access"] == [{"type": "repository", "name": "public/app", "actions": ["pull"]}]


@pytest.mark.parametrize("query", [
    token_query("repository:team-a/app:pull", service="other.example"),
    token_query("repository:team-a/App:pull"),
    token_query("repository:team-a/app"),
    token_query("repository:team-a/app:pull\nx"),
    token_query(*["repository:a/b:pull"] * 20),
    "service=" + SERVICE + "&scope=" + "a" * 9000,
    "service=" + SERVICE + "&scope=repository%3Ateam-a%2Fapp%3Apull%00",
])
def test_malformed_or_oversized_requests_get_4xx_and_no_token(env, query):
    res = call(env["app"], query=query, headers={"Authorization": basic("alice", USERS["alice"])})
    assert 400 <= res["status"] < 500
    assert "token" not in (res["json"] or {})


@pytest.mark.parametrize("header", ["Basic !!!", "Basic " + "A" * 9000, "Basic " + base64.b64encode(b"nocolon").decode(),
                                    "Basic " + base64.b64encode(b"\xff\xfe:x").decode()])
def test_malformed_credentials_are_refused(env, header):
    res = call(env["app"], query=token_query("repository:team-a/app:pull"), headers={"Authorization": header})
    assert res["status"] in (400, 401)


def test_oversized_post_body_is_refused(env):
    res = call(env["app"], "POST", body=b"a=" + b"b" * 9000, content_type="application/x-www-form-urlencoded")
    assert res["status"] == 413


def test_authz_bearer_checks_signature_audience_and_scope(env):
    app = env["app"]
    tok = call(app, query=token_query("repository:team-a/app:pull"),
               headers={"Authorization": basic("alice", USERS["alice"])})["json"]["token"]
    blob = "/v2/team-a/app/blobs/sha256:" + "a" * 64
    ok = call(app, path="/authz", headers={"Authorization": "Bearer " + tok, "X-Original-Method": "GET",
                                           "X-Original-URI": blob})
    assert ok["status"] == 204
    other = call(app, path="/authz", headers={"Authorization": "Bearer " + tok, "X-Original-Method": "GET",
                                              "X-Original-URI": blob.replace("team-a", "team-b")})
    assert other["status"] == 401 and "insufficient_scope" in other["headers"]["www-authenticate"]
    push = call(app, path="/authz", headers={"Authorization": "Bearer " + tok, "X-Original-Method": "PUT",
                                             "X-Original-URI": "/v2/team-a/app/manifests/v1"})
    assert push["status"] == 401


def forged(env, **changes):
    """Tokens the service must refuse: signed by another key, wrong audience, expired, HS256, none."""
    from cryptography.hazmat.primitives.asymmetric import ec
    claims = _token_access.build_claims("test-issuer", SERVICE, "alice",
                                        [{"type": "repository", "name": "team-b/app", "actions": ["pull"]}],
                                        time.time(), 300, "x")
    claims.update(changes.get("claims", {}))
    x5c = jwt.get_unverified_header(call(env["app"], query=token_query())["json"]["token"])["x5c"]
    alg = changes.get("alg", "ES256")
    if alg == "ES256":
        key = changes.get("key") or ec.generate_private_key(ec.SECP256R1())
        return jwt.encode(claims, key, algorithm="ES256", headers={"x5c": x5c})
    header = base64.urlsafe_b64encode(json.dumps({"alg": alg, "typ": "JWT", "x5c": x5c}).encode()).rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    if alg == "none":
        return (header + b"." + payload + b".").decode()
    import hashlib
    import hmac
    sig = hmac.new(env["cert"].encode(), header + b"." + payload, hashlib.sha256).digest()
    return (header + b"." + payload + b"." + base64.urlsafe_b64encode(sig).rstrip(b"=")).decode()


def service_key(env):
    from cryptography.hazmat.primitives import serialization
    keys = env["etc"] / "keys"
    kid = json.loads((keys / "state.json").read_text())["active"]
    return serialization.load_pem_private_key((keys / f"{kid}.key").read_bytes(), None)


@pytest.mark.parametrize("kind", ["other_key", "none", "hs256", "expired", "other_service", "other_issuer"])
def test_authz_refuses_forged_and_stale_tokens(env, kind):
    changes = {
        "other_key": {},
        "none": {"alg": "none"},
        "hs256": {"alg": "HS256"},
        "expired": {"key": service_key(env), "claims": {"exp": int(time.time()) - 600, "nbf": int(time.time()) - 900}},
        "other_service": {"key": service_key(env), "claims": {"aud": "other.example"}},
        "other_issuer": {"key": service_key(env), "claims": {"iss": "someone-else"}},
    }[kind]
    tok = forged(env, **changes)
    res = call(env["app"], path="/authz", headers={"Authorization": "Bearer " + tok, "X-Original-Method": "GET",
                                                   "X-Original-URI": "/v2/team-b/app/manifests/latest"})
    assert res["status"] == 401
    # the control: the same claims signed by the service's key pass
    good = forged(env, key=service_key(env))
    assert call(env["app"], path="/authz", headers={"Authorization": "Bearer " + good, "X-Original-Method": "GET",
                                                    "X-Original-URI": "/v2/team-b/app/manifests/latest"})["status"] == 204


def test_authz_basic_mints_a_token_for_the_request_only(env):
    app = env["app"]
    res = call(app, path="/authz", headers={"Authorization": basic("alice", USERS["alice"]), "X-Original-Method": "PATCH",
                                            "X-Original-URI": "/v2/team-a/app/blobs/uploads/abc?_state=x"})
    assert res["status"] == 200
    minted = res["headers"]["x-dockyard-authorization"]
    assert minted.startswith("Bearer ")
    claims = decode(env, minted.split(" ", 1)[1])
    assert claims["access"] == [{"type": "repository", "name": "team-a/app", "actions": ["pull", "push"]}]
    assert claims["exp"] - claims["iat"] == 60
    denied = call(app, path="/authz", headers={"Authorization": basic("reader", USERS["reader"]),
                                               "X-Original-Method": "PUT", "X-Original-URI": "/v2/x/manifests/1"})
    assert denied["status"] == 403
    wrong = call(app, path="/authz", headers={"Authorization": basic("alice", "bad"), "X-Original-Method": "GET",
                                              "X-Original-URI": "/v2/"})
    assert wrong["status"] == 401
    base = call(app, path="/authz", headers={"Authorization": basic("reader", USERS["reader"]),
                                             "X-Original-Method": "GET", "X-Original-URI": "/v2/"})
    assert base["status"] == 200 and decode(env, base["headers"]["x-dockyard-authorization"][7:])["access"] == []
    anon = call(app, path="/authz", headers={"X-Original-Method": "GET", "X-Original-URI": "/v2/a/manifests/1"})
    assert anon["status"] == 401 and anon["headers"]["www-authenticate"].startswith("Bearer realm=")


@pytest.mark.parametrize("method, uri, expected", [
    ("GET", "/v2/", ("", [])),
    ("HEAD", "/v2/a/b/manifests/latest", ("a/b", ["pull"])),
    ("GET", "/v2/a/blobs/sha256:" + "0" * 64, ("a", ["pull"])),
    ("POST", "/v2/team-a/app/blobs/uploads/", ("team-a/app", ["pull", "push"])),
    ("PATCH", "/v2/x/blobs/uploads/uuid-1?_state=abc", ("x", ["pull", "push"])),
    ("DELETE", "/v2/x/manifests/sha256:" + "0" * 64, ("x", ["delete"])),
    ("GET", "/v2/x/tags/list?n=10", ("x", ["pull"])),
    ("GET", "/v2/x/blobs/y/blobs/sha256:1", ("x/blobs/y", ["pull"])),
    ("GET", "/v2/_catalog", ("", [])),
])
def test_request_target(app_module, method, uri, expected):
    assert app_module.request_target(method, uri) == expected


def test_basic_mount_gets_pull_on_the_source_only_when_allowed(env):
    app = env["app"]
    uri = "/v2/team-a/app/blobs/uploads/?mount=sha256:" + "0" * 64 + "&from=%s"
    for source, expected in (("team-a/base", ["team-a/app", "team-a/base"]), ("team-b/app", ["team-a/app"])):
        res = call(app, path="/authz", headers={"Authorization": basic("alice", USERS["alice"]),
                                                "X-Original-Method": "POST", "X-Original-URI": uri % source})
        assert res["status"] == 200
        access = decode(env, res["headers"]["x-dockyard-authorization"][7:])["access"]
        assert [a["name"] for a in access] == expected


def test_request_target_refuses_bad_names(app_module):
    with pytest.raises(ValueError):
        app_module.request_target("GET", "/v2/../etc/manifests/x")


def test_catalog_is_filtered_for_the_user(env, monkeypatch):
    app = env["app"]
    monkeypatch.setattr(app.service, "_registry_catalog",
                        lambda: ["public/app", "team-a/app", "team-a/web", "team-b/app", "zzz/other"])
    tok = call(app, query=token_query("registry:catalog:*"),
               headers={"Authorization": basic("alice", USERS["alice"])})["json"]["token"]
    res = call(app, path="/v2/_catalog", headers={"Authorization": "Bearer " + tok})
    assert res["status"] == 200
    assert res["json"] == {"repositories": ["public/app", "team-a/app", "team-a/web"]}
    assert res["headers"]["docker-distribution-api-version"] == "registry/2.0"
    page = call(app, path="/v2/_catalog", query="n=2", headers={"Authorization": "Bearer " + tok})
    assert page["json"] == {"repositories": ["public/app", "team-a/app"]}
    assert page["headers"]["link"] == '</v2/_catalog?last=team-a/app&n=2>; rel="next"'
    nxt = call(app, path="/v2/_catalog", query="n=2&last=team-a/app", headers={"Authorization": "Bearer " + tok})
    assert nxt["json"] == {"repositories": ["team-a/web"]} and "link" not in nxt["headers"]
    # everything for a user without rules
    tok_ci = call(app, query=token_query("registry:catalog:*"),
                  headers={"Authorization": basic("ci", USERS["ci"])})["json"]["token"]
    assert len(call(app, path="/v2/_catalog", headers={"Authorization": "Bearer " + tok_ci})["json"]["repositories"]) == 5


def test_catalog_needs_the_catalog_scope(env, monkeypatch):
    app = env["app"]
    monkeypatch.setattr(app.service, "_registry_catalog", lambda: ["a"])
    none = call(app, path="/v2/_catalog")
    assert none["status"] == 401
    assert 'scope="registry:catalog:*"' in none["headers"]["www-authenticate"]
    # reader has catalog: false: its token carries no catalog access
    tok = call(app, query=token_query("registry:catalog:*"),
               headers={"Authorization": basic("reader", USERS["reader"])})["json"]["token"]
    assert decode(env, tok)["access"] == []
    assert call(app, path="/v2/_catalog", headers={"Authorization": "Bearer " + tok})["status"] == 401
    assert call(app, path="/v2/_catalog", headers={"Authorization": basic("reader", USERS["reader"])})["status"] == 403


def test_logs_name_users_and_scopes_but_no_secret(env, caplog):
    caplog.set_level("INFO", logger="dockyard.token")
    app = env["app"]
    res = call(app, query=token_query("repository:team-a/app:pull"), headers={"Authorization": basic("alice", USERS["alice"])})
    call(app, query=token_query("repository:team-a/app:pull"), headers={"Authorization": basic("alice", "wrong-pw-xyz")})
    text = caplog.text
    assert "token issued user=alice" in text and "granted=repository:team-a/app:pull" in text
    assert "result=refused" in text
    for secret in (USERS["alice"], "wrong-pw-xyz", res["json"]["token"], res["json"]["token"].split(".")[2],
                   base64.b64encode(f"alice:{USERS['alice']}".encode()).decode()):
        assert secret not in text


def test_keys_refuse_a_key_that_is_not_p256(tmp_path, app_module):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    kid, _key, _cert = write_key(tmp_path)
    other = ec.generate_private_key(ec.SECP384R1()).private_bytes(serialization.Encoding.PEM,
                                                                  serialization.PrivateFormat.PKCS8,
                                                                  serialization.NoEncryption())
    (tmp_path / f"{kid}.key").write_bytes(other)
    with pytest.raises(ValueError):
        app_module.Keys(str(tmp_path), str(tmp_path / "missing.pem"))
