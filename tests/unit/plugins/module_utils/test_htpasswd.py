# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the pure htpasswd logic (no Ansible involved)."""

from __future__ import annotations

import builtins

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _htpasswd as h
from ansible_collections.dockyard.registry.plugins.module_utils import _htpasswd_plan as hp

# ---------------------------------------------------------------------------------------------
# Known vectors made by OTHER implementations, pasted here as literals.
#   htpasswd = Apache 2.4.71 `htpasswd` (apache2-utils, Debian 12), e.g. `htpasswd -nbB -C 5 alice 'correct horse'`
#   openssl  = OpenSSL 3.0 `openssl passwd`, e.g. `openssl passwd -5 -salt saltstring 'Hello world!'`
#   libxcrypt = Debian 12 libcrypt1 4.4.33 through perl's crypt(), e.g.
#               perl -e 'print crypt("Hello world!", q{$6$rounds=10000$saltstringsaltstring})'
#   Drepper  = the test vectors of Ulrich Drepper's SHA-crypt specification (reproduced by libxcrypt)
# ---------------------------------------------------------------------------------------------
VECTORS = [
    # htpasswd -nbB -C 5 alice 'correct horse'
    ("correct horse", "$2y$05$cRMeeGYjCsC7DlO4HIu8XuY2MzEXsJSlXfNdx.hMTkHVp04IX286a", h.BCRYPT),
    # perl crypt("correct horse", '$2b$05$cRMeeGYjCsC7DlO4HIu8Xu') (libxcrypt)
    ("correct horse", "$2b$05$cRMeeGYjCsC7DlO4HIu8XuY2MzEXsJSlXfNdx.hMTkHVp04IX286a", h.BCRYPT),
    # perl crypt("correct horse", '$2a$05$cRMeeGYjCsC7DlO4HIu8Xu') (libxcrypt)
    ("correct horse", "$2a$05$cRMeeGYjCsC7DlO4HIu8XuY2MzEXsJSlXfNdx.hMTkHVp04IX286a", h.BCRYPT),
    # htpasswd -nbB -C 4 bob 'pässwörd ünïcode'   (UTF-8 terminal)
    ("pässwörd ünïcode", "$2y$04$3mZ.A7h3UPzn35dZ6GYbaOH0b9xWaJgaEIiiv4gwP0DjauWqxQgmS", h.BCRYPT),
    # htpasswd -nbm carol 'S3cret!'
    ("S3cret!", "$apr1$3sin79HZ$KXZrRUUOLKM9CHKmSbCfl1", h.APR_MD5_CRYPT),
    # htpasswd -nbm heidi 'pässwörd ünïcode'
    ("pässwörd ünïcode", "$apr1$1FmXlXKv$s8NUKicamkrCn8G7dKf5G/", h.APR_MD5_CRYPT),
    # openssl passwd -apr1 -salt Zq7xW9pL 'S3cret!'
    ("S3cret!", "$apr1$Zq7xW9pL$4S1n2Fqs82ECn9Q.44Wk/1", h.APR_MD5_CRYPT),
    # openssl passwd -apr1 -salt x 'an-apr1-password-longer-than-sixteen-bytes-xx'
    ("an-apr1-password-longer-than-sixteen-bytes-xx", "$apr1$x$5tLCfWtl45CEzhaXD1vmO1", h.APR_MD5_CRYPT),
    # openssl passwd -1 -salt saltsalt 'S3cret!'
    ("S3cret!", "$1$saltsalt$Rt5CJ/HYWOydn1g5ITynY/", h.MD5_CRYPT),
    # htpasswd -nb -2 erin 'S3cret!'
    ("S3cret!", "$5$NA2gycFmc/TP/Ihc$dj1kfego9/upifXVnS4vmjVaoJMsSU491o8WX9zUkbC", h.SHA256_CRYPT),
    # htpasswd -nb -2 -r 10000 frank 'Hello world!'
    ("Hello world!", "$5$rounds=10000$c0DyTkVHmPGjmB8X$HDBWgz5a9eABWL.7tph1gpm0n49Uqergqjyc9SFKgA.", h.SHA256_CRYPT),
    # openssl passwd -5 -salt saltstring 'Hello world!'   (also Drepper's first vector)
    ("Hello world!", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5", h.SHA256_CRYPT),
    # Drepper / libxcrypt: crypt("Hello world!", '$5$rounds=10000$saltstringsaltstring')
    ("Hello world!", "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA", h.SHA256_CRYPT),
    # Drepper / libxcrypt: crypt("a short string", '$5$rounds=123456$asaltof16chars..')
    ("a short string", "$5$rounds=123456$asaltof16chars..$gP3VQ/6X7UUEW3HkBn2w1/Ptq2jxPyzV/cZKmF/wJvD", h.SHA256_CRYPT),
    # libxcrypt: crypt("Hello world!", '$5$$')  (empty salt)
    ("Hello world!", "$5$$mAwMsDaqjtxAtGqstEIf7OBR15rgcx.jSKGM94IKRj/", h.SHA256_CRYPT),
    # htpasswd -nb -5 erin 'S3cret!'
    ("S3cret!", "$6$8c0krKpbYN0iwqvy$0cd/4F0x6RFuhneXJMvoM1gIpWHwHk2pp9AOmHHWLUlEfQTNjKnFy9wfHS7OGsLRTjTajMC/"
                "uCu5e7DSVXBsf.", h.SHA512_CRYPT),
    # htpasswd -nb -5 ivan 'pässwörd ünïcode'
    ("pässwörd ünïcode", "$6$mvA57EGcA7RxJMau$ZANMjlVSECO.9AdYXvFdG4Xd.FiUcVLzxBUDrrqqYdFRZhZxauJDK8fCiVbBZ/"
                         "oMLUncP5SEaquu1dNBnBQv3/", h.SHA512_CRYPT),
    # htpasswd -nb -5 -r 1000 grace '<the 89-byte passphrase below>'  (longer than one SHA-512 block)
    ("a-very-long-passphrase-that-is-longer-than-sixty-four-bytes-for-the-block-loop-0123456789",
     "$6$rounds=1000$kJWeVjQOW9osnQ4v$Q2PhpTzqR7FR8dQ84gJVDiBZD1RUHxQ4U8fL6ddrza0uV5vTQXxrPwCyVA4TysuZET."
     "e9nyxdsH9hrDEe69Fi0", h.SHA512_CRYPT),
    # openssl passwd -6 -salt saltstring 'Hello world!'   (also Drepper's vector)
    ("Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS"
                     "35inz1", h.SHA512_CRYPT),
    # Drepper / libxcrypt: crypt("Hello world!", '$6$rounds=10000$saltstringsaltstring')
    ("Hello world!", "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZe"
                     "HBy/YTBmSK6H9qs/y3RnOaw5v.", h.SHA512_CRYPT),
    # Drepper / libxcrypt: crypt("we have a short salt string but not a short password", '$6$rounds=77777$short')
    ("we have a short salt string but not a short password",
     "$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0",
     h.SHA512_CRYPT),
    # htpasswd -nbs dave 'S3cret!'
    ("S3cret!", "{SHA}n8Ks1GswRpcwwDkajhTBCdNCZjg=", h.LDAP_SHA1),
    # htpasswd -nbs judy 'pässwörd ünïcode'
    ("pässwörd ünïcode", "{SHA}JETlvMZgmPXJCEIRz/1ao/gXt0k=", h.LDAP_SHA1),
    # openssl: (printf 'S3cret!'; printf NaCl4u) | openssl dgst -sha1 -binary, then append NaCl4u, base64
    ("S3cret!", "{SSHA}kSCJ6vDzLitml6osmAmXdGOSl21OYUNsNHU=", h.LDAP_SALTED_SHA1),
    # nginx's {PLAIN} scheme (written by hand; there is no tool for it)
    ("S3cret!", "{PLAIN}S3cret!", h.PLAINTEXT),
]


@pytest.mark.parametrize("password, hashed, scheme", VECTORS, ids=[v[1][:12] for v in VECTORS])
def test_known_vectors_verify(password, hashed, scheme):
    assert h.identify(hashed).scheme == scheme
    assert h.verify_password(password, hashed) is True
    assert h.verify_password(password + "x", hashed) is False
    assert h.verify_password(password[:-1], hashed) is False


@pytest.mark.parametrize("password, hashed, scheme, salt, kwargs", [
    ("S3cret!", "$apr1$3sin79HZ$KXZrRUUOLKM9CHKmSbCfl1", h.APR_MD5_CRYPT, "3sin79HZ", {}),
    ("Hello world!", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5", h.SHA256_CRYPT, "saltstring", {}),
    ("Hello world!", "$5$rounds=10000$c0DyTkVHmPGjmB8X$HDBWgz5a9eABWL.7tph1gpm0n49Uqergqjyc9SFKgA.",
     h.SHA256_CRYPT, "c0DyTkVHmPGjmB8X", {"rounds": 10000}),
    ("S3cret!", "$6$8c0krKpbYN0iwqvy$0cd/4F0x6RFuhneXJMvoM1gIpWHwHk2pp9AOmHHWLUlEfQTNjKnFy9wfHS7OGsLRTjTajMC/"
                "uCu5e7DSVXBsf.", h.SHA512_CRYPT, "8c0krKpbYN0iwqvy", {}),
    # htpasswd writes $2y$ too: the same salt gives the byte-identical hash
    ("correct horse", "$2y$05$cRMeeGYjCsC7DlO4HIu8XuY2MzEXsJSlXfNdx.hMTkHVp04IX286a", h.BCRYPT,
     "cRMeeGYjCsC7DlO4HIu8Xu", {"bcrypt_cost": 5}),
])
def test_hash_with_fixed_salt_reproduces_other_implementations(password, hashed, scheme, salt, kwargs):
    assert h.hash_password(password, scheme, salt=salt, **kwargs) == hashed


ROUND_TRIP = [
    (scheme, password)
    for scheme in h.WRITE_SCHEMES
    for password in ("x", "S3cret!", "pässwörd ünïcode 🔑", "a" * 72, "p" * 200, "sp ace:colon")
    if scheme != h.BCRYPT or len(password.encode("utf-8")) <= 72   # longer ones are refused (see below)
]


@pytest.mark.parametrize("scheme, password", ROUND_TRIP)
def test_every_scheme_round_trips(scheme, password):
    hashed = h.hash_password(password, scheme, bcrypt_cost=4)
    info = h.identify(hashed)
    assert info.scheme == scheme
    assert h.verify_password(password, hashed)
    assert not h.verify_password(password + "!", hashed)
    # a fresh salt every time
    assert h.hash_password(password, scheme, bcrypt_cost=4) != hashed


def test_bcrypt_is_written_as_2y_with_the_requested_cost():
    hashed = h.hash_password("pw", h.BCRYPT, bcrypt_cost=5)
    assert hashed.startswith("$2y$05$") and len(hashed) == 60
    assert h.identify(hashed) == h.HashInfo(h.BCRYPT, 5, "2y")
    assert h.hash_password("pw", h.BCRYPT).startswith("$2y$%02d$" % h.BCRYPT_DEFAULT_COST)


def test_sha_crypt_rounds_are_written_only_when_not_default():
    assert h.hash_password("pw", h.SHA512_CRYPT).count("$") == 3
    assert h.hash_password("pw", h.SHA512_CRYPT, rounds=5000).count("$") == 3
    hashed = h.hash_password("pw", h.SHA256_CRYPT, rounds=1000)
    assert hashed.startswith("$5$rounds=1000$")
    assert h.identify(hashed) == h.HashInfo(h.SHA256_CRYPT, 1000)
    assert h.verify_password("pw", hashed)


def test_apr1_salt_is_8_crypt64_chars():
    hashed = h.hash_password("pw", h.APR_MD5_CRYPT)
    assert len(hashed.split("$")[2]) == 8


@pytest.mark.parametrize("hashed", [
    "",
    "13Wd9VS4H9CKc",                                              # htpasswd -nbd: traditional DES crypt
    "S3cret!",                                                    # htpasswd -nbp: plain text without {PLAIN}
    "$5$rounds=999$abc$" + "a" * 43,                              # libxcrypt refuses rounds < 1000
    "$5$rounds=01000$abc$" + "a" * 43,                            # ... and leading zeros
    "$5$rounds=1000000000$abc$" + "a" * 43,                       # ... and rounds > 999999999
    "$5$ab:c$" + "a" * 43,                                        # salt outside the crypt alphabet
    "$5$abc$" + "a" * 86,                                         # wrong checksum length for $5$
    "$6$abc$" + "a" * 43,
    "$2y$03$" + "a" * 53,                                         # bcrypt cost below 4
    "$2y$32$" + "a" * 53,
    "$2x$05$cRMeeGYjCsC7DlO4HIu8XuY2MzEXsJSlXfNdx.hMTkHVp04IX286a",  # buggy $2x$ variant
    "$2y$05$cRMeeGYjCsC7DlO4HIu8XuY2MzEXsJSlXfNdx.hMTkHVp04IX286",   # one char short
    "$apr1$toolongsalt$KXZrRUUOLKM9CHKmSbCfl1",
    "{SHA}notbase64",
    "{SSHA}AAAA",                                                 # shorter than a SHA-1 digest
    "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
])
def test_unknown_or_malformed_hashes_are_not_recognised(hashed):
    assert h.identify(hashed).scheme is None
    assert h.identify(hashed).label == "unknown"
    with pytest.raises(h.HtpasswdError, match="unknown hash format"):
        h.verify_password("S3cret!", hashed)


def test_labels_never_contain_salt_or_checksum():
    assert h.identify(VECTORS[1][1]).label == "bcrypt, $2b$, cost=5"
    assert h.identify("$6$rounds=77777$short$" + "a" * 86).label == "sha512_crypt, rounds=77777"
    assert h.identify("$apr1$3sin79HZ$KXZrRUUOLKM9CHKmSbCfl1").label == "apr_md5_crypt"


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, message", [
    ("", "must not be empty"),
    ("al:ice", "colon"),
    ("al\nice", "newline"),
    ("al\rice", "newline"),
    ("al\tice", "control"),
    ("al\x00ice", "control"),
    (" alice", "whitespace"),
    ("alice ", "whitespace"),
    ("#alice", "comment"),
    (None, "must be a string"),
])
def test_bad_user_names_are_refused(name, message):
    with pytest.raises(h.HtpasswdError, match=message):
        hp.validate_user_name(name)
    with pytest.raises(h.HtpasswdError, match=message):
        hp.user_specs(users=[{"name": name, "password": "pw"}])


