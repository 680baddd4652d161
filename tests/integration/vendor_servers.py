"""Servers the vendor metric providers are tested against, all on 127.0.0.1 with a free port:

- `InfluxDBServer`: a real InfluxDB 1.x (Debian's `influxd`), its own data directory.
- `GraphiteServer`: a real Graphite render API (Debian's graphite-web, run by `graphite-manage
  runserver`) reading whisper files written with Debian's `whisper-create` / `whisper-update`.
- `LoopbackAPI`: for vendors whose servers cannot run here (Datadog, New Relic, InfluxDB 2's Flux
  endpoint), an HTTP server that answers each route with what the test sets, which the tests write
  as the vendor's API reference documents the answer; it records every request the client sent.

Each process is stopped by its own pid.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from prometheus_server import free_port


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] = b""
    content_type: str = "application/json"

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return self.body.encode() if isinstance(self.body, str) else json.dumps(self.body).encode()


@dataclass
class LoopbackAPI:
    """`answers[(method, path)]` is what the route answers; unknown routes answer 404."""

    answers: dict[tuple[str, str], Answer] = field(default_factory=dict)
    received: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                api.received.append(
                    Recorded(
                        self.command,
                        url.path,
                        parse_qs(url.query),
                        dict(self.headers),
                        self.rfile.read(length),
                    )
                )
                answer = api.answers.get((self.command, url.path), Answer(404, {"errors": ["Not found"]}))
                body = answer.encoded()
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def log_message(self, *args: Any) -> None:  # quiet: pytest shows failures, not access logs
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def answer(
        self, method: str, path: str, body: Any, status: int = 200, content_type: str = "application/json"
    ) -> None:
        self.answers[(method, path)] = Answer(status, body, content_type)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _wait(ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if ready():
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not become ready within 60s:\n{log.read_text()[-2000:]}")


class InfluxDBServer:
    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.address = f"http://127.0.0.1:{self.port}"
        config = root / "influxdb.conf"
        config.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "127.0.0.1:{free_port()}"\n'
            f'[meta]\n  dir = "{root / "meta"}"\n'
            f'[data]\n  dir = "{root / "data"}"\n  wal-dir = "{root / "wal"}"\n'
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
            "[monitor]\n  store-enabled = false\n"
        )
        self._log = root / "influxd.log"
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(["influxd", "-config", str(config)], stdout=log, stderr=log)
        _wait(
            lambda: requests.get(f"{self.address}/ping", timeout=2).status_code == 204,
            self._process,
            self._log,
            "influxd",
        )

    def query(self, statement: str, database: str | None = None) -> None:
        params = {"q": statement} | ({"db": database} if database else {})
        requests.post(f"{self.address}/query", params=params, timeout=10).raise_for_status()

    def write(self, database: str, lines: Sequence[str]) -> None:
        response = requests.post(
            f"{self.address}/write",
            params={"db": database, "precision": "s"},
            data="\n".join(lines),
            timeout=10,
        )
        response.raise_for_status()

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=30)


GRAPHITE_SETTINGS = """\
import os
_root = os.environ["CANARY_GRAPHITE_ROOT"]
SECRET_KEY = "canary-tests"
GRAPHITE_ROOT = "/usr/share/graphite-web"
CONF_DIR = STORAGE_DIR = LOG_DIR = _root
WHISPER_DIR = os.path.join(_root, "whisper")
INDEX_FILE = os.path.join(_root, "index")
DATABASES = {"default": {"NAME": os.path.join(_root, "graphite.db"), "ENGINE": "django.db.backends.sqlite3"}}
"""


class GraphiteServer:
    """graphite-web's render API over whisper files in `root/whisper` (write them with `series`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "whisper").mkdir(parents=True, exist_ok=True)
        (root / "canary_graphite_settings.py").write_text(GRAPHITE_SETTINGS)
        self.port = free_port()
        self.address = f"http://127.0.0.1:{self.port}"
        env = os.environ | {
            "PYTHONPATH": str(root),
            "GRAPHITE_SETTINGS_MODULE": "canary_graphite_settings",
            "CANARY_GRAPHITE_ROOT": str(root),
        }
        self._log = root / "graphite.log"
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                ["graphite-manage", "runserver", "--noreload", f"127.0.0.1:{self.port}"],
                stdout=log,
                stderr=log,
                env=env,
            )
        _wait(
            lambda: (
                requests.get(
                    f"{self.address}/render", params={"target": "none", "format": "json"}, timeout=5
                ).ok
            ),
            self._process,
            self._log,
            "graphite-manage runserver",
        )

    def series(self, name: str, points: Sequence[tuple[int, float]], *, step: int = 10) -> None:
        """A whisper file for metric `name` (dots are directories) holding `points` (unix time, value)."""
        path = self.root / "whisper" / (name.replace(".", "/") + ".wsp")
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["whisper-create", str(path), f"{step}:1d"], check=True, capture_output=True)
        subprocess.run(
            ["whisper-update", str(path), *(f"{at}:{value}" for at, value in points)],
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=30)


def require_commands(commands: Sequence[str], package: str) -> None:
    """Skip (locally) or fail (in CI) when a Debian package's commands are missing."""
    import shutil

    import pytest

    missing = [c for c in commands if shutil.which(c) is None]
    if missing:
        reason = (
            f"{', '.join(missing)} not on PATH; run scripts/install-test-deps.sh (Debian package {package})"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
