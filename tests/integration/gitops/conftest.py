from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gitops.gitservers import GitDaemon


@pytest.fixture
def git_daemon(tmp_path: Path) -> Iterator[GitDaemon]:
    with GitDaemon(tmp_path / "served") as daemon:
        yield daemon