@pytest.mark.parametrize("password, scheme, message", [
    ("two\nlines", h.SHA512_CRYPT, "newline"),
    ("two\rlines", h.APR_MD5_CRYPT, "newline"),
    ("nul\x00byte", h.SHA256_CRYPT, "NUL"),
    ("", h.BCRYPT, "must not be empty"),
    ("a" * 73, h.BCRYPT, "73 bytes"),
    ("ä" * 37, h.BCRYPT, "74 bytes"),          # 37 characters, 74 bytes of UTF-8
    (None, h.BCRYPT, "must be a string"),
])
def test_bad_passwords_are_refused_without_echoing_them(password, scheme, message):
    with pytest.raises(h.HtpasswdError, match=message) as exc:
        h.validate_password(password, scheme, name="alice")
    assert "alice" in str(exc.value)
    if password:
        assert password not in str(exc.value)
    with pytest.raises(h.HtpasswdError, match=message):
        h.hash_password(password, scheme)


def test_bcrypt_accepts_exactly_72_bytes_and_other_schemes_accept_more():
    h.validate_password("a" * 72, h.BCRYPT)
    h.validate_password("a" * 73, h.SHA512_CRYPT)
    assert h.verify_password("a" * 73, h.hash_password("a" * 73, h.APR_MD5_CRYPT))


