"""module_utils/_http.py: connections to one address on behalf of a name."""

from __future__ import annotations

import http.server
import ssl

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _http
from ansible_collections.dockyard.registry.tests.unit.servers import serving


@pytest.fixture
def server():
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.headers.get("Host"))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    with serving(http.server.HTTPServer(("127.0.0.1", 0), Handler)) as httpd:
        yield httpd.server_address[1], seen


def test_plain_http_reaches_the_address_and_names_the_host(server):
    port, seen = server
    conn = _http.AddressedHTTPConnection("registry.example.test", port, "127.0.0.1", 5)
    conn.request("GET", "/v2/")
    assert conn.getresponse().status == 204
    conn.close()
    assert seen == ["registry.example.test:%d" % port]


class _RecordingContext(ssl.SSLContext):
    """An SSLContext that records the SNI name and hands the TCP socket back unwrapped."""

    def wrap_socket(self, sock, server_hostname=None, **_kwargs):
        self.names.append(server_hostname)
        return sock


def _recording_context():
    context = _RecordingContext(ssl.PROTOCOL_TLS_CLIENT)
    context.names = []
    return context


def test_tls_connects_to_the_address_with_the_name_as_sni(server):
    port, seen = server
    context = _recording_context()
    conn = _http.AddressedHTTPSConnection("backends.registry.test", port, "127.0.0.1", 5, context)
    conn.request("GET", "/v2/")  # the recording context leaves the socket plain: the request still arrives
    assert conn.getresponse().status == 204
    conn.close()
    assert context.names == ["backends.registry.test"]
    assert seen == ["backends.registry.test:%d" % port]


def test_a_failed_handshake_closes_the_socket(server):
    port, _seen = server
    sockets = []

    class Refusing(ssl.SSLContext):
        def wrap_socket(self, sock, server_hostname=None, **_kwargs):
            sockets.append(sock)
            raise OSError("handshake refused")

    conn = _http.AddressedHTTPSConnection("x.test", port, "127.0.0.1", 5, Refusing(ssl.PROTOCOL_TLS_CLIENT))
    with pytest.raises(OSError, match="handshake refused"):
        conn.connect()
    assert len(sockets) == 1 and sockets[0].fileno() == -1  # closed, not leaked
