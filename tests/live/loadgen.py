"""A steady request rate through Traefik's entrypoint, every response recorded.

    with LoadGenerator("http://127.0.0.1:8000", host="shop.live", rate=100) as load:
        ...
        mark = load.mark()
        ...
        window = load.since(mark)          # the responses to requests sent after the mark
        share = canary_share(window, "v2")

Requests are started on a fixed schedule (open loop: a slow answer does not slow the rate) by an
aiohttp client on an event loop in a thread of its own. Each response records when its request was
sent, the ``X-Version`` header the pod runner sets (``""`` when Traefik answered itself, e.g. 502/503),
the status and the latency.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType

import aiohttp


@dataclass(frozen=True)
class Response:
    sent: float  # time.monotonic() when the request started
    version: str
    status: int
    latency: float  # seconds


def canary_share(responses: Iterable[Response], canary_version: str) -> float:
    answered = [r for r in responses if r.version]
    return sum(r.version == canary_version for r in answered) / len(answered) if answered else 0.0


class LoadGenerator:
    def __init__(self, url: str, *, host: str, rate: float, timeout: float = 10.0) -> None:
        self.url = url
        self.host = host
        self.rate = rate
        self.timeout = timeout
        self.responses: list[Response] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"load-{host}", daemon=True)

    def __enter__(self) -> LoadGenerator:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.timeout + 5)

    def mark(self) -> float:
        return time.monotonic()

    def since(self, mark: float, until: float | None = None) -> list[Response]:
        with self._lock:
            return [r for r in self.responses if r.sent >= mark and (until is None or r.sent < until)]

    def wait_for_responses(self, mark: float, count: int, timeout: float) -> list[Response]:
        """At least ``count`` responses to requests sent after ``mark`` (all of them, in order sent)."""
        deadline = time.monotonic() + timeout
        while len(window := self.since(mark)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(window)} of {count} responses after {timeout:.0f}s")
            time.sleep(0.1)
        return sorted(window, key=lambda r: r.sent)[:count]

    def _run(self) -> None:
        asyncio.run(self._generate())

    async def _generate(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            pending: set[asyncio.Task[None]] = set()
            period = 1.0 / self.rate
            next_at = time.monotonic()
            while not self._stop.is_set():
                task = asyncio.create_task(self._one(session))
                pending.add(task)
                task.add_done_callback(pending.discard)
                next_at += period
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            if pending:
                await asyncio.wait(pending, timeout=self.timeout)

    async def _one(self, session: aiohttp.ClientSession) -> None:
        sent = time.monotonic()
        try:
            async with session.get(self.url, headers={"Host": self.host}) as response:
                await response.read()
                record = Response(sent, response.headers.get("X-Version", ""), response.status, 0.0)
        except (aiohttp.ClientError, TimeoutError):
            record = Response(sent, "", 0, 0.0)
        record = Response(record.sent, record.version, record.status, time.monotonic() - sent)
        with self._lock:
            self.responses.append(record)
