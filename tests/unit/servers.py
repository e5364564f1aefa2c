"""Local servers for the unit tests: a socketserver served from a daemon thread while a test runs."""

from __future__ import annotations

import contextlib
import threading


@contextlib.contextmanager
def serving(server):
    """Serve ``server`` (an ``http.server``/``socketserver`` server) in a daemon thread while the block
    runs; afterwards shut it down and close its socket, also when the block failed."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
