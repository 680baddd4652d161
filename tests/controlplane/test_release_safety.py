"""Release safety on the real control plane (issue 13): `canary abort`, `canary undo` and
`canary restart`, run as a user would while the controller runs, never take available pods below
`replicas - maxUnavailable` nor pods above `replicas + maxSurge`, and an undo never sends stable
more traffic than its available pods carry.

kwok makes pods Ready at once; `minReadySeconds` makes availability take a few seconds, which is the
window a premature scale-down or weight shift would show in. The ReplicaSets (and the route) are
polled every 0.2 s through the whole action, and every poll is kept for the failure message.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
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
    get_rollout,
    release,
    replica_sets,
    route_weights,
    status_of,
)
from kubernetes import client
from localcluster import LocalControlPlane

POLL = 0.2
UNROUTED = "web"
ROUTED = "search"


def unrouted_rollout(
    *, replicas: int, surge: int, unavailable: int, min_ready: int, steps: list[dict[str, Any]]
) -> dict[str, Any]:
    """A Rollout with no router (the weight is carried by pod counts)."""
    labels = {"app": UNROUTED}
    return {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": UNROUTED},
        "spec": {
            "replicas": replicas,
            "minReadySeconds": min_ready,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": UNROUTED, "image": "ghcr.io/example/web:1.0.0"}]},
            },
            "strategy": {"canary": {"maxSurge": surge, "maxUnavailable": unavailable, "steps": steps}},
        },
    }


class Verb:
    """A CLI verb run as a user would (as test_cli_verbs.canary_cli), started in the background so
    that the polls begin before the patch lands and see the controller's first reaction to it."""

    def __init__(self, kubeconfig: Path, namespace: str, *args: str) -> None:
        argv = [
            sys.executable,
            "-m",
            "canary.cli.main",
            "--kubeconfig",
            str(kubeconfig),
            "-n",
            namespace,
            *args,
        ]
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )

    def succeeded(self) -> str:
        """Wait for the verb; fail with its output unless it exited 0. Returns its stdout."""
        stdout, stderr = self.process.communicate(timeout=120)
        assert self.process.returncode == 0, stdout + stderr
        return stdout

    def __enter__(self) -> Verb:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


class Poll:
    """One look at the Rollout's ReplicaSets: {pod hash: (spec replicas, available replicas)}."""

    def __init__(
        self,
        at: float,
        counts: dict[str, tuple[int, int]],
        weights: dict[str, int] | None = None,
        pods: tuple[str, ...] = (),
    ):
        self.at = at
        self.counts = counts
        self.weights = weights or {}
        self.pods = pods

    @property
    def spec(self) -> int:
        return sum(spec for spec, _ in self.counts.values())

    @property
    def available(self) -> int:
        return sum(available for _, available in self.counts.values())

    def of(self, pod_hash: str) -> tuple[int, int]:
        return self.counts.get(pod_hash, (0, 0))

    def __repr__(self) -> str:
        sets = " ".join(f"{h}={spec}/{available}" for h, (spec, available) in sorted(self.counts.items()))
        route = f" route {self.weights}" if self.weights else ""
        pods = f" pods {' '.join(self.pods)}" if self.pods else ""
        return f"t+{self.at:5.1f}s spec {self.spec} available {self.available} [{sets}]{route}{pods}"


def counts(api: Any, namespace: str, name: str) -> dict[str, tuple[int, int]]:
    """{pod hash: (spec replicas, status.availableReplicas)} from one list of the ReplicaSets."""
    return {
        rs.metadata.labels[HASH_LABEL]: (rs.spec.replicas or 0, rs.status.available_replicas or 0)
        for rs in replica_sets(api, namespace, name)
    }


def pod_names(api: Any, namespace: str, app: str) -> tuple[str, ...]:
    """The app's pods as `<name suffix>@<creation time>` (`~` once terminating), oldest first."""
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=f"app={app}").items
    return tuple(
        f"{p.metadata.name.rsplit('-', 1)[-1]}@{p.metadata.creation_timestamp:%H:%M:%S}"
        + ("~" if p.metadata.deletion_timestamp else "")
        for p in sorted(pods, key=lambda p: (p.metadata.creation_timestamp, p.metadata.name))
    )


