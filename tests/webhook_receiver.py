"""A webhook receiver on 127.0.0.1 that keeps every POST it gets, for the alert tests.
`fail_first` answers that many POSTs with 500 before it starts accepting them."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookReceiver:
    def __init__(self, fail_first: int = 0):
        self.fail_first = fail_first
        self.posts: list[tuple[int, Any]] = []
        """(status answered, JSON body) of every POST, in order."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                status = 500 if len(receiver.posts) < receiver.fail_first else 204
                receiver.posts.append((status, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/tierd-alerts"

    def delivered(self) -> list[Any]:
        return [body for status, body in self.posts if status < 300]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
