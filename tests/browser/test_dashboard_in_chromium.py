"""`canary dashboard --cluster memory` in headless Chromium while the demo plays: the list and a
Rollout's page show each point of the releases (checked in the DOM, and on screenshots that are
drawn), a button aborts a release, and `--read-only` offers none."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.browser.dashboard_driver import (
    Dashboard,
    assert_drawn,
    browser,
    dashboard,
    dom,
    eventually,
    row,
    shown,
)

pytestmark = pytest.mark.browser

PAGE = "/rollouts/demo/checkout"
KEY = "demo/checkout"


def test_the_list_and_a_rollout_page_follow_the_demo(tmp_path: Path) -> None:
    with (
        browser() as driver,
        dashboard(["--cluster", "memory", "--demo-speed", "5"], tmp_path / "dashboard.log") as app,
    ):
        driver.get(app.url + "/")
        during = eventually(
            "the list to show the good release on its canary steps",
            lambda: (
                (r := row(driver, KEY))
                and r["phase"] in ("Paused", "Progressing")
                and "canary 20%" in r["weights"]
                and r
            ),
            timeout=60,
            explain=app.tail,
        )
        assert during["step"].startswith(("0/7", "1/7", "2/7"))
        assert_drawn(driver, tmp_path / "1-list-canary.png", plots=False)

        driver.get(app.url + PAGE)
        analysing = eventually(
            "the Rollout page to plot the analysis of the good release",
            lambda: (s := shown(driver)) and s["points"] >= 3 and s["weight"] > 0 and s,
            timeout=60,
            explain=app.tail,
        )
        assert "Rollout demo/checkout" in analysing["tree"] and "ReplicaSets" in analysing["tree"]
        assert_drawn(driver, tmp_path / "2-rollout-analysis.png", plots=True)

        promoted = eventually(
            "the good release promoted",
            lambda: (s := shown(driver))["phase"] == "Healthy" and s["weight"] == 0 and s,
            timeout=120,
            explain=app.tail,
        )
        assert "RolloutCompleted" in promoted["reasons"]
        assert_drawn(driver, tmp_path / "3-rollout-promoted.png", plots=False)

        aborted = eventually(
            "the bad release aborted by its analysis",
            lambda: (s := shown(driver))["phase"] == "Degraded" and s["aborted"] and s,
            timeout=120,
            explain=app.tail,
        )
        assert aborted["weight"] == 0 and "stable 100%" in aborted["weights"]
        assert "RolloutAborted" in aborted["reasons"] and aborted["plots"] >= 1
        assert_drawn(driver, tmp_path / "4-rollout-aborted.png", plots=True)

        driver.get(app.url + "/")
        eventually(
            "the list to show the abort",
            lambda: (r := row(driver, KEY)) and r["phase"] == "Degraded",
            timeout=30,
        )
        assert_drawn(driver, tmp_path / "5-list-aborted.png", plots=False)


def test_the_abort_button_sends_all_traffic_back_to_stable(tmp_path: Path) -> None:
    with (
        browser() as driver,
        dashboard(["--cluster", "memory", "--demo-speed", "2"], tmp_path / "dashboard.log") as app,
    ):
        driver.get(app.url + PAGE)
        eventually(
            "the good release on its first canary step",
            lambda: (s := shown(driver))["weight"] == 20 and s,
            timeout=60,
            explain=app.tail,
        )
        driver.find_element("id", "abort").click()
        aborted = eventually(
            "the page to show the abort",
            lambda: (s := shown(driver))["aborted"] and s["phase"] == "Degraded" and s["weight"] == 0 and s,
            timeout=60,
            explain=app.tail,
        )
        assert aborted["result"] == "rollout 'checkout' aborted" or aborted["result"].startswith(
            "rollout 'checkout' aborted:"
        )
        assert app.json("/api/rollouts/demo/checkout")["aborted"] is True
        assert_drawn(driver, tmp_path / "aborted-by-button.png", plots=False)


def post(app: Dashboard, path: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(app.url + path, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_read_only_shows_no_buttons_and_refuses_every_verb(tmp_path: Path) -> None:
    with (
        browser() as driver,
        dashboard(["--cluster", "memory", "--read-only"], tmp_path / "dashboard.log") as app,
    ):
        driver.get(app.url + PAGE)
        eventually("the page drawn", lambda: shown(driver)["phase"], timeout=60, explain=app.tail)
        assert dom(driver, "document.querySelectorAll('.actions button').length") == 0
        status, answer = post(app, "/api/rollouts/demo/checkout/abort", {"X-Canary-Dashboard": "1"})
        assert status == 403 and "read-only" in answer["error"]
        assert app.json("/api/rollouts/demo/checkout")["aborted"] is False


def test_a_verb_without_the_dashboard_header_is_refused(tmp_path: Path) -> None:
    """A form on another site can post to localhost, but cannot add the header without asking first."""
    with dashboard(["--cluster", "memory"], tmp_path / "dashboard.log") as app:
        status, answer = post(app, "/api/rollouts/demo/checkout/abort", {})
        assert status == 403 and "X-Canary-Dashboard" in answer["error"]
        assert app.json("/api/rollouts/demo/checkout")["aborted"] is False


def test_the_dashboard_is_served_under_a_root_path(tmp_path: Path) -> None:
    """Given as Argo's `--root-path rollouts` is, without a slash."""
    with (
        browser() as driver,
        dashboard(["--cluster", "memory", "--root-path", "canary"], tmp_path / "dashboard.log") as app,
    ):
        driver.get(app.url + "/canary" + PAGE)
        eventually(
            "the page drawn under /canary", lambda: shown(driver)["phase"], timeout=60, explain=app.tail
        )
        assert dom(driver, "typeof Plotly") == "object", "plotly.js is served under the root path too"