def watch_until(
    what: str,
    look: Callable[[float], Poll],
    done: Callable[[Poll], bool],
    *,
    timeout: float,
    explain: Callable[[], str],
) -> list[Poll]:
    """Every poll from now until `done` holds for one; on timeout fail with the trace and `explain()`."""
    start = time.monotonic()
    trace: list[Poll] = []
    while True:
        poll = look(time.monotonic() - start)
        trace.append(poll)
        if done(poll):
            return trace
        if time.monotonic() - start > timeout:
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what}; polls:\n{render(trace)}\n{explain()}"
            )
        time.sleep(POLL)


def render(trace: list[Poll]) -> str:
    """The polls where something changed (every poll would be hundreds of identical lines)."""
    lines, last = [], None
    for poll in trace:
        key = (poll.counts, poll.weights, poll.pods)
        if key != last:
            lines.append(f"  {poll!r}")
        last = key
    return "\n".join(lines)


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


# --------------------------------------------------------------------------------------------------


def test_abort_without_a_router_keeps_the_canary_until_stable_is_available(
    control_plane: LocalControlPlane, admin_api: Any, namespace: str, namespace_controller: ControllerProcess
) -> None:
    """replicas 3, maxSurge 2, maxUnavailable 0: the aborted canary at 100% gives up only the pods
    stable has replaced (an abort that scaled it to 0 at once left no pod available for 5 s)."""
    rollout = unrouted_rollout(
        replicas=3, surge=2, unavailable=0, min_ready=5, steps=[{"setWeight": 100}, {"pause": {}}]
    )

    def explain() -> str:
        return diagnose(admin_api, namespace, [UNROUTED], namespace_controller)

    stable = deploy_stable(admin_api, namespace, rollout, namespace_controller)
    release(admin_api, namespace, UNROUTED, "ghcr.io/example/web:2.0.0")
    paused = eventually(
        "the release to wait at its pause with the canary at 3 available and stable at 0",
        lambda: (
            (s := status_of(admin_api, namespace, UNROUTED)).get("phase") == "Paused"
            and s.get("currentStepIndex") == 1
            and (c := counts(admin_api, namespace, UNROUTED)).get(s["currentPodHash"]) == (3, 3)
            and c.get(stable) == (0, 0)
            and s
        ),
        timeout=90,
        explain=explain,
    )
    canary = str(paused["currentPodHash"])

    with Verb(control_plane.kubeconfig, namespace, "abort", UNROUTED) as aborted:
        trace = watch_until(
            "the canary at 0 pods and stable at 3 available",
            lambda at: Poll(at, counts(admin_api, namespace, UNROUTED)),
            lambda poll: poll.of(canary)[0] == 0 and poll.of(stable)[1] == 3,
            timeout=90,
            explain=explain,
        )
        assert "aborted" in aborted.succeeded()
    print(render(trace))  # shown with -s
    low = [poll for poll in trace if poll.available < 3]
    high = [poll for poll in trace if poll.spec > 5]
    assert not low, f"available pods went below replicas - maxUnavailable = 3:\n{render(trace)}"
    assert not high, f"pods went above replicas + maxSurge = 5:\n{render(trace)}"
    status = status_of(admin_api, namespace, UNROUTED)
    assert status["abort"] is True and status["stableRS"] == stable, explain()


