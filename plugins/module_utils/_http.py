# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: HTTP(S) connections to one address on behalf of a name, for the dockyard.registry collection.

This file is private to the dockyard.registry collection; other collections must not import it.
It imports nothing from Ansible and nothing outside the Python standard library. It owns how the
collection's clients reach a server at an address that is not what its name resolves to (a proxy
by IP, a backend by its container address, the VIP): the TCP connection goes to ``connect_host``,
while TLS SNI, the certificate name check and the default ``Host`` header use ``host``. Both the
OCI client (``_oci.client``) and the backend probe (``_backend_probe``) connect this way.
"""

from __future__ import annotations

import http.client
import socket


def _open(connect_host, port, timeout):
    sock = socket.create_connection((connect_host, port), timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        sock.close()
        raise
    return sock


class AddressedHTTPConnection(http.client.HTTPConnection):
    """Plain HTTP to ``connect_host``; ``Host`` names ``host``."""

    def __init__(self, host, port, connect_host, timeout):
        super().__init__(host, port, timeout=timeout)
        self.connect_host = connect_host

    def connect(self):
        self.sock = _open(self.connect_host, self.port, self.timeout)


class AddressedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to ``connect_host``; SNI, the certificate name check and ``Host`` use ``host``."""

    def __init__(self, host, port, connect_host, timeout, context):
        super().__init__(host, port, timeout=timeout, context=context)
        self.connect_host = connect_host
        self.tls_context = context

    def connect(self):
        sock = _open(self.connect_host, self.port, self.timeout)
        try:
            self.sock = self.tls_context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
