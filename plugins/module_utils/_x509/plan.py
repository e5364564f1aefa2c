# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: decisions: what ``x509_ca`` and ``x509_csr`` must do, each with the reasons that explain it."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

try:
    from cryptography import x509
except ImportError:
    pass  # common.HAS_CRYPTOGRAPHY is False: the modules fail with missing_required_lib first

from ansible_collections.dockyard.registry.plugins.module_utils._x509 import constraints
from ansible_collections.dockyard.registry.plugins.module_utils._x509.certs import (
    _extension, certificate_sans, describe_name, extended_key_usages, is_ca_certificate, is_issued_by)
from ansible_collections.dockyard.registry.plugins.module_utils._x509.common import VALIDITY_TOLERANCE, format_time, not_after, not_before
from ansible_collections.dockyard.registry.plugins.module_utils._x509.issue import validate_timing
from ansible_collections.dockyard.registry.plugins.module_utils._x509.keys import key_type_of, public_keys_match
from ansible_collections.dockyard.registry.plugins.module_utils._x509.names import parse_sans, san_string, san_strings


@dataclass
class CAPlan:
    """What ``x509_ca`` must do: the reasons explain every action, warnings explain drift kept."""
    generate_key: bool = False
    issue_certificate: bool = False
    reasons: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @property
    def needed(self):
        return self.generate_key or self.issue_certificate


@dataclass
class ServerPlan:
    """Whether a leaf certificate must be (re)issued, and why (the key decision is plan_server_key)."""
    reissue: bool = False
    reasons: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


def _lifetime(cert):
    return not_after(cert) - not_before(cert)


def _days(delta):
    return int(round(delta.total_seconds() / 86400.0))


def plan_ca(key, cert, key_type, subject, validity_days, renew_before_days, now,
            path_length=0, force=False, reissue_certificate=False, name_constraints=None):
    """Decide what to do with the CA. ``key``/``cert`` are loaded objects or ``None`` (missing).

    ``name_constraints`` (permitted names, or ``None`` to leave them alone) is drift like the
    subject: a new CA gets them, an existing one is re-signed with them only with
    ``reissue_certificate``.

    An existing key is never replaced and an existing certificate is never re-signed unless
    ``force`` (new key and certificate) or ``reissue_certificate`` (re-sign the certificate with
    the existing key when it drifted or expires within ``renew_before_days``). Otherwise drift is
    reported in ``warnings``. A certificate that does not match its key, or is not a CA, is refused.
    """
    validate_timing(validity_days, renew_before_days, what="CA")
    plan = CAPlan()
    if force:
        plan.generate_key = plan.issue_certificate = True
        plan.reasons.append("force: true (the CA key and certificate are replaced)")
        return plan
    if key is None and cert is None:
        plan.generate_key = plan.issue_certificate = True
        plan.reasons.append("CA private key missing")
        plan.reasons.append("CA certificate missing")
        return plan
    if key is None:
        raise ValueError("the CA certificate exists but its private key is missing: restore the key, "
                         "or set force: true to create a new CA (every client must then trust it)")
    current_type = key_type_of(key)
    if current_type != key_type:
        plan.warnings.append("the CA key is %s but key_type is %s: not rotating the CA (set force: true "
                             "to replace the CA key and certificate)" % (current_type, key_type))
    if cert is None:
        plan.issue_certificate = True
        plan.reasons.append("CA certificate missing (re-created with the existing key)")
        return plan
    if not public_keys_match(cert.public_key(), key.public_key()):
        raise ValueError("the CA certificate does not match the CA private key: restore the matching "
                         "files, or set force: true to create a new CA")
    if not is_ca_certificate(cert):
        raise ValueError("the CA certificate is not a CA certificate (basicConstraints CA:TRUE missing): "
                         "set force: true to create a new CA")
    drift = []
    if cert.subject != subject:
        drift.append("subject is '%s', wanted '%s'" % (describe_name(cert.subject), describe_name(subject)))
    lifetime = _lifetime(cert)
    wanted = datetime.timedelta(days=int(validity_days))
    if abs(lifetime - wanted) > VALIDITY_TOLERANCE:
        drift.append("validity is %d days, wanted %d" % (_days(lifetime), int(validity_days)))
    if name_constraints is not None:
        current = constraints.of_certificate(cert)
        have = current["permitted"] if current else []
        want = [constraints.constraint_string(gn) for gn in constraints.normalize(name_constraints)]
        if set(have) != set(want):
            drift.append("name constraints are %s, wanted %s" % (
                ", ".join(have) if current else "none", ", ".join(want) or "none"))
    bc = _extension(cert, x509.BasicConstraints)
    if bc.path_length != path_length:
        drift.append("path length is %s, wanted %s" % (bc.path_length, path_length))
    end = not_after(cert)
    if end <= now:
        drift.append("the CA certificate expired on %s" % format_time(end))
    elif end - now <= datetime.timedelta(days=int(renew_before_days)):
        drift.append("the CA certificate expires within %d days (on %s)"
                     % (int(renew_before_days), format_time(end)))
    if drift and reissue_certificate:
        plan.issue_certificate = True
        plan.reasons.extend("%s (re-signed with the existing key)" % d for d in drift)
    elif drift:
        plan.warnings.extend("%s: not changing the CA (set reissue_certificate: true to re-sign it with "
                             "the existing key, or force: true to replace the CA)" % d for d in drift)
    return plan