@pytest.mark.parametrize("scheme", [h.SHA256_CRYPT, h.SHA512_CRYPT])
@pytest.mark.parametrize("password", [
    "a" * 512,
    "a" * 4000,
    "\u00e4" * 256,            # 256 characters, 512 bytes of UTF-8
])
def test_sha_crypt_refuses_passwords_libxcrypt_cannot_verify(scheme, password):
    # libxcrypt (what nginx and Apache call for $5$/$6$) refuses a passphrase of 512 bytes or more:
    # such a user could never log in, so the module must refuse, naming the user and the limit.
    with pytest.raises(h.HtpasswdError, match="511 bytes") as exc:
        h.validate_password(password, scheme, name="alice")
    assert "alice" in str(exc.value) and scheme in str(exc.value)
    assert password not in str(exc.value) and password[:16] not in str(exc.value)
    with pytest.raises(h.HtpasswdError, match="511 bytes"):
        h.hash_password(password, scheme)
    with pytest.raises(h.HtpasswdError, match="511 bytes"):
        hp.plan([], [hp.UserSpec("alice", password)], hp.Policy(scheme=scheme))


@pytest.mark.parametrize("scheme", [h.SHA256_CRYPT, h.SHA512_CRYPT])
def test_sha_crypt_accepts_511_bytes(scheme):
    password = "b" * 511
    h.validate_password(password, scheme, name="alice")
    assert h.verify_password(password, h.hash_password(password, scheme))


