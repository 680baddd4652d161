"""`canary dashboard` on the real control plane, in headless Chromium: it shows a release held at its
pause (50% of traffic on the canary), still shows it right after the controller is killed and started
again, and aborts it from the page's button, acting through the dashboard user's kubeconfig; the
controller then sends all traffic back to stable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from canarytier import ControllerProcess, diagnose, eventually, route_weights, status_of
from localcluster import LocalControlPlane
from test_cli_verbs import NAME, paused_canary

from tests.browser.dashboard_driver import assert_drawn, browser, dashboard, row, shown
from tests.browser.dashboard_driver import eventually as drawn

pytestmark = pytest.mark.browser


def test_the_dashboard_shows_a_release_across_a_controller_restart_and_aborts_it_from_a_button(
    control_plane: LocalControlPlane,
    admin_api: Any,
    namespace: str,
    namespace_controller: ControllerProcess,
    tmp_path: Path,
) -> None:
    stable, _ = paused_canary(admin_api, namespace, namespace_controller)
    args = ["--kubeconfig", str(control_plane.kubeconfig), "-n", namespace]
    with dashboard(args, tmp_path / "dashboard.log") as app, browser() as driver:
        driver.get(f"{app.url}/")
        listed = drawn(
            "the list to show the paused release", lambda: row(driver, f"{namespace}/{NAME}"), 30, app.tail
        )
        assert listed["phase"] == "Paused" and "canary 50%" in listed["weights"], listed
        assert_drawn(driver, tmp_path / "1-list-paused.png", plots=False)

        page = f"{app.url}/rollouts/{namespace}/{NAME}"
        driver.get(page)
        paused = drawn(
            "the page to show the pause",
            lambda: (s := shown(driver))["phase"] == "Paused" and s,
            30,
            app.tail,
        )
        assert paused["weight"] == 50 and f"Rollout {namespace}/{NAME}" in paused["tree"]
        assert_drawn(driver, tmp_path / "2-rollout-paused.png", plots=False)

        namespace_controller.kill()
        namespace_controller.start()
        namespace_controller.wait_ready()
        driver.get(page)
        again = drawn("the page after the restart", lambda: (s := shown(driver))["phase"] and s, 30, app.tail)
        assert (again["phase"], again["weight"], again["aborted"]) == ("Paused", 50, False), again
        assert_drawn(driver, tmp_path / "3-rollout-after-restart.png", plots=False)

        driver.find_element("id", "abort").click()
        aborted = drawn(
            "the page to show the abort",
            lambda: (s := shown(driver))["phase"] == "Degraded" and s["weight"] == 0 and s,
            60,
            lambda: app.tail() + diagnose(admin_api, namespace, [NAME], namespace_controller),
        )
        assert aborted["aborted"] and aborted["result"].startswith(f"rollout '{NAME}' aborted")
        assert "RolloutAborted" in aborted["reasons"]
        assert_drawn(driver, tmp_path / "4-rollout-aborted.png", plots=False)

    eventually(
        "all traffic back on stable",
        lambda: route_weights(admin_api, namespace, NAME) == {f"{NAME}-stable": 100, f"{NAME}-canary": 0},
        timeout=30,
        explain=lambda: diagnose(admin_api, namespace, [NAME], namespace_controller),
    )
    status = status_of(admin_api, namespace, NAME)
    assert status["abort"] is True and status["stableRS"] == stable
