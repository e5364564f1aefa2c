"""dockyard.registry.htpasswd on the lab (issue 3): the walk, the target requirement, real consumers.

htp-proxy is the stock Debian 12 systemd image (no python3-bcrypt). What the playbooks did and
asserted is summarised here from their reports, and checked again from the outside:

- converge, before python3-bcrypt: bcrypt refused naming the package and wrote nothing, sha512_crypt
  worked (/var/lib/htp-lab/nobcrypt.json); python3-bcrypt then came from Debian through apt;
- side_effect: the four-step walk, the scheme change and exclusive (/var/lib/htp-lab/walk.json);
- the per-scheme files: `htpasswd -vb` (Apache) and nginx's auth_basic (curl) accept the right
  password and refuse a wrong one or none, for bcrypt, apr_md5_crypt, sha256_crypt and sha512_crypt;
- password length limits through nginx: a 511-byte sha512_crypt password logs in, a 512-byte one
  (a line the module refuses to write) never does, bcrypt ignores byte 73 on, apr1 has no limit;
- the role's own gate: https://registry.htp.test/v2/ with the CA from the ca role;
- `ansible-playbook --diff -v` output: user names and schemes only, no hash and no password.

Test-only passwords come from inventory/group_vars/all.yml (lab-only values).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from pathlib import Path

import pytest
import testinfra
import yaml

SCENARIO = Path(__file__).resolve().parents[1]
PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", SCENARIO.parents[1]))
FACTS = yaml.safe_load((SCENARIO / "inventory" / "group_vars" / "all.yml").read_text())
SCHEMES = FACTS["htp_lab_schemes"]
REPORTS = FACTS["htp_lab_report_dir"]
HOST = "htp-proxy"

# ansible_collections.dockyard.registry resolves through the checkout's link (see ansible.cfg).
sys.path.insert(0, str(PROJECT / ".cache" / "collections"))
from ansible_collections.dockyard.registry.tests.harness import run_playbook  # noqa: E402  pylint: disable=wrong-import-position
# What each scheme's line must look like (salt and checksum lengths of the written formats).
LINE_PATTERNS = {
    "bcrypt": r"^htp-bcrypt:\$2y\$10\$[./0-9A-Za-z]{53}$",
    "apr_md5_crypt": r"^htp-apr_md5_crypt:\$apr1\$[./0-9A-Za-z]{8}\$[./0-9A-Za-z]{22}$",
    "sha256_crypt": r"^htp-sha256_crypt:\$5\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{43}$",
    "sha512_crypt": r"^htp-sha512_crypt:\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$",
}


@pytest.fixture(scope="module")
def host():
    return testinfra.get_host(f"docker://{HOST}")


def password(scheme: str) -> str:
    return FACTS["htp_lab_password_prefix"] + scheme


def next_scheme(scheme: str) -> str:
    return SCHEMES[(SCHEMES.index(scheme) + 1) % len(SCHEMES)]


def report(host, name: str) -> dict:
    return json.loads(host.file(f"{REPORTS}/{name}.json").content_string)


def curl_status(host, url: str, user: str | None = None, secret: str | None = None, extra: str = "") -> str:
    auth = f"-u {shlex.quote(user + ':' + secret)} " if user is not None else ""
    return host.check_output(f"curl -sS -o /dev/null -w '%{{http_code}}' {extra} {auth}{shlex.quote(url)}")


# --- the target requirement: bcrypt needs python3-bcrypt, the other schemes need nothing ------------


def test_bcrypt_refused_without_python3_bcrypt(host):
    """First converge, stock image: bcrypt failed before writing, naming the Debian package."""
    bcrypt = report(host, "nobcrypt")["bcrypt"]
    assert bcrypt["failed"] is True
    assert "apt-get install python3-bcrypt" in bcrypt["msg"]
    assert bcrypt["file_exists"] is False
    assert not host.file(f"{FACTS['htp_lab_nobcrypt_dir']}/bcrypt.htpasswd").exists


def test_sha512_crypt_written_without_python3_bcrypt(host):
    """The same run wrote sha512_crypt with the standard library alone; Apache accepts the hash."""
    sha512 = report(host, "nobcrypt")["sha512_crypt"]
    assert sha512["changed"] is True and sha512["users_added"] == ["nobcrypt"]
    path = sha512["path"]
    assert host.file(path).mode == 0o600
    assert host.file(path).content_string.startswith("nobcrypt:$6$")
    ok = host.run(f"htpasswd -vb {path} nobcrypt {shlex.quote(FACTS['htp_lab_nobcrypt_password'])}")
    assert ok.rc == 0, ok.stderr


def test_python3_bcrypt_installed_from_debian_by_apt(host):
    pkg = host.package("python3-bcrypt")
    assert pkg.is_installed
    assert pkg.version.startswith("3.2.2")  # bookworm's version, one the unit tests cover
    history = host.file("/var/log/apt/history.log").content_string
    assert any(line.startswith("Install:") and "python3-bcrypt:" in line for line in history.splitlines())
    policy = host.check_output("apt-cache policy python3-bcrypt")
    assert "/debian bookworm/main" in policy, policy


# --- the walk (side_effect.yml) ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def walk(host) -> dict:
    data = report(host, "walk")
    data["by_step"] = {step["step"]: step for step in data["steps"]}
    return data


def test_walk_check_mode_on_a_fresh_file(walk):
    step = walk["by_step"]["1-check-fresh"]
    assert step["changed"] is True
    assert step["users_added"] == ["alice", "bob"]
    assert step["file_exists"] is False


def test_walk_real_run_creates_0600(walk):
    step = walk["by_step"]["2-real"]
    assert step["changed"] is True
    assert step["users_added"] == ["alice", "bob"]
    assert step["file_exists"] is True
    assert step["mode"] == "0600"


def test_walk_idempotent_check_and_real_run(walk):
    check, real, first = (walk["by_step"][s] for s in ("3-check-idempotent", "4-real-idempotent", "2-real"))
    for step in (check, real):
        assert step["changed"] is False
        assert step["users_added"] == step["users_removed"] == step["users_updated"] == []
    assert real["sha256"] == first["sha256"]
    assert real["mtime"] == first["mtime"]


def test_walk_scheme_change_rehashes_once(walk):
    check, real, again = (walk["by_step"][s] for s in ("5-scheme-check", "5-scheme", "5-scheme-again"))
    assert check["changed"] is True and check["users_updated"] == [{"name": "alice", "reason": "scheme"}]
    assert real["changed"] is True and real["users_updated"] == [{"name": "alice", "reason": "scheme"}]
    assert real["users_added"] == real["users_removed"] == []
    assert again["changed"] is False and again["users_updated"] == []


def test_walk_exclusive_removes_unlisted_user(walk):
    excl, again = walk["by_step"]["6-exclusive"], walk["by_step"]["6-exclusive-again"]
    assert excl["changed"] is True
    assert excl["users_removed"] == ["bob"]
    assert excl["users_added"] == excl["users_updated"] == []
    assert again["changed"] is False and again["users_removed"] == []


def test_walk_missing_directory(walk):
    check, real = walk["by_step"]["7-missing-directory-check"], walk["by_step"]["7-missing-directory"]
    msg = (f"cannot create {FACTS['htp_lab_walk_dir']}/missing/walk.htpasswd: "
           f"directory {FACTS['htp_lab_walk_dir']}/missing does not exist")
    assert check["changed"] is True
    assert [w for w in check["warnings"] if msg in w]
    assert real["failed"] is True and real["msg"] == msg
    assert real["directory_exists"] is False


def test_walk_final_file(host, walk):
    """What the walk leaves: the comment, alice in bcrypt; 0600; the sha256 of the last run."""
    f = host.file(walk["file"])
    assert f.mode == 0o600 and f.user == "root"
    lines = f.content_string.splitlines()
    assert lines[0] == "# htp walk: comment lines are kept"
    assert [line.split(":", 1)[0] for line in lines[1:]] == ["alice"]
    assert lines[1].startswith("alice:$2y$10$")
    assert f.sha256sum == walk["by_step"]["6-exclusive-again"]["sha256"]
    alice = FACTS["htp_lab_walk_users"][0]["password"]
    assert host.run(f"htpasswd -vb {walk['file']} alice {shlex.quote(alice)}").rc == 0


# --- per-scheme files: Apache's htpasswd and nginx ------------------------------------------------------


@pytest.mark.parametrize("scheme", SCHEMES)
def test_scheme_file(host, scheme):
    f = host.file(f"{FACTS['htp_lab_dir']}/{scheme}.htpasswd")
    assert f.is_file
    assert f.user == "root" and f.group == "www" and f.mode == 0o640
    lines = f.content_string.splitlines()
    assert len(lines) == 1
    assert re.fullmatch(LINE_PATTERNS[scheme], lines[0]), f"{scheme}: unexpected line format"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_apache_htpasswd_verifies(host, scheme):
    path, user = f"{FACTS['htp_lab_dir']}/{scheme}.htpasswd", f"htp-{scheme}"
    ok = host.run(f"htpasswd -vb {path} {user} {shlex.quote(password(scheme))}")
    assert ok.rc == 0, ok.stderr
    assert "correct" in ok.stderr
    bad = host.run(f"htpasswd -vb {path} {user} {shlex.quote(password(scheme) + 'x')}")
    assert bad.rc == 3, bad.stderr


CASES = {
    "right password": (lambda s: (f"htp-{s}", password(s)), "200"),
    "wrong password": (lambda s: (f"htp-{s}", password(s) + "x"), "401"),
    "the next scheme's password": (lambda s: (f"htp-{s}", password(next_scheme(s))), "401"),
    "wrong user": (lambda s: ("htp-nobody", password(s)), "401"),
    "no credentials": (lambda s: (None, None), "401"),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("scheme", SCHEMES)
def test_nginx_auth_basic(host, scheme, case):
    credentials, expected = CASES[case]
    user, secret = credentials(scheme)
    url = f"http://127.0.0.1:{FACTS['htp_lab_port']}/{scheme}/ok.txt"
    assert curl_status(host, url, user, secret) == expected


# --- password length limits, as nginx (libxcrypt, or its own apr1 code) applies them -------------

LIMIT_PASSWORDS = {"sha511": "s" * 511, "sha512": "t" * 512, "bcrypt72": "b" * 72, "apr2000": "a" * 2000}


@pytest.fixture(scope="module")
def limits(host):
    """limits.htpasswd for the /limits/ location, hashed on the controller with the module's code.

    sha512 holds a $6$ line for a 512-byte password, which the module refuses to write (computed
    with the low-level SHA-crypt function): nginx must refuse it too, or the refusal would be wrong.
    """
    sys.path.insert(0, str(PROJECT / ".cache" / "collections"))
    from ansible_collections.dockyard.registry.plugins.module_utils import _htpasswd as h  # pylint: disable=import-outside-toplevel

    pw = LIMIT_PASSWORDS
    lines = [
        "sha511:" + h.hash_password(pw["sha511"], h.SHA512_CRYPT),
        "sha512:$6$labsalt$" + h._sha_crypt_checksum(pw["sha512"].encode(), b"labsalt", 5000, h.SHA512_CRYPT),
        "bcrypt72:" + h.hash_password(pw["bcrypt72"], h.BCRYPT, bcrypt_cost=4),
        "apr2000:" + h.hash_password(pw["apr2000"], h.APR_MD5_CRYPT),
    ]
    text = "".join(line + "\n" for line in lines)
    path = f"{FACTS['htp_lab_dir']}/limits.htpasswd"
    host.check_output(f"printf %s {shlex.quote(text)} > {path} && chmod 0644 {path}")
    return h


@pytest.mark.parametrize("user, secret, expected, module_refuses", [
    ("sha511", LIMIT_PASSWORDS["sha511"], "200", False),
    ("sha512", LIMIT_PASSWORDS["sha512"], "401", True),                # libxcrypt refuses 512 bytes or more
    ("bcrypt72", LIMIT_PASSWORDS["bcrypt72"] + "-ignored", "200", True),  # bcrypt ignores byte 73 on
    ("apr2000", LIMIT_PASSWORDS["apr2000"], "200", False),             # nginx's own apr1 code: no limit
])
def test_nginx_password_length_limits_match_the_modules(host, limits, user, secret, expected, module_refuses):
    """nginx accepts or refuses each length as the module's rule says: the module refuses exactly the
    passwords nginx cannot verify whole (refused, or truncated so another password also logs in)."""
    url = f"http://127.0.0.1:{FACTS['htp_lab_port']}/limits/ok.txt"
    assert curl_status(host, url, user, secret) == expected
    scheme = {"sha": limits.SHA512_CRYPT, "bcr": limits.BCRYPT, "apr": limits.APR_MD5_CRYPT}[user[:3]]
    if module_refuses:
        with pytest.raises(limits.HtpasswdError, match="user 'x'"):
            limits.validate_password(secret, scheme, name="x")
    else:
        limits.validate_password(secret, scheme, name="x")


def test_nginx_serves_the_page_after_auth(host):
    out = host.check_output(
        f"curl -sS -u {shlex.quote('htp-bcrypt:' + password('bcrypt'))} "
        f"http://127.0.0.1:{FACTS['htp_lab_port']}/bcrypt/ok.txt")
    assert out == "ok"


def test_nginx_is_the_collections_build(host):
    version = host.run("/opt/nginx/sbin/nginx -v")
    assert "nginx/1.26.3" in version.stderr
    assert host.service("nginx").is_running
    conf = host.file("/opt/nginx/conf/nginx.conf").content_string
    for scheme in SCHEMES:
        assert f"auth_basic_user_file {FACTS['htp_lab_dir']}/{scheme}.htpasswd;" in conf


@pytest.mark.parametrize("user,secret,expected", [
    ("ci", "htp-lab-ci-password", "200"),
    ("ci", "htp-lab-ci-passwordx", "401"),
    (None, None, "401"),
])
def test_role_gate_over_tls(host, user, secret, expected):
    """The role's own /v2/ gate (its htpasswd, sha512_crypt by default) over TLS from the ca role."""
    assert FACTS["dockyard_registry_users"] == [{"name": "ci", "password": "htp-lab-ci-password"}]
    name = FACTS["dockyard_registry_name"]
    extra = f"--cacert /etc/dockyard/tls/ca.crt --resolve {name}:443:127.0.0.1"
    assert curl_status(host, f"https://{name}/v2/", user, secret, extra=extra) == expected