def test_apr1_has_no_length_limit():
    # nginx and Apache verify $apr1$ with their own MD5 code, not with crypt(): no limit there.
    password = "c" * 2000
    h.validate_password(password, h.APR_MD5_CRYPT, name="alice")
    assert h.verify_password(password, h.hash_password(password, h.APR_MD5_CRYPT))


def test_verify_of_an_overlong_sha_crypt_password_is_false():
    # An existing $6$ line can never match a password libxcrypt refuses to hash.
    stored = h.hash_password("d" * 511, h.SHA512_CRYPT)
    assert h.verify_password("d" * 511, stored)
    hashed_512 = "$6$salt$" + h._sha_crypt_checksum(b"d" * 512, b"salt", 5000, h.SHA512_CRYPT)
    assert h.verify_password("d" * 512, hashed_512) is False


def _libcrypt():
    import ctypes  # pylint: disable=import-outside-toplevel
    import ctypes.util  # pylint: disable=import-outside-toplevel
    name = ctypes.util.find_library("crypt")
    if not name:
        pytest.skip("no libcrypt on this host")
    lib = ctypes.CDLL(name)
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    return lib


@pytest.mark.parametrize("scheme", [h.SHA256_CRYPT, h.SHA512_CRYPT])
def test_the_limit_is_the_one_of_this_hosts_libcrypt(scheme):
    """The constant is checked against the real library: 511 bytes verify, 512 are refused."""
    lib = _libcrypt()
    longest = "e" * h.MAX_PASSWORD_BYTES[scheme]
    stored = h.hash_password(longest, scheme)
    assert lib.crypt(longest.encode(), stored.encode()) == stored.encode()
    too_long = longest + "e"
    answer = lib.crypt(too_long.encode(), stored.encode())
    assert answer is None or not answer.startswith(stored[:3].encode()), answer


def test_bcrypt_truncation_at_72_bytes_is_real():
    """Why the module refuses bcrypt passwords over 72 bytes: libcrypt ignores byte 73 on."""
    lib = _libcrypt()
    stored = h.hash_password("f" * 72, h.BCRYPT, bcrypt_cost=4)
    assert lib.crypt(("f" * 72 + "anything").encode(), stored.encode()) == stored.encode()


@pytest.mark.parametrize("scheme, message", [
    ("md5", "unknown hash scheme 'md5'"),
    ("des_crypt", "unknown hash scheme"),
    ("", "unknown hash scheme"),
    (h.LDAP_SHA1, "only read"),
    (h.PLAINTEXT, "only read"),
    (h.MD5_CRYPT, "only read"),
])
def test_unknown_or_read_only_schemes_are_refused(scheme, message):
    with pytest.raises(h.HtpasswdError, match=message):
        h.hash_password("pw", scheme)
    with pytest.raises(h.HtpasswdError, match=message):
        hp.plan([], [hp.UserSpec("alice", "pw")], hp.Policy(scheme=scheme))


