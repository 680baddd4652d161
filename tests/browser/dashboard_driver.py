"""What the browser tests share: Chromium (skipped locally without it, a failure in CI), `canary
dashboard` as a real subprocess, and a Selenium session in headless Chromium driven by Debian's
chromium-driver (both installed by scripts/install-test-deps.sh).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.png import read_rgb

ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 1280, 1600
T = TypeVar("T")


def _required(*names: str) -> str:
    found = next((path for name in names if (path := shutil.which(name))), None)
    if found is None:
        message = f"{names[0]} is not installed (scripts/install-test-deps.sh installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def chromium() -> str:
    return _required("chromium", "chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def eventually(
    what: str, probe: Callable[[], T | None], timeout: float, explain: Callable[[], str] = str
) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` (and `explain()`) on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}\n{explain()}")
        time.sleep(0.1)


class Dashboard:
    """`canary dashboard ARGS` on a free loopback port, its output kept in a log file."""

    def __init__(self, args: Sequence[str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        argv = [sys.executable, "-m", "canary.cli.main", "dashboard", "--port", str(self.port), *args]
        with log.open("w") as out:
            self.process = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        eventually("the dashboard to answer", self.answers, timeout=60, explain=self.tail)

    def answers(self) -> bool:
        assert self.process.poll() is None, f"the dashboard exited:\n{self.tail()}"
        try:
            urllib.request.urlopen(f"{self.url}/", timeout=2).close()
        except urllib.error.HTTPError:
            return True  # served, only not at / (a --root-path)
        except OSError:
            return False
        return True

    def json(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as answer:
            return json.load(answer)

    def tail(self) -> str:
        return self.log.read_text()[-3000:]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def dashboard(args: Sequence[str], log: Path) -> Iterator[Dashboard]:
    running = Dashboard(args, log)
    try:
        yield running
    finally:
        running.stop()


@contextlib.contextmanager
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = chromium()
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={WIDTH},{HEIGHT}",
        "--disable-background-networking",
        "--no-first-run",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(_required("chromedriver")), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def dom(driver: WebDriver, script: str) -> Any:
    """The value of a JavaScript expression in the page."""
    return driver.execute_script(f"return ({script});")


def screenshot(driver: WebDriver, path: Path) -> np.ndarray[Any, np.dtype[np.int16]]:
    """Save a PNG of the window and return its pixels (height x width x RGB)."""
    driver.save_screenshot(str(path))
    width, height, rows = read_rgb(path)
    return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(height, width, 3).astype(np.int16)


def near(
    image: np.ndarray[Any, np.dtype[np.int16]], colour: tuple[int, int, int], tolerance: int = 24
) -> int:
    """How many pixels are within `tolerance` of `colour` in every channel."""
    return int((np.abs(image - np.array(colour)) <= tolerance).all(axis=2).sum())


def inked(image: np.ndarray[Any, np.dtype[np.int16]]) -> int:
    """How many pixels are not near-white: a blank (or unstyled, empty) page has almost none."""
    return int((image.min(axis=2) < 200).sum())


CANARY = (0xFF, 0x7F, 0x0E)


def row(driver: WebDriver, key: str) -> dict[str, Any] | None:
    """The list's line for the Rollout `namespace/name`: its phase, step and weights as drawn."""
    line = f"document.querySelector('tr[data-rollout=\"{key}\"]')"
    found: dict[str, Any] | None = dom(
        driver,
        f"{line} && {{phase: {line}.dataset.phase, step: {line}.querySelector('.step').textContent, "
        f"weights: {line}.querySelector('.weights').textContent}}",
    )
    return found


def shown(driver: WebDriver) -> dict[str, Any]:
    """The Rollout page's summary as drawn."""
    found: dict[str, Any] = dom(
        driver,
        "{phase: document.getElementById('summary').dataset.phase || '', "
        "weight: Number(document.getElementById('summary').dataset.canaryWeight), "
        "aborted: document.getElementById('summary').dataset.aborted === 'true', "
        "weights: document.getElementById('weights').textContent, "
        "plots: document.querySelectorAll('#plots .main-svg').length, "
        "points: document.querySelectorAll('#plots .scatterlayer .point').length, "
        "tree: document.getElementById('tree').textContent, "
        "reasons: Array.from(document.querySelectorAll('#events .reason')).map((e) => e.textContent), "
        "result: document.getElementById('result').textContent}",
    )
    return found


def assert_drawn(driver: WebDriver, path: Path, *, plots: bool) -> None:
    image = screenshot(driver, path)
    assert inked(image) > 20_000, f"{path.name} shows the page, not a blank window"
    if plots:
        assert near(image, CANARY) > 300, f"{path.name} draws the evidence plot (the canary's colour)"