def test_role_htpasswd_is_sha512_crypt(host):
    f = host.file("/opt/nginx/conf/.htpasswd")
    assert f.mode == 0o640 and f.group == "www"
    assert f.content_string.startswith("ci:$6$")


# --- --diff shows names only -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def diff_run():
    inventory = os.environ.get("MOLECULE_INVENTORY_FILE")
    if not inventory:
        pytest.skip("needs molecule's inventory (MOLECULE_INVENTORY_FILE)")
    res = run_playbook("--diff", "-v", "-i", inventory, SCENARIO / "diff_probe.yml")
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    return res.stdout


def test_diff_lists_users_and_schemes(diff_run):
    lines = diff_run.splitlines()
    for expected in [
        "+alice (apr_md5_crypt)",
        "+bob (apr_md5_crypt)",
        "-alice (apr_md5_crypt)",
        "+alice (bcrypt, cost=10) [rehashed: scheme]",
        "-bob (apr_md5_crypt)",
        "+carol (bcrypt, cost=10)",
    ]:
        assert expected in lines, expected
    assert "users_removed" in diff_run  # -v: the whole result was printed, not only the diff


def lines_with(text: str, needle: str) -> list:
    return [line for line in text.splitlines() if needle in line]


def test_diff_and_result_hold_no_hash_and_no_password(diff_run):
    assert not lines_with(diff_run, "$")  # no $apr1$/$2y$ hash text anywhere in the output
    for user in FACTS["htp_lab_diff_users"]:
        assert not lines_with(diff_run, user["password"])
    # Ansible masks a no_log value it finds in a result as ******** (eight, not a banner's run of
    # stars): none may have been found.
    assert not [line for line in diff_run.splitlines() if re.search(r"(?<!\*)\*{8}(?!\*)", line)]