@pytest.mark.parametrize("kwargs, message", [
    ({"bcrypt_cost": 3}, "bcrypt_cost must be between 4 and 31"),
    ({"bcrypt_cost": 32}, "bcrypt_cost must be between 4 and 31"),
    ({"bcrypt_cost": True}, "bcrypt_cost must be an integer"),
    ({"rounds": 999}, "rounds must be between 1000 and 999999999"),
    ({"rounds": 10 ** 9}, "rounds must be between"),
    ({"rounds": "5000"}, "rounds must be an integer"),
])
def test_bad_work_factors_are_refused(kwargs, message):
    with pytest.raises(h.HtpasswdError, match=message):
        h.validate_cost(h.SHA512_CRYPT, **kwargs)


def test_bad_update_password_is_refused():
    with pytest.raises(h.HtpasswdError, match="update_password"):
        hp.plan([], [], hp.Policy(update_password="sometimes"))


@pytest.mark.parametrize("kwargs, message", [
    ({}, "one of name or users is required"),
    ({"password": "pw"}, "password needs name"),
    ({"name": "a", "users": []}, "mutually exclusive"),
    ({"users": [{"name": "a", "password": "p"}], "password": "pw"}, "password goes with name"),
    ({"name": "alice"}, "password is required"),
    ({"users": [{"name": "a", "password": "p"}, {"name": "a", "password": "q"}]}, "listed more than once"),
    ({"users": [{"name": "a", "password": "p", "pasword": "typo"}]}, "unknown keys pasword"),
    ({"users": ["alice"]}, r"users\[0\] must be a dictionary"),
    ({"users": [{"name": "a", "state": "gone"}]}, "must be present or absent"),
    ({"name": "a", "password": "p", "state": "gone"}, "must be present or absent"),
])
def test_user_specs_refuses_bad_combinations(kwargs, message):
    with pytest.raises(h.HtpasswdError, match=message):
        hp.user_specs(**kwargs)


def test_user_specs_inherit_state_and_hide_passwords():
    specs = hp.user_specs(users=[
        {"name": "alice", "password": "secret-a", "state": None},
        {"name": "bob", "state": "absent"},
        {"name": "carol", "password": "secret-c", "state": "present"},
    ], state="absent")
    assert [(s.name, s.state) for s in specs] == [("alice", "absent"), ("bob", "absent"), ("carol", "present")]
    assert "secret" not in repr(specs)
    assert hp.user_specs(name="dave", state="absent") == [hp.UserSpec("dave", None, "absent")]


# ---------------------------------------------------------------------------------------------
# Parse / serialize
# ---------------------------------------------------------------------------------------------

FILE = (
    "# registry users, managed partly by hand\n"
    "alice:$apr1$3sin79HZ$KXZrRUUOLKM9CHKmSbCfl1\n"
    "\n"
    "legacy:13Wd9VS4H9CKc:kept as-is, DES crypt\n"
    "   # indented comment\n"
    "bob:{SHA}n8Ks1GswRpcwwDkajhTBCdNCZjg=\r\n"
    "carol:$2y$05$cRMeeGYjCsC7DlO4HIu8XuY2MzEXsJSlXfNdx.hMTkHVp04IX286a\n"
)


def test_parse_serialize_round_trips_byte_for_byte():
    lines = h.parse(FILE)
    assert h.serialize(lines) == FILE
    assert [(x.lineno, x.user) for x in lines] == [
        (1, None), (2, "alice"), (3, None), (4, "legacy"), (5, None), (6, "bob"), (7, "carol")]
    legacy = lines[3]
    assert legacy.hashed == "13Wd9VS4H9CKc" and legacy.extra == ":kept as-is, DES crypt"
    assert lines[5].hashed == "{SHA}n8Ks1GswRpcwwDkajhTBCdNCZjg="   # the CR is not part of the hash
    assert "13Wd9VS4H9CKc" not in repr(lines) and "$apr1$" not in repr(lines)


def test_parse_empty_and_missing_final_newline():
    assert h.parse("") == []
    assert h.serialize([]) == ""
    lines = h.parse("alice:{PLAIN}x")
    assert lines[0].user == "alice"
    assert h.serialize(lines) == "alice:{PLAIN}x\n"


@pytest.mark.parametrize("text, lineno, message", [
    ("alice:x\nno colon here\n", 2, "no ':'"),
    ("# c\n\n:hash\n", 3, "empty user name"),
    ("alice:x\n bob:x\n", 2, "starts with whitespace"),
    ("alice:x\nbob:x\x00\n", 2, "NUL"),
    ("alice:x\rbob:x\n", 1, "carriage return"),
    ("{PLAIN}secret-in-a-broken-line\n", 1, "no ':'"),
])
def test_unparsable_files_fail_with_the_line_number_only(text, lineno, message):
    with pytest.raises(h.HtpasswdParseError, match=message) as exc:
        h.parse(text)
    assert exc.value.lineno == lineno
    assert str(exc.value).startswith("line %d: " % lineno)
    assert "secret" not in str(exc.value) and "bob:x" not in str(exc.value)


