"""OAuth2 client credentials (Argo's `authentication.oauth2`) for the prometheus and web providers,
against a loopback token server that answers as RFC 6749 documents the token endpoint (section 4.4:
`grant_type=client_credentials`, the client authenticated by HTTP Basic per section 2.3.1, a JSON
`access_token` per 5.1, a JSON `error` per 5.2), and a loopback gateway that, like an OAuth2 proxy,
lets only requests bearing a token it issued through to a real Prometheus holding known series.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import pytest
import requests
from prometheus_server import KnownPrometheus
from structlog.testing import capture_logs

from canary.analysis import runner
from canary.analysis.providers.base import MeasureContext, MeasurementError, Reading
from canary.analysis.providers.registry import default_registry
from canary.api.analysis import AnalysisPhase, AnalysisRun, Metric

pytestmark = pytest.mark.prometheus

CLIENT_ID, CLIENT_SECRET = "canary", "s3cret-client-Passw0rd"
SCOPES = ["metrics:read", "tenant:shop"]
RATE = 'sum(rate(http_requests_total{rollouts_pod_template_hash="stable1"}[1m]))'


@dataclass
class TokenEndpoint:
    """What the token server knows and saw; `echo_secret` makes it quote the secret in its errors."""

    issued: list[str] = field(default_factory=list)
    grants: list[dict[str, str]] = field(default_factory=list)
    echo_secret: bool = False


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def answer(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def token_handler(endpoint: TokenEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            form = {
                k: v[0]
                for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()
            }
            scheme, _, encoded = (self.headers.get("Authorization") or "").partition(" ")
            user, _, password = base64.b64decode(encoded or "").decode().partition(":")
            client = (unquote_plus(user), unquote_plus(password))
            if form.get("grant_type") != "client_credentials":
                return self._json(400, {"error": "unsupported_grant_type"})
            if scheme != "Basic" or client != (CLIENT_ID, CLIENT_SECRET):
                said = f" (got secret {client[1]})" if endpoint.echo_secret else ""
                return self._json(
                    401,
                    {"error": "invalid_client", "error_description": "client authentication failed" + said},
                )
            endpoint.grants.append(form)
            token = f"token-{len(endpoint.issued)}"
            endpoint.issued.append(token)
            return self._json(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

        def _json(self, status: int, body: dict[str, Any]) -> None:
            answer(self, status, json.dumps(body).encode(), "application/json")

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def gateway_handler(endpoint: TokenEndpoint, upstream: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
            if scheme != "Bearer" or token not in endpoint.issued:
                return answer(self, 401, b"a bearer token from the token server is required", "text/plain")
            forwarded = requests.get(upstream + self.path, timeout=10)
            return answer(self, forwarded.status_code, forwarded.content, forwarded.headers["Content-Type"])

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@dataclass(frozen=True)
class Servers:
    endpoint: TokenEndpoint
    token_url: str
    gateway: str
    prometheus: KnownPrometheus


@pytest.fixture
def servers(known_prometheus: KnownPrometheus) -> Iterator[Servers]:
    endpoint = TokenEndpoint()
    token_server, token_address = serve(token_handler(endpoint))
    gateway, gateway_address = serve(gateway_handler(endpoint, known_prometheus.address))
    try:
        yield Servers(endpoint, f"{token_address}/oauth2/token", gateway_address, known_prometheus)
    finally:
        for server in (token_server, gateway):
            server.shutdown()
            server.server_close()


def oauth2(servers: Servers, secret: str = CLIENT_SECRET) -> dict[str, Any]:
    return {
        "oauth2": {
            "tokenUrl": servers.token_url,
            "clientId": CLIENT_ID,
            "clientSecret": secret,
            "scopes": SCOPES,
        }
    }


def measure(servers: Servers, provider: dict[str, Any]) -> Any:
    context = MeasureContext(
        run_name="r", namespace="shop", now=servers.prometheus.end - timedelta(minutes=5), index=0
    )
    kind = next(iter(provider))
    metric = Metric.model_validate({"name": "m", "provider": provider})
    return default_registry()[kind].measure(metric, context)


def test_prometheus_queries_pass_a_gateway_that_demands_a_client_credentials_token(servers: Servers) -> None:
    reading = measure(
        servers,
        {"prometheus": {"address": servers.gateway, "query": RATE, "authentication": oauth2(servers)}},
    )
    assert reading == Reading(pytest.approx(10.0))
    assert servers.endpoint.grants == [
        {"grant_type": "client_credentials", "scope": "metrics:read tenant:shop"}
    ]


def test_a_range_query_carries_the_token_too(servers: Servers) -> None:
    window = {"start": 'now() - duration("2m")', "end": "now()", "step": "1m"}
    config = {
        "address": servers.gateway,
        "query": RATE,
        "rangeQuery": window,
        "authentication": oauth2(servers),
    }
    assert measure(servers, {"prometheus": config}) == Reading([pytest.approx(10.0)] * 3)


def test_without_authentication_the_gateway_refuses_the_query(servers: Servers) -> None:
    with pytest.raises(MeasurementError, match="HTTP Status Code 401"):
        measure(servers, {"prometheus": {"address": servers.gateway, "query": RATE}})


def test_the_web_provider_sends_the_token(servers: Servers) -> None:
    url = f"{servers.gateway}/api/v1/query?query={requests.utils.quote(RATE)}&time={(servers.prometheus.end - timedelta(minutes=5)).timestamp()}"
    web = {"url": url, "jsonPath": "$.data.result[0].value[1]", "authentication": oauth2(servers)}
    reading = measure(servers, {"web": web})
    assert isinstance(reading, Reading) and float(str(reading.value)) == pytest.approx(10.0)
    assert len(servers.endpoint.issued) == 1


def test_a_refused_client_is_an_error_naming_the_token_url_and_the_oauth2_error(servers: Servers) -> None:
    config = {"address": servers.gateway, "query": RATE, "authentication": oauth2(servers, secret="wrong")}
    with pytest.raises(MeasurementError) as refused:
        measure(servers, {"prometheus": config})
    assert str(refused.value) == (
        f"the OAuth2 token URL {servers.token_url} refused client 'canary': "
        "HTTP 401 invalid_client: client authentication failed"
    )


def test_an_unreachable_token_url_is_an_error_naming_it(servers: Servers) -> None:
    config = {"address": servers.gateway, "query": RATE, "authentication": oauth2(servers)}
    config["authentication"]["oauth2"]["tokenUrl"] = "http://127.0.0.1:9/token"
    with pytest.raises(
        MeasurementError,
        match=r"cannot reach the OAuth2 token URL http://127\.0\.0\.1:9/token: Connection refused",
    ):
        measure(servers, {"prometheus": config})


def test_a_client_secret_from_a_secret_never_reaches_the_run_or_the_log(servers: Servers) -> None:
    """Even from a token server that quotes the secret it was sent in its error."""
    servers.endpoint.echo_secret = True
    stored = {
        ("shop", "prometheus-oauth2", "client-secret"): CLIENT_SECRET[::-1]
    }  # a secret the server refuses
    run = AnalysisRun.model_validate(
        {
            "metadata": {"name": "oauth2", "namespace": "shop"},
            "spec": {
                "args": [
                    {
                        "name": "client-secret",
                        "valueFrom": {"secretKeyRef": {"name": "prometheus-oauth2", "key": "client-secret"}},
                    }
                ],
                "metrics": [
                    {
                        "name": "m",
                        "consecutiveErrorLimit": 0,
                        "provider": {
                            "prometheus": {
                                "address": servers.gateway,
                                "query": RATE,
                                "authentication": oauth2(servers, secret="{{ args.client-secret }}"),
                            }
                        },
                    }
                ],
            },
        }
    )
    with capture_logs() as logs:
        done = runner.advance(
            run,
            now=servers.prometheus.end,
            providers=default_registry(),
            read_secret=lambda namespace, name, key: stored[(namespace, name, key)],
        ).run
    assert done.status.phase == AnalysisPhase.ERROR
    assert "invalid_client" in done.status.message
    recorded = json.dumps(done.to_wire()) + json.dumps(logs, default=str)
    assert "got secret *****" in recorded
    assert CLIENT_SECRET[::-1] not in recorded
