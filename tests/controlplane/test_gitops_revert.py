"""The rollback written back to Git, end to end on the real control plane: a Git repository on a real
`git daemon` on loopback holds the Rollout's manifest, a GitOps tool's sync is played by a server-side
apply of that manifest (its own field manager, as Argo CD's SSA), and the controller of this session
writes the stable image back to Git when the release is aborted (`canary abort`).

Done when: the abort makes exactly one revert commit; the next sync brings the Rollout Healthy on the
stable revision at once, its steps skipped; a second abort of the same revision (the old commit synced
again by hand) writes nothing, even from a restarted controller that has to look in Git to know.
`canary gitops revert`, as a pipeline step, does the same, and exits 3 on a conflict leaving Git alone.

The same with the example Helm app (examples/helm): its values file in Git, the sync a `helm upgrade`
with it, the abort an analysis failure (success-rate against test_helm's loopback Prometheus stand-in),
and the revert the values' image.tag."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from canarytier import (
    ControllerProcess,
    diagnose,
    eventually,
    example_rollout,
    rollout_events,
    status_of,
    with_image,
)
from gitops.gitservers import GitDaemon
from helmtool import APP_CHART, Helm, helm_binary
from localcluster import LocalControlPlane
from test_gitops_apply import apply
from test_helm import APP, BAD, PrometheusStandIn

NAME = "search"
REPO = "team/deploy"
FILE = "apps/search/rollout.yaml"
STABLE_IMAGE, BAD_IMAGE = "ghcr.io/example/search:7.0.0", "ghcr.io/example/search:7.1.0-bad"


@pytest.fixture
def git_daemon(tmp_path: Path) -> Iterator[GitDaemon]:
    with GitDaemon(tmp_path / "served") as daemon:
        yield daemon


def manifest(daemon: GitDaemon, image: str) -> str:
    rollout = with_image(example_rollout(NAME, steps=[{"setWeight": 20}, {"pause": {}}]), image)
    rollout["apiVersion"], rollout["kind"] = "canary.dev/v1alpha1", "Rollout"
    rollout["metadata"]["annotations"] = {
        "gitops.canary.dev/repo": daemon.url(REPO),
        "gitops.canary.dev/file": FILE,
        "gitops.canary.dev/field": "spec.template.spec.containers[0].image",
    }
    return "# the search service, synced from Git\n" + yaml.safe_dump(rollout, sort_keys=False)


def sync(api: Any, namespace: str, daemon: GitDaemon) -> None:
    """The GitOps tool: what Git's main branch says, server-side applied."""
    apply(api, namespace, yaml.safe_load(daemon.show(REPO, FILE)))


def canary(control_plane: LocalControlPlane, namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable,
        "-m",
        "canary.cli.main",
        "--kubeconfig",
        str(control_plane.kubeconfig),
        "-n",
        namespace,
    ]
    return subprocess.run([*argv, *args], check=False, capture_output=True, text=True)


def canary_abort(control_plane: LocalControlPlane, namespace: str) -> None:
    aborted = canary(control_plane, namespace, "abort", NAME)
    assert aborted.returncode == 0, aborted.stderr


def reverts(daemon: GitDaemon) -> list[str]:
    return [message for message in daemon.log(REPO) if "Canary-Revert:" in message]


def reasons(api: Any, namespace: str) -> list[str]:
    return [event.reason for event in rollout_events(api, namespace, NAME)]


StatusWait = Callable[..., Any]


def status_wait(api: Any, namespace: str, name: str, explain: Callable[[], str]) -> StatusWait:
    """`wait(what, holds, timeout=60)`: the Rollout's status once `holds(status)` is truthy."""

    def wait(what: str, holds: Callable[[dict[str, Any]], Any], timeout: float = 60) -> Any:
        return eventually(
            what, lambda: holds(status_of(api, namespace, name)), timeout=timeout, explain=explain
        )

    return wait


def healthy_on_stable(status: dict[str, Any]) -> Any:
    return status.get("phase") == "Healthy" and not status.get("abort") and status


def paused(status: dict[str, Any]) -> bool:
    return status.get("phase") == "Paused"


@pytest.fixture
def helm(control_plane: LocalControlPlane, tmp_path: Path) -> Helm:
    return Helm(helm_binary(), tmp_path / "helm-home", kubeconfig=control_plane.kubeconfig)