# ---------------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------------

SHA = hp.Policy(scheme=h.SHA512_CRYPT)
CHEAP_BCRYPT = hp.Policy(scheme=h.BCRYPT, bcrypt_cost=4)


def apply(text, users, policy):
    """Plan, render, and return (plan, new text)."""
    p = hp.plan(h.parse(text), users, policy)
    return p, (p.render() if p.changed else text)


def test_adding_to_an_empty_file_then_rerun_is_unchanged():
    users = [hp.UserSpec("alice", "pw-a"), hp.UserSpec("bob", "pw-b")]
    p, text = apply("", users, SHA)
    assert p.changed and p.added == ["alice", "bob"] and p.removed == [] and p.updated == []
    entries = h.parse(text)
    assert [x.user for x in entries] == ["alice", "bob"]
    assert h.verify_password("pw-a", entries[0].hashed) and h.verify_password("pw-b", entries[1].hashed)
    again = hp.plan(h.parse(text), users, SHA)
    assert not again.changed
    assert again.result() == {"users_added": [], "users_removed": [], "users_updated": []}


def test_unmanaged_lines_are_kept_in_order_and_new_users_appended():
    p, text = apply(FILE, [hp.UserSpec("zed", "pw")], SHA)
    assert p.added == ["zed"]
    assert text.startswith(FILE)
    assert h.parse(text)[-1].user == "zed"


def test_password_change_is_detected_by_verification():
    p, text = apply(FILE, [hp.UserSpec("alice", "new password")], hp.Policy(scheme=h.APR_MD5_CRYPT))
    assert p.updated == [("alice", "password")]
    assert h.verify_password("new password", h.parse(text)[1].hashed)
    # only alice's line changed
    assert text.split("\n")[0] == FILE.split("\n")[0] and text.split("\n")[2:] == FILE.split("\n")[2:]
    # same password, same scheme: nothing to do even though the salt is different each time
    p2 = hp.plan(h.parse(FILE), [hp.UserSpec("alice", "S3cret!")], hp.Policy(scheme=h.APR_MD5_CRYPT))
    assert not p2.changed


@pytest.mark.parametrize("user, password, policy, reason", [
    ("alice", "S3cret!", SHA, "scheme"),                                            # apr1 -> sha512
    ("bob", "S3cret!", CHEAP_BCRYPT, "scheme"),                                     # {SHA} -> bcrypt
    ("carol", "correct horse", hp.Policy(scheme=h.BCRYPT, bcrypt_cost=6), "cost"),   # explicit cost differs
    ("legacy", "whatever", SHA, "unknown_scheme"),                                  # DES crypt for a managed user
])
def test_rehash_reasons(user, password, policy, reason):
    p, text = apply(FILE, [hp.UserSpec(user, password)], policy)
    assert p.updated == [(user, reason)]
    line = [x for x in h.parse(text) if x.user == user][0]
    assert h.identify(line.hashed).scheme == policy.scheme
    assert h.verify_password(password, line.hashed)
    assert not hp.plan(h.parse(text), [hp.UserSpec(user, password)], policy).changed


def test_extra_field_is_dropped_from_managed_lines_only():
    # `htpasswd -v` (checked: "password verification failed") reads "hash:comment" as the hash.
    p, text = apply(FILE, [hp.UserSpec("legacy", "pw")], SHA)
    line = [x for x in h.parse(text) if x.user == "legacy"][0]
    assert line.extra == "" and line.text == "legacy:" + line.hashed
    # a verified hash with a comment is kept, only the comment goes
    apr = "alice:$apr1$3sin79HZ$KXZrRUUOLKM9CHKmSbCfl1:added by hand\nbob:{PLAIN}x:other\n"
    policy = hp.Policy(scheme=h.APR_MD5_CRYPT)
    p, text = apply(apr, [hp.UserSpec("alice", "S3cret!")], policy)
    assert p.updated == [("alice", "extra_field")]
    assert text == "alice:$apr1$3sin79HZ$KXZrRUUOLKM9CHKmSbCfl1\nbob:{PLAIN}x:other\n"
    assert p.diff()["after"] == "alice (apr_md5_crypt) [rewritten: extra_field]\nbob (plaintext)\n"
    assert not hp.plan(h.parse(text), [hp.UserSpec("alice", "S3cret!")], policy).changed
    # on_create leaves the line alone
    assert not hp.plan(h.parse(apr), [hp.UserSpec("alice", "S3cret!")],
                      hp.Policy(scheme=h.APR_MD5_CRYPT, update_password="on_create")).changed


