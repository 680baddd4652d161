"""`canary promote`, `canary abort` and `canary status`, run as a user would (a subprocess with a
kubeconfig), against a Rollout held by an indefinite pause while the real controller runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from canarytier import (
    HASH_LABEL,
    ROOT,
    ControllerProcess,
    deploy_stable,
    diagnose,
    eventually,
    example_rollout,
    release,
    replica_sets,
    route_weights,
    service_selector,
    status_of,
)
from localcluster import LocalControlPlane

NAME = "search"
STEPS = [{"setWeight": 50}, {"pause": {}}, {"setWeight": 80}, {"pause": {"duration": "1s"}}]


def canary_cli(kubeconfig: Path, namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "canary.cli.main", "--kubeconfig", str(kubeconfig), "-n", namespace, *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)


def paused_canary(
    api: Any, namespace: str, proc: ControllerProcess, steps: list[dict[str, Any]] = STEPS
) -> tuple[str, str]:
    """A release waiting at its indefinite pause (step 1), 50% of traffic on the canary: (stable,
    canary) hashes. `steps` must start with setWeight 50 and an indefinite pause."""
    stable = deploy_stable(api, namespace, example_rollout(NAME, steps=steps), proc)
    release(api, namespace, NAME, "ghcr.io/example/search:8.0.0")
    status = eventually(
        "the release to wait at its pause step",
        lambda: (
            (s := status_of(api, namespace, NAME)).get("phase") == "Paused"
            and s.get("currentStepIndex") == 1
            and s
        ),
        timeout=60,
        explain=lambda: diagnose(api, namespace, [NAME], proc),
    )
    return stable, str(status["currentPodHash"])


def test_status_of_a_paused_rollout_gives_up_at_the_timeout_with_exit_2(
    control_plane: LocalControlPlane, admin_api: Any, namespace: str, namespace_controller: ControllerProcess
) -> None:
    paused_canary(admin_api, namespace, namespace_controller)
    result = canary_cli(
        control_plane.kubeconfig, namespace, "status", NAME, "--timeout", "2s", "--interval", "1"
    )
    assert result.returncode == 2, result.stdout + result.stderr


def test_promote_releases_the_pause_and_status_waits_for_healthy(
    control_plane: LocalControlPlane, admin_api: Any, namespace: str, namespace_controller: ControllerProcess
) -> None:
    _, canary = paused_canary(admin_api, namespace, namespace_controller)

    promoted = canary_cli(control_plane.kubeconfig, namespace, "promote", NAME)
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert "promoted" in promoted.stdout

    waited = canary_cli(
        control_plane.kubeconfig, namespace, "status", NAME, "--timeout", "90s", "--interval", "1"
    )
    assert waited.returncode == 0, waited.stdout + waited.stderr + diagnose(admin_api, namespace, [NAME])
    status = status_of(admin_api, namespace, NAME)
    assert status["phase"] == "Healthy" and status["stableRS"] == canary
    assert route_weights(admin_api, namespace, NAME) == {f"{NAME}-stable": 100, f"{NAME}-canary": 0}


def test_abort_sends_all_traffic_back_to_stable_and_status_reports_degraded(
    control_plane: LocalControlPlane, admin_api: Any, namespace: str, namespace_controller: ControllerProcess
) -> None:
    stable, canary = paused_canary(admin_api, namespace, namespace_controller)
    assert route_weights(admin_api, namespace, NAME) == {f"{NAME}-stable": 50, f"{NAME}-canary": 50}

    aborted = canary_cli(control_plane.kubeconfig, namespace, "abort", NAME)
    assert aborted.returncode == 0, aborted.stdout + aborted.stderr
    assert "aborted" in aborted.stdout

    eventually(
        "traffic back on stable and the canary scaled down",
        lambda: (
            route_weights(admin_api, namespace, NAME) == {f"{NAME}-stable": 100, f"{NAME}-canary": 0}
            and [
                rs.spec.replicas
                for rs in replica_sets(admin_api, namespace, NAME)
                if rs.metadata.name.endswith(canary)
            ]
            == [0]
        ),
        timeout=30,
        explain=lambda: diagnose(admin_api, namespace, [NAME], namespace_controller),
    )
    assert service_selector(admin_api, namespace, f"{NAME}-canary")[HASH_LABEL] == stable
    waited = canary_cli(
        control_plane.kubeconfig, namespace, "status", NAME, "--timeout", "30s", "--interval", "1"
    )
    assert waited.returncode == 1, waited.stdout + waited.stderr
    status = status_of(admin_api, namespace, NAME)
    assert status["phase"] == "Degraded" and status["abort"] is True and status["stableRS"] == stable


def test_undo_of_a_paused_canary_returns_to_stable_without_a_new_revision(
    control_plane: LocalControlPlane, admin_api: Any, namespace: str, namespace_controller: ControllerProcess
) -> None:
    stable, canary = paused_canary(admin_api, namespace, namespace_controller)

    undone = canary_cli(control_plane.kubeconfig, namespace, "undo", NAME)
    assert undone.returncode == 0, undone.stdout + undone.stderr

    waited = canary_cli(
        control_plane.kubeconfig, namespace, "status", NAME, "--timeout", "60s", "--interval", "1"
    )
    assert waited.returncode == 0, waited.stdout + waited.stderr + diagnose(admin_api, namespace, [NAME])
    status = status_of(admin_api, namespace, NAME)
    assert status["stableRS"] == stable and status["currentPodHash"] == stable
    hashes = {rs.metadata.labels[HASH_LABEL] for rs in replica_sets(admin_api, namespace, NAME)}
    assert hashes == {stable, canary}, "undo must reuse the stable ReplicaSet, not make a third revision"
    assert route_weights(admin_api, namespace, NAME) == {f"{NAME}-stable": 100, f"{NAME}-canary": 0}