def test_undo_with_dynamic_stable_scale_moves_traffic_only_as_fast_as_stable_can_carry_it(
    control_plane: LocalControlPlane, admin_api: Any, namespace: str, namespace_controller: ControllerProcess
) -> None:
    """replicas 4 behind an HTTPRoute, dynamicStableScale, paused at 25%: stable runs 3 pods; after
    `canary undo` the route keeps 25% on the departing revision until stable's 4th pod is available."""
    rollout = example_rollout(ROUTED, replicas=4, steps=[{"setWeight": 25}, {"pause": {}}])
    rollout["spec"]["minReadySeconds"] = 5
    rollout["spec"]["strategy"]["canary"]["dynamicStableScale"] = True
    stable_backend = f"{ROUTED}-stable"

    def explain() -> str:
        return diagnose(admin_api, namespace, [ROUTED], namespace_controller)

    stable = deploy_stable(admin_api, namespace, rollout, namespace_controller)
    release(admin_api, namespace, ROUTED, "ghcr.io/example/search:8.0.0")
    paused = eventually(
        "the release to wait at its pause with 25% on the canary and stable scaled to 3",
        lambda: (
            (s := status_of(admin_api, namespace, ROUTED)).get("phase") == "Paused"
            and s.get("currentStepIndex") == 1
            and route_weights(admin_api, namespace, ROUTED)[stable_backend] == 75
            and counts(admin_api, namespace, ROUTED).get(stable) == (3, 3)
            and s
        ),
        timeout=90,
        explain=explain,
    )
    canary = str(paused["currentPodHash"])

    def look(at: float) -> Poll:
        # The weight first: stable's available pods only grow meanwhile, so a poll never blames the
        # controller for a weight it set after seeing more pods than this poll reports.
        weights = route_weights(admin_api, namespace, ROUTED)
        return Poll(at, counts(admin_api, namespace, ROUTED), weights)

    def done(poll: Poll) -> bool:
        status = status_of(admin_api, namespace, ROUTED)
        return (
            status.get("phase") == "Healthy"
            and status.get("stableRS") == stable
            and poll.weights.get(stable_backend) == 100
            and poll.of(stable) == (4, 4)
            and poll.of(canary)[0] == 0
        )

    with Verb(control_plane.kubeconfig, namespace, "undo", ROUTED) as undone:
        trace = watch_until("Healthy on stable with all the weight", look, done, timeout=90, explain=explain)
        assert "rolled back" in undone.succeeded()
    print(render(trace))  # shown with -s
    replicas = rollout["spec"]["replicas"]
    overloads = [poll for poll in trace if poll.weights[stable_backend] * replicas > poll.of(stable)[1] * 100]
    assert not overloads, (
        f"stable was sent more than its available pods carry (weight * {replicas} > available * 100) at "
        f"{overloads[0]!r}:\n{render(trace)}"
    )
    assert route_weights(admin_api, namespace, ROUTED) == {stable_backend: 100, f"{ROUTED}-canary": 0}


def test_restart_replaces_one_pod_at_a_time_within_max_surge(
    control_plane: LocalControlPlane, admin_api: Any, namespace: str, namespace_controller: ControllerProcess
) -> None:
    """replicas 3, maxSurge 1, maxUnavailable 0: `canary restart` surges one pod, replaces the pods
    one by one as each new one becomes available, and gives the surged pod back."""
    rollout = unrouted_rollout(replicas=3, surge=1, unavailable=0, min_ready=3, steps=[])

    def explain() -> str:
        return diagnose(admin_api, namespace, [UNROUTED], namespace_controller)

    stable = deploy_stable(admin_api, namespace, rollout, namespace_controller)
    eventually(
        "stable at 3 available",
        lambda: counts(admin_api, namespace, UNROUTED) == {stable: (3, 3)},
        timeout=30,
        explain=explain,
    )

    core = client.CoreV1Api(admin_api)

    def every_pod_newer_than(restart_at: datetime) -> bool:
        pods = core.list_namespaced_pod(namespace, label_selector=f"app={UNROUTED}").items
        return bool(pods) and all(
            p.metadata.deletion_timestamp is None and p.metadata.creation_timestamp >= restart_at
            for p in pods
        )

    def done(poll: Poll) -> bool:
        restart_at = get_rollout(admin_api, namespace, UNROUTED)["spec"].get("restartAt")
        restarted_at = status_of(admin_api, namespace, UNROUTED).get("restartedAt")
        return (
            restart_at is not None
            and restarted_at is not None
            and parse(restarted_at) == parse(restart_at)
            and poll.counts == {stable: (3, 3)}
            and every_pod_newer_than(parse(restart_at))
        )

    def explain_restart() -> str:
        spec = get_rollout(admin_api, namespace, UNROUTED)["spec"]
        return f"spec.restartAt {spec.get('restartAt')}\n{explain()}"

    with Verb(control_plane.kubeconfig, namespace, "restart", UNROUTED) as restarted:
        trace = watch_until(
            "status.restartedAt, every pod newer than the restart and the surged pod given back",
            lambda at: Poll(
                at, counts(admin_api, namespace, UNROUTED), pods=pod_names(admin_api, namespace, UNROUTED)
            ),
            done,
            timeout=120,
            explain=explain_restart,
        )
        assert "restarted" in restarted.succeeded()
    print(render(trace))  # shown with -s
    low = [poll for poll in trace if poll.available < 3]
    high = [poll for poll in trace if poll.spec > 4]
    assert not low, f"available pods went below replicas - maxUnavailable = 3:\n{render(trace)}"
    assert not high, f"pods went above replicas + maxSurge = 4:\n{render(trace)}"
    assert any(poll.spec == 4 for poll in trace), f"the restart surged no pod:\n{render(trace)}"