def test_bcrypt_2b_is_rewritten_as_2y_and_cost_is_kept_when_not_set():
    b2 = "carol:$2b$05$cRMeeGYjCsC7DlO4HIu8XuY2MzEXsJSlXfNdx.hMTkHVp04IX286a\n"
    p, text = apply(b2, [hp.UserSpec("carol", "correct horse")], hp.Policy(scheme=h.BCRYPT))
    assert p.updated == [("carol", "scheme")]
    assert text.startswith("carol:$2y$10$")
    # a $2y$ hash with cost 5 is fine as long as bcrypt_cost is not set
    y5 = "carol:$2y$05$cRMeeGYjCsC7DlO4HIu8XuY2MzEXsJSlXfNdx.hMTkHVp04IX286a\n"
    assert not hp.plan(h.parse(y5), [hp.UserSpec("carol", "correct horse")], hp.Policy(scheme=h.BCRYPT)).changed


def test_sha_rounds_only_enforced_when_set():
    text = "u:$6$rounds=1000$kJWeVjQOW9osnQ4v$Q2PhpTzqR7FR8dQ84gJVDiBZD1RUHxQ4U8fL6ddrza0uV5vTQXxrPwCyVA4TysuZET." \
           "e9nyxdsH9hrDEe69Fi0\n"
    pw = "a-very-long-passphrase-that-is-longer-than-sixty-four-bytes-for-the-block-loop-0123456789"
    assert not hp.plan(h.parse(text), [hp.UserSpec("u", pw)], SHA).changed
    assert not hp.plan(h.parse(text), [hp.UserSpec("u", pw)], hp.Policy(scheme=h.SHA512_CRYPT, rounds=1000)).changed
    p, new = apply(text, [hp.UserSpec("u", pw)], hp.Policy(scheme=h.SHA512_CRYPT, rounds=5000))
    assert p.updated == [("u", "rounds")]
    assert h.identify(h.parse(new)[0].hashed) == h.HashInfo(h.SHA512_CRYPT, 5000)


def test_unknown_hash_of_unmanaged_user_is_kept():
    p, text = apply(FILE, [hp.UserSpec("alice", "S3cret!")], hp.Policy(scheme=h.APR_MD5_CRYPT, exclusive=False))
    assert not p.changed
    assert "legacy:13Wd9VS4H9CKc:kept as-is, DES crypt" in text


def test_absent_users_are_removed_and_missing_ones_ignored():
    p, text = apply(FILE, [hp.UserSpec("bob", state="absent"), hp.UserSpec("nobody", state="absent")], SHA)
    assert p.removed == ["bob"] and p.added == [] and p.updated == []
    assert "bob:" not in text and text.count("\n") == FILE.count("\n") - 1


def test_exclusive_removes_unlisted_users_but_keeps_comments():
    policy = hp.Policy(scheme=h.APR_MD5_CRYPT, exclusive=True)
    p, text = apply(FILE, [hp.UserSpec("alice", "S3cret!"), hp.UserSpec("dave", "pw")], policy)
    assert p.removed == ["legacy", "bob", "carol"]
    assert p.added == ["dave"] and p.updated == []
    assert [x.user for x in h.parse(text) if x.is_entry] == ["alice", "dave"]
    assert "# registry users, managed partly by hand\n" in text and "   # indented comment\n" in text
    assert "alice:$apr1$3sin79HZ$KXZrRUUOLKM9CHKmSbCfl1\n" in text   # verified, untouched


def test_exclusive_with_no_users_empties_the_file_of_users():
    p, text = apply(FILE, [], hp.Policy(exclusive=True))
    assert p.removed == ["alice", "legacy", "bob", "carol"]
    assert not any(x.is_entry for x in h.parse(text))


def test_duplicates_of_a_managed_user_are_dropped():
    text = "alice:{PLAIN}S3cret!\nbob:{PLAIN}x\nalice:{PLAIN}old\n"
    policy = hp.Policy(scheme=h.APR_MD5_CRYPT)
    p, new = apply(text, [hp.UserSpec("alice", "S3cret!")], policy)
    assert p.updated == [("alice", "scheme")]
    assert [x.user for x in h.parse(new)] == ["alice", "bob"]
    apr = "alice:$apr1$3sin79HZ$KXZrRUUOLKM9CHKmSbCfl1\nalice:{PLAIN}x\n"
    p, new = apply(apr, [hp.UserSpec("alice", "S3cret!")], policy)
    assert p.updated == [("alice", "duplicate")]
    assert new == "alice:$apr1$3sin79HZ$KXZrRUUOLKM9CHKmSbCfl1\n"
    # duplicates of unmanaged users are not our business
    assert not hp.plan(h.parse("x:a\nx:b\n"), [], policy).changed


def test_on_create_leaves_existing_users_alone():
    policy = hp.Policy(scheme=h.BCRYPT, bcrypt_cost=4, update_password="on_create")
    p, text = apply(FILE, [hp.UserSpec("alice", "other"), hp.UserSpec("bob", "x"), hp.UserSpec("new", "pw")], policy)
    assert p.added == ["new"] and p.updated == [] and p.removed == []
    assert text.startswith(FILE)


def test_per_user_state_overrides():
    users = hp.user_specs(users=[{"name": "alice", "state": "absent"}, {"name": "eve", "password": "pw"}])
    p, text = apply(FILE, users, SHA)
    assert p.removed == ["alice"] and p.added == ["eve"]


