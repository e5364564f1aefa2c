# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The mode of the proxy -> backend hop, and what playbooks/backend-tls.yml must do to switch it.

Pure Python (no Ansible import): the filter ``dockyard.registry.backend_tls_plan`` wraps it.
"""

from __future__ import annotations

import re

# nginx presents a client certificate to the backends only in mutual TLS mode (the nginx role
# renders the directive with every proxy_pass to the backends, never otherwise).
_CLIENT_CERTIFICATE = re.compile(r"^\s*proxy_ssl_certificate\s", re.M)


def conf_uses_mutual_tls(conf_text):
    """True when an nginx.conf of the nginx role talks mutual TLS to the backends."""
    return bool(_CLIENT_CERTIFICATE.search(conf_text or ""))


def switch_plan(confs, bridges, target):
    """What a run of backend-tls.yml does.

    ``confs``: proxy name -> its nginx.conf text (``None`` or ``""`` when nginx is not deployed yet);
    ``bridges``: backend names that still run a bridge container (an interrupted run);
    ``target``: True for mutual TLS, False for plain HTTP.
    Returns ``{"switch": bool, "other_mode": [proxies], "bridges": [backends], "message": str}``.
    """
    if not isinstance(target, bool):
        raise ValueError("the target mode must be a boolean, got %r" % (target,))
    mode = "mutual TLS" if target else "plain HTTP"
    other = sorted(name for name, text in (confs or {}).items() if conf_uses_mutual_tls(text) != target)
    left = sorted(bridges or [])
    if not other and not left:
        message = "Every proxy already uses %s to the backends and no bridge is left: nothing to switch." % mode
    else:
        reasons = []
        if other:
            reasons.append("proxies not yet on %s: %s" % (mode, ", ".join(other)))
        if left:
            reasons.append("bridge containers left by an earlier run on: %s" % ", ".join(left))
        message = "Switching the backend hop to %s through bridge containers (%s)." % (mode, "; ".join(reasons))
    return {"switch": bool(other or left), "other_mode": other, "bridges": left, "message": message}
