"""The web provider against a real HTTP server on loopback (http.server in a thread)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from structlog.testing import capture_logs

from canary.analysis import runner
from canary.analysis.providers.registry import default_registry
from canary.api.analysis import AnalysisPhase, AnalysisRun

NOW = datetime(2024, 1, 1, tzinfo=UTC)
TOKEN = "T0k3nV4lue9xyz"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/ratio":
            self._reply(200, {"data": {"ratio": 0.995, "series": [0.1, 0.2]}})
        elif self.path == "/overloaded":
            self._reply(503, "backend overloaded: retry later")
        elif self.path == "/html":
            self._reply(200, "<html>not json</html>")
        elif self.path == "/slow":
            time.sleep(1.5)
            self._reply(200, {"late": True})
        elif self.path == "/auth":
            given = self.headers.get("Authorization", "")
            if given == f"Bearer {TOKEN}":
                self._reply(200, {"ok": True})
            else:
                self._reply(401, f"bad credentials: {given}")

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._reply(200, {"received": body, "contentType": self.headers["Content-Type"]})

    def _reply(self, status: int, payload: Any) -> None:
        data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def read_secret(namespace: str, name: str, key: str) -> str:
    return {("shop", "api", "token"): TOKEN}[(namespace, name, key)]


def measure(web: dict[str, Any], **metric: Any) -> AnalysisRun:
    """One measurement of a web metric through the runner; errors end the metric at once."""
    run = AnalysisRun.model_validate(
        {
            "metadata": {"name": "web-run", "namespace": "shop"},
            "spec": {
                "metrics": [{"name": "m", "consecutiveErrorLimit": 0, "provider": {"web": web}, **metric}]
            },
        }
    )
    return runner.advance(run, now=NOW, providers=default_registry(), read_secret=read_secret).run


def only_measurement(run: AnalysisRun) -> Any:
    [measurement] = run.status.metric_results[0].measurements
    return measurement


def test_a_json_path_value_is_judged_by_the_conditions(server: str) -> None:
    run = measure({"url": f"{server}/ratio", "jsonPath": "{$.data.ratio}"}, successCondition="result >= 0.99")
    assert run.status.phase == AnalysisPhase.SUCCESSFUL
    assert only_measurement(run).value == "0.995"


def test_a_selected_list_reaches_the_conditions_as_a_list(server: str) -> None:
    run = measure(
        {"url": f"{server}/ratio", "jsonPath": "$.data.series"}, successCondition="len(result) == 2"
    )
    assert run.status.phase == AnalysisPhase.SUCCESSFUL


def test_without_json_path_the_whole_document_is_the_result(server: str) -> None:
    run = measure({"url": f"{server}/ratio"}, failureCondition="result.data.ratio < 0.99")
    assert run.status.phase == AnalysisPhase.SUCCESSFUL


def test_a_post_sends_the_body_with_arguments_as_json(server: str) -> None:
    web = {"url": f"{server}/echo", "method": "POST", "body": '{"service": "checkout"}', "jsonPath": "$"}
    run = measure(web, successCondition="result.received.service == 'checkout'")
    assert run.status.phase == AnalysisPhase.SUCCESSFUL, run.status.message


def test_a_non_2xx_answer_is_an_error_with_status_and_body(server: str) -> None:
    run = measure({"url": f"{server}/overloaded"})
    assert run.status.phase == AnalysisPhase.ERROR
    assert "answered HTTP 503: backend overloaded: retry later" in only_measurement(run).message


def test_an_answer_that_is_not_json_is_an_error(server: str) -> None:
    assert "did not answer JSON: <html>" in only_measurement(measure({"url": f"{server}/html"})).message


def test_a_path_that_selects_nothing_is_an_error(server: str) -> None:
    message = only_measurement(measure({"url": f"{server}/ratio", "jsonPath": "$.data.missing"})).message
    assert "selects nothing" in message


def test_a_slow_server_is_an_error_after_the_timeout(server: str) -> None:
    run = measure({"url": f"{server}/slow", "timeoutSeconds": 1})
    assert f"{server}/slow did not answer within 1s" in only_measurement(run).message


def test_a_header_from_a_secret_is_sent(server: str) -> None:
    headers = [{"key": "Authorization", "value": "Bearer {{args.token}}"}]
    run = AnalysisRun.model_validate(
        {
            "metadata": {"name": "web-run", "namespace": "shop"},
            "spec": {
                "args": [{"name": "token", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}}],
                "metrics": [
                    {"name": "m", "provider": {"web": {"url": f"{server}/auth", "headers": headers}}}
                ],
            },
        }
    )
    after = runner.advance(run, now=NOW, providers=default_registry(), read_secret=read_secret).run
    assert after.status.phase == AnalysisPhase.SUCCESSFUL, after.status.message


def test_a_secret_echoed_by_the_server_is_masked(server: str) -> None:
    headers = [{"key": "Authorization", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}}]
    with capture_logs() as logs:
        run = measure({"url": f"{server}/auth", "headers": headers})
    assert "bad credentials: *****" in only_measurement(run).message
    assert TOKEN not in run.model_dump_json()
    assert all(TOKEN not in str(event) for event in logs)