def test_diff_and_results_carry_names_and_schemes_only():
    users = [hp.UserSpec("alice", "new password"), hp.UserSpec("bob", state="absent"), hp.UserSpec("eve", "pw-e")]
    p = hp.plan(h.parse(FILE), users, hp.Policy(scheme=h.SHA512_CRYPT))
    d = p.diff(header="/etc/nginx/htpasswd")
    assert d["before"] == (
        "alice (apr_md5_crypt)\nlegacy (unknown)\nbob (ldap_sha1)\ncarol (bcrypt, cost=5)\n")
    assert d["after"] == (
        "alice (sha512_crypt, rounds=5000) [rehashed: scheme]\nlegacy (unknown)\ncarol (bcrypt, cost=5)\n"
        "eve (sha512_crypt, rounds=5000)\n")
    assert d["before_header"] == d["after_header"] == "/etc/nginx/htpasswd"
    everything = repr(d) + repr(p.result()) + repr(p)
    for secret in ("new password", "pw-e", "$apr1$", "3sin79HZ", "{SHA}", "$2y$", "13Wd9VS4H9CKc"):
        assert secret not in everything
    assert p.result() == {
        "users_added": ["eve"],
        "users_removed": ["bob"],
        "users_updated": [{"name": "alice", "reason": "scheme"}],
    }
    assert p.summary() == "1 added (eve), 1 removed (bob), 1 updated (alice: scheme)"
    assert hp.plan(h.parse(FILE), [], hp.Policy()).summary() == "0 added, 0 removed, 0 updated"


def test_password_change_is_visible_in_the_diff():
    p = hp.plan(h.parse(FILE), [hp.UserSpec("alice", "new")], hp.Policy(scheme=h.APR_MD5_CRYPT))
    assert "alice (apr_md5_crypt) [rehashed: password]\n" in p.diff()["after"]


def test_plan_refuses_bad_input_before_touching_anything():
    lines = h.parse(FILE)
    with pytest.raises(h.HtpasswdError, match="72"):
        hp.plan(lines, [hp.UserSpec("alice", "a" * 80)], hp.Policy(scheme=h.BCRYPT))
    with pytest.raises(h.HtpasswdError, match="colon"):
        hp.plan(lines, [hp.UserSpec("a:b", "pw")], SHA)
    with pytest.raises(h.HtpasswdError, match="more than once"):
        hp.plan(lines, [hp.UserSpec("a", "pw"), hp.UserSpec("a", state="absent")], SHA)
    with pytest.raises(h.HtpasswdError, match="must not be empty"):
        hp.plan(lines, [hp.UserSpec("a", "")], SHA)


def test_serialize_refuses_unrendered_lines():
    p = hp.plan([], [hp.UserSpec("a", "pw")], SHA)
    with pytest.raises(h.HtpasswdError, match="no hash yet"):
        h.serialize(p.lines)


# ---------------------------------------------------------------------------------------------
# bcrypt backends
# ---------------------------------------------------------------------------------------------

def _no_passlib(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("passlib"):
            raise ImportError("no passlib here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)


def test_missing_bcrypt_is_reported_with_a_package_hint(monkeypatch):
    monkeypatch.setattr(h, "_bcrypt_lib", None)
    _no_passlib(monkeypatch)
    assert not h.bcrypt_available()
    p = hp.plan([], [hp.UserSpec("alice", "pw")], hp.Policy(scheme=h.BCRYPT))   # planning needs no library
    assert p.added == ["alice"] and "python3-bcrypt" in p.missing_backend()
    with pytest.raises(h.MissingBackendError, match="python3-bcrypt"):
        p.render()
    assert hp.plan([], [hp.UserSpec("alice", "pw")], SHA).missing_backend() is None
    with pytest.raises(h.MissingBackendError, match="python3-bcrypt"):
        h.verify_password("correct horse", VECTORS[0][1])
    # other schemes do not need it, not even to replace a bcrypt hash
    p = hp.plan(h.parse(FILE), [hp.UserSpec("carol", "correct horse")], SHA)
    assert p.updated == [("carol", "scheme")]
    assert h.identify(h.parse(p.render())[-1].hashed).scheme == h.SHA512_CRYPT


def test_passlib_is_an_optional_fallback(monkeypatch):
    pytest.importorskip("passlib.hash")
    monkeypatch.setattr(h, "_bcrypt_lib", None)
    hashed = h.hash_password("pw", h.BCRYPT, bcrypt_cost=4)
    assert hashed.startswith("$2y$04$")
    assert h.verify_password("pw", hashed) and not h.verify_password("px", hashed)
    assert h.hash_password("correct horse", h.BCRYPT, bcrypt_cost=5, salt="cRMeeGYjCsC7DlO4HIu8Xu") == VECTORS[0][1]
    assert h.verify_password("correct horse", VECTORS[1][1])   # $2b$


def test_bcrypt_verify_of_an_overlong_password_is_false_not_an_error():
    assert h.verify_password("a" * 100, VECTORS[0][1]) is False
