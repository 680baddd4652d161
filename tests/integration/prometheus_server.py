"""A real Prometheus on loopback, serving series backfilled with promtool (no scraping, no waiting).

`backfill` writes an OpenMetrics file of known series and turns it into TSDB blocks with
`promtool tsdb create-blocks-from openmetrics`; `PrometheusServer` then starts `prometheus` on that
data directory at 127.0.0.1 on a free port and stops it by its own pid.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

READY_TIMEOUT = 30.0


@dataclass(frozen=True)
class KnownPrometheus:
    address: str
    end: datetime
    """The instant of the last sample; query times up to ~10 min before it see steady rates."""


@dataclass(frozen=True)
class Series:
    """One labelled series: `values[i]` is the sample at `start + i * step` seconds."""

    name: str
    labels: dict[str, str]
    values: Sequence[float]


@dataclass(frozen=True)
class Family:
    """An OpenMetrics metric family: counters are declared as `name` and sampled as `name_total`."""

    name: str
    kind: str
    series: Sequence[Series]


def openmetrics(families: Iterable[Family], *, start: float, step: float) -> str:
    lines: list[str] = []
    for family in families:
        lines.append(f"# TYPE {family.name} {family.kind}")
        for series in family.series:
            labels = ",".join(f'{k}="{v}"' for k, v in series.labels.items())
            for index, value in enumerate(series.values):
                lines.append(f"{series.name}{{{labels}}} {value} {start + index * step:.3f}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def backfill(text: str, data_dir: Path) -> None:
    source = data_dir.parent / "series.om"
    source.write_text(text, encoding="utf-8")
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(source), str(data_dir)],
        check=True,
        capture_output=True,
        timeout=120,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrometheusServer:
    def __init__(self, workdir: Path, data_dir: Path) -> None:
        self.port = free_port()
        self.address = f"http://127.0.0.1:{self.port}"
        config = workdir / "prometheus.yml"
        config.write_text("global: {}\nscrape_configs: []\n", encoding="utf-8")
        self._log = (workdir / "prometheus.log").open("wb")
        self._process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={data_dir}",
                "--storage.tsdb.retention.time=30d",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._log_path = workdir / "prometheus.log"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"prometheus exited early:\n{self._log_path.read_text(errors='replace')[-2000:]}"
                )
            try:
                if requests.get(f"{self.address}/-/ready", timeout=1).status_code == 200:
                    return
            except requests.exceptions.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"prometheus not ready after {READY_TIMEOUT}s:\n{self._log_path.read_text()[-2000:]}"
        )

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()


@contextlib.contextmanager
def serving(
    families: Iterable[Family], workdir: Path, *, samples: int, step: float
) -> Iterator[KnownPrometheus]:
    """A Prometheus serving `families`, `samples` samples `step` seconds apart ending now; stopped after."""
    start = (time.time() // step) * step - (samples - 1) * step
    backfill(openmetrics(families, start=start, step=step), workdir / "data")
    server = PrometheusServer(workdir, workdir / "data")
    try:
        server.wait_ready()
        yield KnownPrometheus(server.address, datetime.fromtimestamp(start + (samples - 1) * step, UTC))
    finally:
        server.stop()


def require(binaries: tuple[str, ...]) -> None:
    """Skip the test when a binary is missing locally; fail it in CI (CI=true), where it must be there."""
    missing = [b for b in binaries if shutil.which(b) is None]
    if not missing:
        return
    reason = f"{', '.join(missing)} not on PATH; run scripts/install-test-deps.sh (Debian package prometheus)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)
