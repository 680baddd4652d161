"""The analysis report, opened in a real headless Chromium: its plots are drawn, not blank.

Needs the Debian package `chromium` (scripts/install-test-deps.sh installs it). Skipped locally
without it; in CI (CI=true) a missing browser is a failure, never a silent skip.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from canary.cli.main import main
from tests.browser.dashboard_driver import chromium, near
from tests.browser.png import read_rgb

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 1000, 2200
STABLE = (0x1F, 0x77, 0xB4)
CANARY = (0xFF, 0x7F, 0x0E)
THRESHOLD = (0xD6, 0x27, 0x28)


def write_arms(directory: Path) -> tuple[Path, Path]:
    """20 intervals of log-normal latencies; the canary gets 15% slower from interval 6 on."""
    rng = random.Random(11)
    stable, canary = directory / "stable.csv", directory / "canary.csv"
    with stable.open("w") as s, canary.open("w") as c:
        s.write("time,value\n")
        c.write("time,value\n")
        for t in range(20):
            for _ in range(50):
                s.write(f"{t},{rng.lognormvariate(0, 0.3):.5f}\n")
                c.write(f"{t},{rng.lognormvariate(0.15 if t > 5 else 0, 0.3):.5f}\n")
    return stable, canary


def screenshot(browser: str, page: Path, directory: Path) -> Path:
    shot = directory / "report.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={directory / 'profile'}",
            f"--screenshot={shot}",
            f"--window-size={WIDTH},{HEIGHT}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return shot


def bands(image: npt.NDArray[np.int16], min_gap: int = 30) -> list[tuple[int, int, int]]:
    """(first row, last row, coloured pixels) of each vertical run of rows holding plot ink: coloured
    pixels, unlike the white page, black text and the grey axes and table lines."""
    ink_per_row = ((image.max(axis=2) - image.min(axis=2)) > 60).sum(axis=1)
    found: list[tuple[int, int, int]] = []
    for y, ink in enumerate(ink_per_row.tolist()):
        if ink < 3:
            continue
        if found and y - found[-1][1] <= min_gap:
            first, _, total = found[-1]
            found[-1] = (first, y, total + ink)
        else:
            found.append((y, y, ink))
    return found


def test_report_plots_are_drawn_in_chromium(tmp_path: Path) -> None:
    browser = chromium()
    stable, canary = write_arms(tmp_path)
    report = tmp_path / "report.html"
    code = main(
        [
            "analyze",
            "samples",
            "--judge",
            "sequential-location",
            "--config",
            "min_samples=50",
            "--stable",
            str(stable),
            "--canary",
            str(canary),
            "--report",
            str(report),
        ]
    )
    assert code == 1, "the slower canary fails"

    width, height, rows = read_rgb(screenshot(browser, report, tmp_path))
    image = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(height, width, 3).astype(np.int16)

    assert near(image, STABLE) > 1000, "the stable arm is drawn"
    assert near(image, CANARY) > 1000, "the canary arm is drawn"
    assert near(image, THRESHOLD) > 200, "the evidence threshold is drawn"
    plots = [band for band in bands(image) if band[2] > 2000]
    assert len(plots) >= 3, f"three plots with ink (over time, distributions, evidence); found {plots}"