def plan_server_key(key, key_type, force=False):
    """Return ``(regenerate, reasons)`` for a server private key (``None`` = missing)."""
    if key is None:
        return True, ["private key missing"]
    if force:
        return True, ["force: true"]
    current = key_type_of(key)
    if current != key_type:
        return True, ["key type changed: %s -> %s" % (current, key_type)]
    return False, []


def plan_certificate(cert, key, ca_cert, subject, sans, validity_days, renew_before_days, now,
                     key_replaced=False, usage="server"):
    """Decide whether a server certificate must be (re)issued, and say why.

    ``cert``/``key``/``ca_cert`` are loaded objects or ``None``; ``sans`` are GeneralNames or
    strings; ``subject`` is an ``x509.Name`` (``None`` skips the subject check).
    """
    validate_timing(validity_days, renew_before_days)
    plan = ServerPlan()
    if cert is None:
        plan.reissue = True
        plan.reasons.append("certificate missing")
        return plan
    reasons = plan.reasons
    if key_replaced:
        reasons.append("private key replaced")
    elif key is not None and not public_keys_match(cert.public_key(), key.public_key()):
        reasons.append("certificate does not match the private key")
    if ca_cert is not None and not is_issued_by(cert, ca_cert):
        reasons.append("issued by a different CA (issuer '%s', CA '%s')" % (
            describe_name(cert.issuer), describe_name(ca_cert.subject)))
    usages = extended_key_usages(cert)
    if usages != [usage]:
        reasons.append("extended key usage is %s, wanted %s only" % (
            " + ".join(u + "Auth" for u in usages) or "none", usage + "Auth"))
    if subject is not None and cert.subject != subject:
        reasons.append("subject differs: '%s' -> '%s'" % (describe_name(cert.subject), describe_name(subject)))
    wanted = [s if isinstance(s, str) else san_string(s) for s in sans]
    wanted = san_strings(parse_sans(wanted)[0])
    current = certificate_sans(cert)
    missing = [s for s in wanted if s not in current]
    extra = [s for s in current if s not in wanted]
    if missing or extra:
        parts = []
        if missing:
            parts.append("add " + ", ".join(missing))
        if extra:
            parts.append("remove " + ", ".join(extra))
        reasons.append("SANs differ: " + "; ".join(parts))
    end, start = not_after(cert), not_before(cert)
    ca_end = not_after(ca_cert) if ca_cert is not None else None
    # A certificate whose notAfter was capped at the CA's cannot be improved by reissuing.
    capped = ca_end is not None and end >= ca_end - VALIDITY_TOLERANCE
    if end <= now:
        reasons.append("expired on %s" % format_time(end))
    elif end - now <= datetime.timedelta(days=int(renew_before_days)):
        if capped:
            plan.warnings.append("the certificate expires on %s together with the CA certificate: renew "
                                 "the CA" % format_time(end))
        else:
            reasons.append("expires within %d days (on %s)" % (int(renew_before_days), format_time(end)))
    lifetime = end - start
    wanted_lifetime = datetime.timedelta(days=int(validity_days))
    if lifetime > wanted_lifetime + VALIDITY_TOLERANCE:
        reasons.append("validity is %d days, wanted %d" % (_days(lifetime), int(validity_days)))
    elif lifetime < wanted_lifetime - VALIDITY_TOLERANCE and not capped:
        reasons.append("validity is %d days, wanted %d" % (_days(lifetime), int(validity_days)))
    if start > now:
        plan.warnings.append("the certificate is not valid before %s: check the clocks of this host and "
                             "the CA host" % format_time(start))
    plan.reissue = bool(reasons)
    return plan
