"""Real receivers on loopback for the notification tests: an HTTP server that records every request
(for the Slack, Teams and webhook services) and an SMTP server (aiosmtpd) that records every mail."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class HttpReceiver:
    url: str
    requests: list[Request] = field(default_factory=list)
    answers: list[tuple[int, Any]] = field(default_factory=list)
    """Answers for the next requests, in order; then `default`."""
    default: tuple[int, Any] = (200, "ok")
    delay: float = 0.0
    by_path: dict[str, tuple[int, Any]] = field(default_factory=dict)
    """Answers for requests to a path (webhooks, one path each), before `answers` and `default`."""

    def answer(self, path: str = "") -> tuple[int, Any]:
        if path in self.by_path:
            return self.by_path[path]
        return self.answers.pop(0) if self.answers else self.default

    def to(self, path: str) -> list[Request]:
        return [request for request in self.requests if request.path == path]

    def bodies(self) -> list[Any]:
        return [request.body for request in self.requests]


@contextmanager
def http_receiver() -> Iterator[HttpReceiver]:
    lock = threading.Lock()
    receiver: HttpReceiver

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode()
            with lock:
                receiver.requests.append(Request(self.command, self.path, dict(self.headers), body))
                status, answer = receiver.answer(self.path)
            if receiver.delay:
                time.sleep(receiver.delay)
            data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_PUT = _handle  # noqa: N815 - http.server dispatches by these names

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = HttpReceiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: Message

    @property
    def body(self) -> str:
        payload = self.message.get_payload(decode=True)
        return payload.decode() if isinstance(payload, bytes) else str(payload)


@dataclass
class SmtpReceiver:
    host: str
    port: int
    mails: list[Mail] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)


@contextmanager
def smtp_receiver(*, auth: bool = False) -> Iterator[SmtpReceiver]:
    """aiosmtpd on loopback; with `auth`, it offers AUTH LOGIN/PLAIN over plain text (loopback only) and records the logins."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    receiver = SmtpReceiver("127.0.0.1", 0)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
            receiver.mails.append(
                Mail(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    message_from_bytes(envelope.content, policy=policy.default),
                )
            )
            return "250 OK"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword):
            receiver.logins.append((data.login.decode(), data.password.decode()))
            return AuthResult(success=data.password == b"mail-pass")
        return AuthResult(success=False)

    options: dict[str, Any] = {}
    if auth:
        options = {"authenticator": authenticator, "auth_require_tls": False}
    receiver.port = (
        _free_port()
    )  # aiosmtpd's Controller checks its server by connecting to the port it was given
    controller = Controller(Handler(), hostname="127.0.0.1", port=receiver.port, **options)
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
