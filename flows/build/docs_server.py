"""Serving a built report folder over HTTP on this machine only (`debtflow docs --serve`): for a
browser that will not run a page opened from disk. Nothing listens beyond 127.0.0.1."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOST = "127.0.0.1"
DEFAULT_PORT = 8580


def server(folder: Path, port: int = DEFAULT_PORT) -> ThreadingHTTPServer:
    """A server for `folder` on 127.0.0.1:`port` (0: any free port), not yet serving."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    return ThreadingHTTPServer((HOST, port), handler)


def url_of(httpd: ThreadingHTTPServer) -> str:
    return f"http://{HOST}:{httpd.server_address[1]}/"


def serve(folder: Path, port: int = DEFAULT_PORT, ready: Callable[[str], None] = print) -> None:
    """Serve `folder` until interrupted; `ready` gets the URL once the port is open."""
    with server(folder, port) as httpd:
        ready(url_of(httpd))
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a user stops it
            httpd.serve_forever()