def test_an_abort_is_written_back_to_git_once_and_the_next_sync_is_healthy_on_stable_without_steps(
    admin_api: Any,
    control_plane: LocalControlPlane,
    namespace: str,
    namespace_controller: ControllerProcess,
    git_daemon: GitDaemon,
) -> None:
    explain = lambda: diagnose(admin_api, namespace, [NAME], namespace_controller)  # noqa: E731
    wait = status_wait(admin_api, namespace, NAME, explain)
    git_daemon.create(REPO, {FILE: manifest(git_daemon, STABLE_IMAGE)})
    sync(admin_api, namespace, git_daemon)
    stable = wait("the first revision Healthy", lambda s: s.get("phase") == "Healthy" and s["stableRS"])

    git_daemon.commit(REPO, {FILE: manifest(git_daemon, BAD_IMAGE)}, "release 7.1.0")
    sync(admin_api, namespace, git_daemon)
    wait("the release paused at 20%", paused)
    aborted_hash = status_of(admin_api, namespace, NAME)["currentPodHash"]
    canary_abort(control_plane, namespace)

    eventually("the revert commit in Git", lambda: len(reverts(git_daemon)) == 1, timeout=60, explain=explain)
    (revert,) = reverts(git_daemon)
    assert f"{namespace}/{NAME}" in revert and aborted_hash in revert and "RolloutAborted" in revert
    assert (
        yaml.safe_load(git_daemon.show(REPO, FILE))["spec"]["template"]["spec"]["containers"][0]["image"]
        == STABLE_IMAGE
    )
    assert git_daemon.show(REPO, FILE).startswith("# the search service, synced from Git\n")
    eventually(
        "a GitRevertCommitted Event",
        lambda: "GitRevertCommitted" in reasons(admin_api, namespace),
        timeout=30,
        explain=explain,
    )
    assert status_of(admin_api, namespace, NAME)["phase"] == "Degraded"

    sync(admin_api, namespace, git_daemon)
    status = wait("Healthy on the stable revision after the sync", healthy_on_stable)
    assert status["stableRS"] == stable == status["currentPodHash"]
    assert status["currentStepIndex"] == 2  # every step skipped
    # Events are written after the status, so the one for skipping may trail the Healthy status.
    eventually(
        "the SkipSteps Event",
        lambda: "SkipSteps" in reasons(admin_api, namespace),
        timeout=30,
        explain=explain,
    )

    # The aborted commit synced again by hand, aborted again, seen by a restarted controller: Git
    # already has the revert, so nothing is written.
    namespace_controller.stop()
    apply(admin_api, namespace, yaml.safe_load(manifest(git_daemon, BAD_IMAGE)))
    namespace_controller.start()
    namespace_controller.wait_ready()
    wait("the same revision paused again", paused)
    assert status_of(admin_api, namespace, NAME)["currentPodHash"] == aborted_hash
    canary_abort(control_plane, namespace)
    eventually(
        "a GitRevertUpToDate Event",
        lambda: "GitRevertUpToDate" in reasons(admin_api, namespace),
        timeout=60,
        explain=explain,
    )
    assert len(reverts(git_daemon)) == 1
    assert len(git_daemon.log(REPO)) == 3


def test_canary_gitops_revert_as_a_pipeline_step_reports_a_conflict_with_exit_3_then_commits_once(
    admin_api: Any,
    control_plane: LocalControlPlane,
    namespace: str,
    namespace_controller: ControllerProcess,
    git_daemon: GitDaemon,
) -> None:
    explain = lambda: diagnose(admin_api, namespace, [NAME], namespace_controller)  # noqa: E731
    wait = status_wait(admin_api, namespace, NAME, explain)
    git_daemon.create(REPO, {FILE: manifest(git_daemon, STABLE_IMAGE)})
    sync(admin_api, namespace, git_daemon)
    wait("Healthy", lambda s: s.get("phase") == "Healthy")
    git_daemon.commit(REPO, {FILE: manifest(git_daemon, BAD_IMAGE)}, "release 7.1.0")
    sync(admin_api, namespace, git_daemon)
    wait("Paused", paused)
    namespace_controller.stop()  # the pipeline, not the controller, writes this time
    canary_abort(control_plane, namespace)
    newer = manifest(git_daemon, "ghcr.io/example/search:7.2.0")
    git_daemon.commit(REPO, {FILE: newer}, "release 7.2.0")

    conflict = canary(control_plane, namespace, "gitops", "revert", NAME)

    assert conflict.returncode == 3, conflict.stderr
    assert conflict.stdout.startswith("GitRevertConflict: ") and "7.2.0" in conflict.stdout
    assert git_daemon.show(REPO, FILE) == newer and reverts(git_daemon) == []

    git_daemon.commit(REPO, {FILE: manifest(git_daemon, BAD_IMAGE)}, "7.2.0 withdrawn")
    first = canary(control_plane, namespace, "gitops", "revert", NAME)
    again = canary(control_plane, namespace, "gitops", "revert", NAME)

    assert (first.returncode, again.returncode) == (0, 0), first.stderr + again.stderr
    assert first.stdout.startswith("GitRevertCommitted: commit ")
    assert again.stdout.startswith("GitRevertUpToDate: ")
    assert len(reverts(git_daemon)) == 1
    assert git_daemon.show(REPO, FILE) == manifest(git_daemon, STABLE_IMAGE)


