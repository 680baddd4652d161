"""`canary dashboard` on the real control plane, in headless Chromium: it shows a release held at its
pause (50% of traffic on the canary), still shows it right after the controller is killed and started
again, and aborts it from the page's button, acting through the dashboard user's kubeconfig; the
controller then sends all traffic back to stable. A user whose RBAC only lets them read sees the same
page, and the button answers with the API's refusal."""

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
    with browser() as driver, dashboard(args, tmp_path / "dashboard.log") as app:
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


VIEWER_ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "Role",
    "metadata": {"name": "viewer"},
    "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}],
}
VIEWER_BINDING = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "RoleBinding",
    "metadata": {"name": "viewer"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "viewer"},
    "subjects": [{"kind": "ServiceAccount", "name": "viewer"}],
}


def test_a_user_who_may_only_read_sees_the_release_and_the_abort_button_is_refused_by_rbac(
    control_plane: LocalControlPlane,
    admin_api: Any,
    namespace: str,
    namespace_controller: ControllerProcess,
    tmp_path: Path,
) -> None:
    paused_canary(admin_api, namespace, namespace_controller)
    viewer = control_plane.kubeconfig_for_service_account(namespace, "viewer")
    control_plane.apply_manifests([VIEWER_ROLE, VIEWER_BINDING], namespace=namespace)
    with browser() as driver, dashboard(["--kubeconfig", str(viewer)], tmp_path / "dashboard.log") as app:
        driver.get(f"{app.url}/rollouts/{namespace}/{NAME}")
        paused = drawn(
            "the page to show the pause",
            lambda: (s := shown(driver))["phase"] == "Paused" and s,
            30,
            app.tail,
        )
        assert paused["weight"] == 50
        driver.find_element("id", "abort").click()
        refused = drawn(
            "the refusal", lambda: "forbidden" in (s := shown(driver))["result"] and s, 30, app.tail
        )
        assert refused["result"].startswith("forbidden by RBAC") and "patch" in refused["result"], refused
    status = status_of(admin_api, namespace, NAME)
    assert not status.get("abort") and status["phase"] == "Paused"
