"""A loopback HTTP endpoint for `web` analysis metrics, shared by the conformance scenarios and the
control-plane tier: `GET /<name>` answers `{"healthy": <verdict>}`."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class HealthEndpoint:
    """`GET /<name>` answers `{"healthy": <verdict>}`; verdicts are set per name, default healthy."""

    def __init__(self) -> None:
        self.verdicts: dict[str, bool] = {}
        self.requests: list[str] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.strip("/")
                endpoint.requests.append(name)
                body = json.dumps({"healthy": endpoint.verdicts.get(name, True)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{name}"

    def __enter__(self) -> HealthEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