HELM_REPO, VALUES = "team/shop", "apps/checkout/values.yaml"


def app_values(daemon: GitDaemon, prometheus: PrometheusStandIn, tag: str) -> str:
    values = {
        "image": {"repository": "ghcr.io/example/checkout", "tag": tag},
        "replicas": 2,
        "steps": [{"setWeight": 50}, {"pause": {"duration": "1s"}}, {"analysis": {}}],
        "analysis": {"args": {"prometheus-address": prometheus.url}, "interval": "1s", "count": 2},
        "gitops": {"repo": daemon.url(HELM_REPO), "file": VALUES, "field": "image.tag", "value": "tag"},
    }
    return "# checkout in the shop, released by CI bumping image.tag\n" + yaml.safe_dump(
        values, sort_keys=False
    )


def test_a_helm_release_aborted_by_its_analysis_has_its_values_tag_reverted_in_git_and_the_next_upgrade_is_healthy(
    *,
    admin_api: Any,
    namespace: str,
    namespace_controller: ControllerProcess,
    git_daemon: GitDaemon,
    helm: Helm,
    tmp_path: Path,
) -> None:
    explain = lambda: diagnose(admin_api, namespace, [APP], namespace_controller)  # noqa: E731
    wait = status_wait(admin_api, namespace, APP, explain)
    synced = tmp_path / "values.yaml"

    def sync() -> None:
        """The GitOps tool for a Helm app: helm upgrade with the values file as Git has it."""
        synced.write_text(git_daemon.show(HELM_REPO, VALUES))
        helm("upgrade", "--install", "shop", str(APP_CHART), "-n", namespace, "-f", str(synced))

    def revert_commits() -> list[str]:
        return [m for m in git_daemon.log(HELM_REPO) if "Canary-Revert:" in m]

    with PrometheusStandIn(admin_api, namespace) as prometheus:
        git_daemon.create(HELM_REPO, {VALUES: app_values(git_daemon, prometheus, "1.1.0")})
        sync()
        stable = wait("the first release Healthy", lambda s: s.get("phase") == "Healthy" and s["stableRS"])
        git_daemon.commit(HELM_REPO, {VALUES: app_values(git_daemon, prometheus, BAD)}, f"release {BAD}")
        sync()
        aborted = wait(f"{BAD} aborted by its analysis", lambda s: s.get("abort") and s, timeout=120)

        eventually(
            "the revert commit in Git", lambda: len(revert_commits()) == 1, timeout=60, explain=explain
        )
        assert aborted["currentPodHash"] in revert_commits()[0]
        assert git_daemon.show(HELM_REPO, VALUES) == app_values(git_daemon, prometheus, "1.1.0")

        sync()
        status = wait("Healthy on the stable revision after the sync", healthy_on_stable)
        assert status["stableRS"] == stable == status["currentPodHash"]
        assert status["currentStepIndex"] == 3  # every step skipped, no analysis run
        # Events are written after the status, so the one for skipping may trail the Healthy status.
        eventually(
            "the SkipSteps Event",
            lambda: "SkipSteps" in [e.reason for e in rollout_events(admin_api, namespace, APP)],
            timeout=30,
            explain=explain,
        )

        # The bad tag upgraded by hand again: the same revision aborts again, and Git gets nothing new.
        helm(
            "upgrade", "shop", str(APP_CHART), "-n", namespace, "--reuse-values", "--set", f"image.tag={BAD}"
        )
        wait(
            "the same revision aborted again",
            lambda s: s.get("abort") and s["currentPodHash"] == aborted["currentPodHash"],
            timeout=120,
        )
        namespace_controller.stop()  # whatever it was about to write is written by now or never
    assert len(revert_commits()) == 1
    assert len(git_daemon.log(HELM_REPO)) == 3
