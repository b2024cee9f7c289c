"""A tiny HTTP server on 127.0.0.1 for download tests: no real network, bounded, self-stopping."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes
    status: int = 200
    send_bytes: int | None = None  # send only this many bytes, then hang up (a truncated transfer)
    chunk_delay_s: float = 0.0  # pause between 64 KiB chunks (a slow server, for cancel tests)


class LocalServer:
    """``with LocalServer() as server: server.add("/f", data); urlopen(server.url("/f"))``."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        routes, requests = self.routes, self.requests

        class Handler(BaseHTTPRequestHandler):
            timeout = 10  # a stuck client cannot hold a handler thread for long

            def do_GET(self):  # noqa: N802 (http.server's naming)
                requests.append(self.path)
                route = routes.get(self.path)
                if route is None or route.status != 200:
                    self.send_error(route.status if route else 404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                payload = route.body if route.send_bytes is None else route.body[:route.send_bytes]
                try:
                    for start in range(0, len(payload), 1 << 16):
                        self.wfile.write(payload[start:start + (1 << 16)])
                        self.wfile.flush()
                        if route.chunk_delay_s:
                            time.sleep(route.chunk_delay_s)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client cancelled: expected in cancel tests
                self.close_connection = True

            def log_message(self, *args):  # keep test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="local-http", daemon=True)

    def add(self, path: str, body: bytes, **options) -> str:
        self.routes[path] = Route(body, **options)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def closed_port_url(path: str = "/vgg19-dcbb9e9d.pth") -> str:
    """A URL on 127.0.0.1 where nothing listens: connecting is refused, as when offline."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
