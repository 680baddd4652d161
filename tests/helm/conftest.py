"""The `helm` fixture: the real client (helmtool.py), with its own config and cache directories."""

from __future__ import annotations

import pytest
from helmtool import Helm, helm_binary


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(helm_binary(), tmp_path_factory.mktemp("helm-home"))
