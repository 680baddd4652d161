"""Suite-wide fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _fresh_logging_configuration() -> Iterator[None]:
    # Commands under test reconfigure logging for the process (e.g. the CLI keeps only warnings);
    # each test starts from structlog's defaults so no test depends on which ran before it.
    yield
    structlog.reset_defaults()
