#!/usr/bin/python3
"""HTTPS test server of the molecule ca scenario (runs on ca-proxy as a transient systemd unit).

Serves an empty directory over TLS with the certificate and key the ca role installed: GET / is a
200 listing, anything else a 404 (HEAD too; other methods 501). It is not a registry, so registry
clients get past TLS and then fail on the protocol. SIGHUP (systemctl reload) loads the certificate
and key again for new connections, which is what the ca role's reload handler triggers.

Usage: tls_test_server.py CERTFILE KEYFILE PORT
"""

import functools
import http.server
import signal
import ssl
import sys
import tempfile

CERTFILE, KEYFILE, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])


def load_context():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(CERTFILE, KEYFILE)
    return context


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    context = load_context()

    def get_request(self):
        sock, address = self.socket.accept()
        # The handshake runs in the request's thread (first read), not in the accept loop.
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address


def reload_context(_signum, _frame):
    Server.context = load_context()
    print("reloaded %s and %s" % (CERTFILE, KEYFILE), flush=True)


signal.signal(signal.SIGHUP, reload_context)
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=tempfile.mkdtemp())
print("serving https on port %d with %s" % (PORT, CERTFILE), flush=True)
Server(("", PORT), handler).serve_forever()
