from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_apiserver import FakeApiServer

from canary.cluster.kube_api import KubeApi


@pytest.fixture
def apiserver() -> Iterator[FakeApiServer]:
    with FakeApiServer() as server:
        yield server


@pytest.fixture
def api(apiserver: FakeApiServer) -> KubeApi:
    return KubeApi(apiserver.api_client(), request_timeout=5)
