"""JSON logs: one record per line, whichever thread and whichever logger (structlog or the standard
library's, as the kubernetes client uses) wrote it."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
import time
from collections.abc import Callable

import pytest
import structlog

from canary import logs

THREADS, RECORDS = 8, 200


class SlowStream(io.StringIO):
    """A stderr that yields the processor on every write, as a pipe to a busy log shipper does: a
    record written in two pieces (text, then newline) then gets another thread's record between them."""

    def write(self, text: str) -> int:
        written = super().write(text)
        time.sleep(0)
        return written


@pytest.fixture(autouse=True)
def _json_logs() -> None:
    logs.configure("info", json=True)


def _from_threads(write: Callable[[int, int], None]) -> SlowStream:
    """Runs write(thread, record) for every record of every thread; returns what reached stderr.

    stderr is swapped inside the test call itself, since pytest's own capture re-installs its
    stream at the start of the call phase."""

    def work(thread: int) -> None:
        for record in range(RECORDS):
            write(thread, record)

    stream = SlowStream()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    with contextlib.redirect_stderr(stream):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return stream


def _records(stream: SlowStream) -> list[dict[str, object]]:
    lines = stream.getvalue().splitlines()
    return [json.loads(line) for line in lines]  # a shared line fails here: "Extra data"


def test_structlog_records_from_many_threads_are_one_json_object_per_line() -> None:
    log = structlog.get_logger("test")
    stderr = _from_threads(lambda thread, record: log.info("step", thread=thread, record=record))
    records = _records(stderr)
    assert len(records) == THREADS * RECORDS
    assert {(r["thread"], r["record"]) for r in records} == {
        (t, n) for t in range(THREADS) for n in range(RECORDS)
    }


def test_stdlib_and_structlog_records_interleaved_across_threads_stay_one_per_line() -> None:
    structured, library = structlog.get_logger("test"), logging.getLogger("kubernetes.client.rest")

    def write(thread: int, record: int) -> None:
        if thread % 2:
            library.warning("retrying %d-%d", thread, record)
        else:
            structured.warning("retrying", thread=thread, record=record)

    assert len(_records(_from_threads(write))) == THREADS * RECORDS
