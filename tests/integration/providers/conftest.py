"""Fixtures for the vendor provider tests: real InfluxDB 1.x and Graphite servers (Debian packages),
a moto server speaking the CloudWatch API, loopback servers for the vendors that cannot run here,
and Secrets as a plain mapping read through the provider's SecretReader."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from vendor_servers import GraphiteServer, InfluxDBServer, LoopbackAPI, require_commands


@pytest.fixture(scope="session")
def influxdb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDBServer]:
    require_commands(["influxd"], "influxdb")
    server = InfluxDBServer(tmp_path_factory.mktemp("influxdb"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def graphite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphiteServer]:
    require_commands(["graphite-manage", "whisper-create", "whisper-update"], "graphite-web")
    server = GraphiteServer(tmp_path_factory.mktemp("graphite"))
    yield server
    server.stop()


@pytest.fixture
def loopback_api() -> Iterator[LoopbackAPI]:
    api = LoopbackAPI()
    yield api
    api.stop()


@pytest.fixture
def cloudwatch_api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """A moto server speaking the CloudWatch API; boto3 reaches it through the SDK's own settings."""
    from moto.server import ThreadedMotoServer
    from prometheus_server import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    address = f"http://127.0.0.1:{port}"
    for name, value in {
        "AWS_ENDPOINT_URL_CLOUDWATCH": address,
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "AKIDTESTINGONLY",
        "AWS_SECRET_ACCESS_KEY": "testing-secret",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }.items():
        monkeypatch.setenv(name, value)
    yield address
    server.stop()
