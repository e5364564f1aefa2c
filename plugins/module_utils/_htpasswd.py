# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the dockyard.registry collection. This is not a public API: other collections must
# not import it, and it may change in any release without notice.

"""htpasswd files without Ansible: hash schemes, password hashing and verification, parse and
serialize. Planning a change to a file (user names, policy, plan) is ``_htpasswd_plan``; this file
is also copied flat next to the token service (roles/token_service/vars/main.yml), so it imports
only the standard library and ``_scalars``.

Everything here is pure Python (standard library only). The one exception is bcrypt, which needs
the ``bcrypt`` package (Debian/Ubuntu ``python3-bcrypt``, RHEL ``python3-bcrypt``) or, failing
that, passlib/libpass with a working bcrypt backend. MD5-crypt (``$apr1$``/``$1$``) and
SHA-crypt (``$5$``/``$6$``, Ulrich Drepper's specification) are implemented here, because the
standard library ``crypt`` module is deprecated and was removed in Python 3.13.

Bad input raises ``ValueError`` (or a subclass); nothing in here ever puts a password or a hash in
an exception message. The code must run on the target's Python (3.9 and later).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass, field
from typing import Optional

try:
    from ansible_collections.dockyard.registry.plugins.module_utils import _scalars
except ImportError:  # copied flat next to the token service (roles/token_service/vars/main.yml)
    import _scalars  # type: ignore[no-redef]

try:
    import bcrypt as _bcrypt_lib
except ImportError:  # pragma: no cover - depends on the target
    _bcrypt_lib = None


# --------------------------------------------------------------------------------------------
# Schemes
# --------------------------------------------------------------------------------------------

BCRYPT = "bcrypt"
APR_MD5_CRYPT = "apr_md5_crypt"
MD5_CRYPT = "md5_crypt"
SHA256_CRYPT = "sha256_crypt"
SHA512_CRYPT = "sha512_crypt"
LDAP_SHA1 = "ldap_sha1"
LDAP_SALTED_SHA1 = "ldap_salted_sha1"
PLAINTEXT = "plaintext"

#: Schemes the module can write.
WRITE_SCHEMES = (BCRYPT, APR_MD5_CRYPT, SHA256_CRYPT, SHA512_CRYPT)
#: Schemes it can recognise and verify in an existing file (never written).
READ_ONLY_SCHEMES = (MD5_CRYPT, LDAP_SHA1, LDAP_SALTED_SHA1, PLAINTEXT)
READ_SCHEMES = WRITE_SCHEMES + READ_ONLY_SCHEMES

DEFAULT_SCHEME = BCRYPT
BCRYPT_DEFAULT_COST = 10
BCRYPT_MIN_COST = 4
BCRYPT_MAX_COST = 31
BCRYPT_MAX_PASSWORD_BYTES = 72
#: libxcrypt (crypt(3) on Debian 12+, Ubuntu, RHEL 9), which nginx and Apache call for every hash
#: they do not verify themselves ($5$, $6$, $1$, bcrypt), refuses a passphrase of 512 bytes or more
#: (CRYPT_MAX_PASSPHRASE_SIZE): such a user could never log in.
LIBXCRYPT_MAX_PASSWORD_BYTES = 511
#: The longest password (UTF-8 bytes) each written scheme stores whole and its consumers verify;
#: None: no limit ($apr1$ is verified by nginx's and Apache's own MD5 code, not by crypt(3)).
MAX_PASSWORD_BYTES = {
    BCRYPT: BCRYPT_MAX_PASSWORD_BYTES,
    SHA256_CRYPT: LIBXCRYPT_MAX_PASSWORD_BYTES,
    SHA512_CRYPT: LIBXCRYPT_MAX_PASSWORD_BYTES,
    APR_MD5_CRYPT: None,
}
SHA_CRYPT_DEFAULT_ROUNDS = 5000
SHA_CRYPT_MIN_ROUNDS = 1000
SHA_CRYPT_MAX_ROUNDS = 999999999
#: The bcrypt identifier this module writes. Apache (APR's crypt_blowfish) expects ``$2y$``;
#: nginx (libxcrypt) and Go's x/crypto/bcrypt (Distribution) accept ``$2y$`` as well.
BCRYPT_IDENT = "2y"

_CRYPT64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_C64 = "[./0-9A-Za-z]"

_BCRYPT_RE = re.compile(r"\$2([aby])\$([0-9]{2})\$(" + _C64 + "{53})")
_MD5_RE = re.compile(r"\$(apr1|1)\$(" + _C64 + r"{0,8})\$(" + _C64 + "{22})")
_SHA_RE = re.compile(
    r"\$([56])\$(?:rounds=([1-9][0-9]{0,9})\$)?(" + _C64 + r"{0,16})\$(" + _C64 + "{43}|" + _C64 + "{86})"
)
_LDAP_SHA_RE = re.compile(r"\{SHA\}([A-Za-z0-9+/]{27}=)")
_LDAP_SSHA_RE = re.compile(r"\{SSHA\}([A-Za-z0-9+/]+={0,2})")


class HtpasswdError(ValueError):
    """Base class of every error raised here."""


class HtpasswdParseError(HtpasswdError):
    """The file is not an htpasswd file we can safely rewrite. Carries the 1-based line number."""

    def __init__(self, lineno, reason):
        self.lineno = lineno
        self.reason = reason
        super(HtpasswdParseError, self).__init__("line %d: %s" % (lineno, reason))


class MissingBackendError(HtpasswdError):
    """A library needed for this scheme is not installed on the target."""


@dataclass(frozen=True)
class HashInfo:
    """What can be told about a stored hash without the password (nothing secret)."""

    scheme: Optional[str]
    #: bcrypt: the cost (log2 rounds); sha*_crypt: the rounds; otherwise None.
    cost: Optional[int] = None
    #: bcrypt only: "2a", "2b" or "2y".
    ident: Optional[str] = None

    @property
    def label(self):
        """Human readable description, e.g. ``bcrypt, cost=10`` (no salt, no checksum)."""
        if self.scheme is None:
            return "unknown"
        parts = [self.scheme]
        if self.scheme == BCRYPT:
            if self.ident and self.ident != BCRYPT_IDENT:
                parts.append("$%s$" % self.ident)
            parts.append("cost=%d" % self.cost)
        elif self.scheme in (SHA256_CRYPT, SHA512_CRYPT):
            parts.append("rounds=%d" % self.cost)
        return ", ".join(parts)


def identify(hashed):
    """Return the :class:`HashInfo` of a stored hash; ``scheme`` is None when it is unknown.

    Only well-formed hashes that the real consumers (nginx + libxcrypt, Apache) would accept are
    recognised; e.g. SHA-crypt rounds outside 1000..999999999 or salts outside the crypt alphabet
    are refused by libxcrypt, so they are "unknown" here as well.
    """
    if not isinstance(hashed, str):
        return HashInfo(None)
    m = _BCRYPT_RE.fullmatch(hashed)
    if m:
        cost = int(m.group(2))
        if BCRYPT_MIN_COST <= cost <= BCRYPT_MAX_COST:
            return HashInfo(BCRYPT, cost, "2" + m.group(1))
        return HashInfo(None)
    m = _MD5_RE.fullmatch(hashed)
    if m:
        return HashInfo(APR_MD5_CRYPT if m.group(1) == "apr1" else MD5_CRYPT)
    m = _SHA_RE.fullmatch(hashed)
    if m:
        scheme = SHA256_CRYPT if m.group(1) == "5" else SHA512_CRYPT
        if len(m.group(4)) != (43 if scheme == SHA256_CRYPT else 86):
            return HashInfo(None)
        rounds = SHA_CRYPT_DEFAULT_ROUNDS if m.group(2) is None else int(m.group(2))
        if not SHA_CRYPT_MIN_ROUNDS <= rounds <= SHA_CRYPT_MAX_ROUNDS:
            return HashInfo(None)
        return HashInfo(scheme, rounds)
    if _LDAP_SHA_RE.fullmatch(hashed):
        return HashInfo(LDAP_SHA1)
    m = _LDAP_SSHA_RE.fullmatch(hashed)
    if m:
        try:
            raw = base64.b64decode(m.group(1), validate=True)
        except ValueError:
            return HashInfo(None)
        return HashInfo(LDAP_SALTED_SHA1) if len(raw) > 20 else HashInfo(None)
    if hashed.startswith("{PLAIN}"):
        return HashInfo(PLAINTEXT)
    return HashInfo(None)


# --------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------

def validate_scheme(scheme):
    """Refuse schemes the module cannot write."""
    if scheme not in WRITE_SCHEMES:
        if scheme in READ_ONLY_SCHEMES:
            raise HtpasswdError(
                "hash scheme %r is only read (verified), never written; use one of: %s"
                % (scheme, ", ".join(WRITE_SCHEMES))
            )
        raise HtpasswdError("unknown hash scheme %r; use one of: %s" % (scheme, ", ".join(WRITE_SCHEMES)))


def validate_password(password, scheme, name=None):
    """Refuse passwords that would be stored wrongly (or not at all) with ``scheme``.

    The messages name the user, never the password.
    """
    who = "" if name is None else " for user %r" % name
    if not isinstance(password, str):
        raise HtpasswdError("password%s must be a string" % who)
    if password == "":
        raise HtpasswdError("password%s must not be empty" % who)
    if "\n" in password or "\r" in password:
        raise HtpasswdError("password%s must not contain a newline" % who)
    if "\0" in password:
        raise HtpasswdError("password%s must not contain a NUL character" % who)
    if scheme == BCRYPT:
        size = len(password.encode("utf-8"))
        if size > BCRYPT_MAX_PASSWORD_BYTES:
            raise HtpasswdError(
                "password%s is %d bytes long (UTF-8); bcrypt uses at most %d bytes and would ignore "
                "the rest: use a shorter password or another hash_scheme"
                % (who, size, BCRYPT_MAX_PASSWORD_BYTES)
            )
    if scheme in (SHA256_CRYPT, SHA512_CRYPT):
        if len(password.encode("utf-8")) > LIBXCRYPT_MAX_PASSWORD_BYTES:
            raise HtpasswdError(
                "password%s is too long for %s: at most %d bytes (UTF-8); libxcrypt, which nginx and "
                "Apache call to verify SHA-crypt hashes, refuses 512 bytes or more, so the user could "
                "never log in: use a shorter password" % (who, scheme, LIBXCRYPT_MAX_PASSWORD_BYTES)
            )


def _integer(var, value):
    """A real int (the module's argument spec converts strings; the API takes none)."""
    try:
        _scalars._int(var, value, strings=False)
    except ValueError as exc:
        raise HtpasswdError(str(exc))


def validate_cost(scheme, bcrypt_cost=None, rounds=None):
    """Check the work factors (each only matters for its own scheme family)."""
    if bcrypt_cost is not None:
        _integer("bcrypt_cost", bcrypt_cost)
        if not BCRYPT_MIN_COST <= bcrypt_cost <= BCRYPT_MAX_COST:
            raise HtpasswdError(
                "bcrypt_cost must be between %d and %d, got %d" % (BCRYPT_MIN_COST, BCRYPT_MAX_COST, bcrypt_cost)
            )
    if rounds is not None:
        _integer("rounds", rounds)
        if not SHA_CRYPT_MIN_ROUNDS <= rounds <= SHA_CRYPT_MAX_ROUNDS:
            raise HtpasswdError(
                "rounds must be between %d and %d, got %d" % (SHA_CRYPT_MIN_ROUNDS, SHA_CRYPT_MAX_ROUNDS, rounds)
            )
    validate_scheme(scheme)


# --------------------------------------------------------------------------------------------
# Hashing
# --------------------------------------------------------------------------------------------

def _gen_salt(length):
    # 256 is a multiple of 64, so masking keeps the distribution uniform.
    return "".join(_CRYPT64[b & 0x3F] for b in bytearray(os.urandom(length)))


def _b64_from_24bit(b2, b1, b0, n):
    w = (b2 << 16) | (b1 << 8) | b0
    out = []
    for dummy in range(n):
        out.append(_CRYPT64[w & 0x3F])
        w >>= 6
    return "".join(out)


def _md5(data=b""):
    # MD5 is the algorithm here, not a security choice of ours: say so, or FIPS mode refuses it.
    try:
        return hashlib.md5(data, usedforsecurity=False)
    except TypeError:  # Python < 3.9
        return hashlib.md5(data)


def _md5_crypt_checksum(password, salt, magic):
    """Poul-Henning Kamp's MD5-crypt; ``magic`` is b"$1$" or b"$apr1$" (Apache's variant)."""
    final = _md5(password + salt + password).digest()
    ctx = _md5(password + magic + salt)
    pl = len(password)
    while pl > 0:
        ctx.update(final[:min(16, pl)])
        pl -= 16
    i = len(password)
    first = password[:1]
    while i:
        ctx.update(b"\0" if i & 1 else first)
        i >>= 1
    final = ctx.digest()
    for i in range(1000):
        ctx = _md5()
        ctx.update(password if i & 1 else final)
        if i % 3:
            ctx.update(salt)
        if i % 7:
            ctx.update(password)
        ctx.update(final if i & 1 else password)
        final = ctx.digest()
    f = bytearray(final)
    return "".join((
        _b64_from_24bit(f[0], f[6], f[12], 4),
        _b64_from_24bit(f[1], f[7], f[13], 4),
        _b64_from_24bit(f[2], f[8], f[14], 4),
        _b64_from_24bit(f[3], f[9], f[15], 4),
        _b64_from_24bit(f[4], f[10], f[5], 4),
        _b64_from_24bit(0, 0, f[11], 2),
    ))


_SHA256_ORDER = (
    (0, 10, 20), (21, 1, 11), (12, 22, 2), (3, 13, 23), (24, 4, 14),
    (15, 25, 5), (6, 16, 26), (27, 7, 17), (18, 28, 8), (9, 19, 29),
)
_SHA512_ORDER = (
    (0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26), (6, 27, 48),
    (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32), (12, 33, 54), (34, 55, 13),
    (56, 14, 35), (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60), (40, 61, 19), (62, 20, 41),
)


def _sha_crypt_checksum(password, salt, rounds, scheme):
    """SHA-crypt as specified by Ulrich Drepper ("Unix crypt using SHA-256 and SHA-512")."""
    if scheme == SHA256_CRYPT:
        digest, size = hashlib.sha256, 32
    else:
        digest, size = hashlib.sha512, 64
    pw_len = len(password)
    b = digest(password + salt + password).digest()
    ctx = digest(password + salt)
    n = pw_len
    while n > size:
        ctx.update(b)
        n -= size
    ctx.update(b[:n])
    n = pw_len
    while n > 0:
        ctx.update(b if n & 1 else password)
        n >>= 1
    a = ctx.digest()
    dp = digest(password * pw_len).digest()
    p = (dp * (pw_len // size + 1))[:pw_len]
    ds = digest(salt * (16 + bytearray(a)[0])).digest()
    s = ds[:len(salt)]
    # A round only depends on i % 2, i % 3 and i % 7: precompute the 42 (prefix, suffix) pairs
    # so that each round hashes prefix + previous digest + suffix in one call.
    seq = []
    for i in range(42):
        mid = (s if i % 3 else b"") + (p if i % 7 else b"")
        seq.append((p + mid, b"") if i & 1 else (b"", mid + p))
    result = a
    for i in range(rounds):
        prefix, suffix = seq[i % 42]
        result = digest(prefix + result + suffix).digest()
    f = bytearray(result)
    if scheme == SHA256_CRYPT:
        parts = [_b64_from_24bit(f[x], f[y], f[z], 4) for x, y, z in _SHA256_ORDER]
        parts.append(_b64_from_24bit(0, f[31], f[30], 3))
    else:
        parts = [_b64_from_24bit(f[x], f[y], f[z], 4) for x, y, z in _SHA512_ORDER]
        parts.append(_b64_from_24bit(0, 0, f[63], 2))
    return "".join(parts)


class _BcryptLibBackend(object):
    """pyca/bcrypt, 3.x (Debian 12, RHEL 9) to 5.x: writes $2y$, accepts $2a$/$2b$/$2y$."""

    def __init__(self, lib):
        self._lib = lib

    def hash(self, secret, cost, salt=None):
        if salt is None:
            # gensalt() only makes $2a$/$2b$ settings; $2b$ and $2y$ are the same algorithm.
            setting = self._lib.gensalt(rounds=cost, prefix=b"2b").decode("ascii")
            setting = "$%s$%s" % (BCRYPT_IDENT, setting[4:])
        else:
            setting = "$%s$%02d$%s" % (BCRYPT_IDENT, cost, salt)
        return self._lib.hashpw(secret, setting.encode("ascii")).decode("ascii")

    def check(self, secret, hashed):
        return bool(self._lib.checkpw(secret, hashed.encode("ascii")))


class _PasslibBackend(object):
    """passlib / libpass, only used when the bcrypt library itself cannot be imported."""

    def __init__(self, handler):
        self._handler = handler

    def hash(self, secret, cost, salt=None):
        kwargs = {"ident": BCRYPT_IDENT, "rounds": cost}
        if salt is not None:
            kwargs["salt"] = salt
        return self._handler.using(**kwargs).hash(secret)

    def check(self, secret, hashed):
        return bool(self._handler.verify(secret, hashed))


def _bcrypt_backend():
    """Return the bcrypt backend, or raise :class:`MissingBackendError`."""
    if _bcrypt_lib is not None:
        return _BcryptLibBackend(_bcrypt_lib)
    try:
        from passlib.hash import bcrypt as passlib_bcrypt  # optional fallback (passlib or libpass)
        if passlib_bcrypt.has_backend():
            return _PasslibBackend(passlib_bcrypt)
    except Exception:  # pylint: disable=broad-except  # whatever fails here means "not available"
        pass
    raise MissingBackendError(
        "hash scheme bcrypt needs the Python 'bcrypt' library on the target host "
        "(Debian/Ubuntu: apt-get install python3-bcrypt; RHEL/Fedora: dnf install python3-bcrypt), "
        "or passlib/libpass with a working bcrypt backend"
    )


def require_bcrypt():
    """Raise :class:`MissingBackendError` (naming the package) when bcrypt is not available."""
    _bcrypt_backend()


def bcrypt_available():
    """True when bcrypt hashes can be made and verified on this host."""
    try:
        _bcrypt_backend()
    except MissingBackendError:
        return False
    return True


def hash_password(password, scheme=DEFAULT_SCHEME, bcrypt_cost=None, rounds=None, salt=None):
    """Hash ``password`` with ``scheme`` and return the string to store after ``user:``.

    ``salt`` is for tests (known vectors); by default a fresh random salt is used. bcrypt hashes
    are written with the ``$2y$`` identifier; SHA-crypt omits ``rounds=`` when it is 5000.
    """
    validate_cost(scheme, bcrypt_cost, rounds)
    validate_password(password, scheme)
    pw = password.encode("utf-8")
    if scheme == BCRYPT:
        if salt is not None and not re.fullmatch(_C64 + "{22}", salt):
            raise HtpasswdError("bcrypt salt must be 22 characters of the crypt alphabet")
        cost = BCRYPT_DEFAULT_COST if bcrypt_cost is None else bcrypt_cost
        return _bcrypt_backend().hash(pw, cost, salt)
    if scheme == APR_MD5_CRYPT:
        salt = _gen_salt(8) if salt is None else salt
        _check_salt(salt, 8)
        return "$apr1$%s$%s" % (salt, _md5_crypt_checksum(pw, salt.encode("ascii"), b"$apr1$"))
    # sha256_crypt / sha512_crypt
    salt = _gen_salt(16) if salt is None else salt
    _check_salt(salt, 16)
    n = SHA_CRYPT_DEFAULT_ROUNDS if rounds is None else rounds
    prefix = "$5$" if scheme == SHA256_CRYPT else "$6$"
    if n != SHA_CRYPT_DEFAULT_ROUNDS:
        prefix += "rounds=%d$" % n
    return "%s%s$%s" % (prefix, salt, _sha_crypt_checksum(pw, salt.encode("ascii"), n, scheme))


def _check_salt(salt, maxlen):
    if not re.fullmatch(_C64 + "{0,%d}" % maxlen, salt):
        raise HtpasswdError("salt must be at most %d characters of the crypt alphabet" % maxlen)


def verify_password(password, hashed):
    """True when ``password`` matches the stored ``hashed`` value.

    Raises :class:`HtpasswdError` when the hash format is unknown (nothing can be said), and
    :class:`MissingBackendError` for bcrypt without a bcrypt library.
    """
    info = identify(hashed)
    if info.scheme is None:
        raise HtpasswdError("unknown hash format")
    pw = password.encode("utf-8")
    if info.scheme == BCRYPT:
        backend = _bcrypt_backend()
        if len(pw) > BCRYPT_MAX_PASSWORD_BYTES or b"\0" in pw:
            return False  # bcrypt cannot have been given this password whole
        try:
            return backend.check(pw, hashed)
        except ValueError:
            return False
    if info.scheme in (MD5_CRYPT, SHA256_CRYPT, SHA512_CRYPT) and len(pw) > LIBXCRYPT_MAX_PASSWORD_BYTES:
        return False  # crypt(3), which verifies these for nginx and Apache, refuses it
    if info.scheme in (APR_MD5_CRYPT, MD5_CRYPT):
        m = _MD5_RE.fullmatch(hashed)
        magic = "$%s$" % m.group(1)
        candidate = _md5_crypt_checksum(pw, m.group(2).encode("ascii"), magic.encode("ascii"))
        return _equal(candidate, m.group(3))
    if info.scheme in (SHA256_CRYPT, SHA512_CRYPT):
        m = _SHA_RE.fullmatch(hashed)
        candidate = _sha_crypt_checksum(pw, m.group(3).encode("ascii"), info.cost, info.scheme)
        return _equal(candidate, m.group(4))
    if info.scheme == LDAP_SHA1:
        candidate = base64.b64encode(hashlib.sha1(pw).digest()).decode("ascii")
        return _equal(candidate, hashed[len("{SHA}"):])
    if info.scheme == LDAP_SALTED_SHA1:
        raw = base64.b64decode(hashed[len("{SSHA}"):])
        return hmac.compare_digest(hashlib.sha1(pw + raw[20:]).digest(), raw[:20])
    # plaintext
    return _equal(password, hashed[len("{PLAIN}"):])


def _equal(a, b):
    return hmac.compare_digest(a.encode("utf-8", "surrogateescape"), b.encode("utf-8", "surrogateescape"))


# --------------------------------------------------------------------------------------------
# The file
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Line(object):
    """One line of an htpasswd file.

    ``text`` is the exact original text (without the newline), so lines nobody touches are
    written back byte for byte. Comments and blank lines have ``user`` None. ``extra`` is whatever
    followed a second colon (``user:hash:comment``): nginx and Apache's mod_authn_file ignore it,
    but ``htpasswd -v`` takes it as part of the hash (so does Distribution's parser; only Go's
    bcrypt ignoring trailing bytes saves it there), so lines of managed users are written without
    it. A planned line whose hash still has to be computed has ``hashed`` None.
    """

    text: Optional[str] = field(repr=False)
    user: Optional[str] = None
    hashed: Optional[str] = field(default=None, repr=False)
    extra: str = field(default="", repr=False)
    lineno: int = 0

    @property
    def is_entry(self):
        return self.user is not None


def parse(text):
    """Parse the text of an htpasswd file into :class:`Line` objects.

    Raises :class:`HtpasswdParseError` (with the line number, never the line's content, which may
    hold a plain-text password) for anything that is neither a comment, a blank line nor
    ``user:hash``. A file that fails to parse must not be rewritten.
    """
    if not isinstance(text, str):
        raise HtpasswdError("htpasswd content must be text")
    if text == "":
        return []
    raw_lines = text.split("\n")
    if raw_lines[-1] == "":
        raw_lines.pop()
    result = []
    for lineno, raw in enumerate(raw_lines, 1):
        if "\0" in raw:
            raise HtpasswdParseError(lineno, "contains a NUL byte")
        body = raw[:-1] if raw.endswith("\r") else raw
        if "\r" in body:
            raise HtpasswdParseError(lineno, "contains a carriage return inside the line")
        stripped = body.strip()
        if not stripped or stripped.startswith("#"):
            result.append(Line(raw, lineno=lineno))
            continue
        user, sep, rest = body.partition(":")
        if not sep:
            raise HtpasswdParseError(lineno, "no ':' between user name and hash")
        if user == "":
            raise HtpasswdParseError(lineno, "empty user name")
        if user != user.lstrip():
            raise HtpasswdParseError(
                lineno, "user name starts with whitespace (Apache strips it, nginx does not)"
            )
        hashed, sep, extra = rest.partition(":")
        result.append(Line(raw, user, hashed, sep + extra, lineno))
    return result


def serialize(lines):
    """The file text for ``lines``; every line ends with a newline."""
    texts = []
    for line in lines:
        if line.text is None:
            raise HtpasswdError("line for user %r has no hash yet (render the plan first)" % line.user)
        texts.append(line.text)
    return "".join(t + "\n" for t in texts)
