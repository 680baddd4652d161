"""Release hooks on the real control plane, the controller having only the RBAC of manifests/: one
release exercises every webhook kind (on a loopback HTTP receiver, with Flagger's payload), a Job
hook and a load test Job (owned by the Rollout), and a confirm-rollout gate holds it until it opens;
a failing pre-rollout hook aborts a release before any traffic reaches the canary."""

from __future__ import annotations

import time
from typing import Any

from canarytier import (
    deploy_stable,
    diagnose,
    eventually,
    example_rollout,
    release,
    route_weights,
    routing_for,
    status_of,
)
from kubernetes import client
from localcluster import LocalControlPlane
from receivers import HttpReceiver, http_receiver

NAME = "search"
STEPS = [{"setWeight": 20}, {"pause": {"duration": "1s"}}, {"setWeight": 60}, {"pause": {"duration": "1s"}}]
CLOSED = (403, "gate closed")
JOB = {
    "spec": {
        "backoffLimit": 0,
        "template": {
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "test", "image": "busybox", "args": ["true"]}],
            }
        },
    }
}


def webhook(receiver: HttpReceiver, name: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "type": kind, "url": f"{receiver.url}/{name}", "interval": "1s", **fields}


def every_kind(receiver: HttpReceiver) -> list[dict[str, Any]]:
    return [
        webhook(receiver, "start", "confirm-rollout"),
        webhook(receiver, "smoke", "pre-rollout", metadata={"cmd": "smoke"}),
        webhook(receiver, "check", "rollout"),
        webhook(receiver, "more", "confirm-traffic-increase"),
        webhook(receiver, "ship", "confirm-promotion"),
        webhook(receiver, "report", "post-rollout"),
        webhook(receiver, "undo", "rollback"),
        webhook(receiver, "feed", "event"),
        {"name": "integration", "type": "pre-rollout", "job": JOB, "timeout": "60s"},
        {"name": "load", "type": "rollout", "loadTest": {"rate": 5, "duration": "30s", "port": 80}},
    ]


def hook_rollout(hooks: list[dict[str, Any]]) -> dict[str, Any]:
    rollout = example_rollout(NAME, steps=STEPS)
    rollout["spec"]["strategy"]["canary"]["webhooks"] = hooks
    return rollout


def canary_weight(api: Any, namespace: str) -> int:
    return route_weights(api, namespace, NAME).get(f"{NAME}-canary", 0)


def test_one_release_exercises_every_webhook_kind_and_a_gate_holds_it_until_it_opens(
    admin_api: Any, namespace: str, control_plane: LocalControlPlane, controllers: Any
) -> None:
    control_plane.apply_manifests(routing_for(NAME), namespace=namespace)
    with http_receiver() as receiver:
        receiver.by_path = {"/start": CLOSED, "/undo": (404, "no rollback asked")}
        proc = controllers(namespace=namespace)
        proc.start()
        proc.wait_ready()
        explain = lambda: diagnose(admin_api, namespace, [NAME], proc)  # noqa: E731
        deploy_stable(admin_api, namespace, hook_rollout(every_kind(receiver)), proc)
        release(admin_api, namespace, NAME, "ghcr.io/example/search:7.2.0")
        eventually(
            "the gate to be asked twice", lambda: len(receiver.to("/start")) >= 2, timeout=30, explain=explain
        )
        held = status_of(admin_api, namespace, NAME)
        assert canary_weight(admin_api, namespace) == 0
        assert receiver.to("/smoke") == []
        assert held["currentStepIndex"] == 0
        (gate,) = [h for h in held["hooks"] if h["name"] == "start"]
        assert gate["phase"] in ("Failed", "Pending") and gate["message"] == "HTTP 403 gate closed"

        receiver.by_path.pop("/start")  # the gate opens
        eventually(
            "the release to be promoted",
            lambda: (
                (s := status_of(admin_api, namespace, NAME)).get("phase") == "Healthy"
                and s.get("stableRS") == s.get("currentPodHash")
                and s.get("stableRS") != held["stableRS"]
            ),
            timeout=120,
            explain=explain,
        )
        eventually("the post-rollout hook", lambda: receiver.to("/report"), timeout=30, explain=explain)
        time.sleep(1)

    status = status_of(admin_api, namespace, NAME)
    called = {r.path.strip("/") for r in receiver.requests}
    assert {"start", "smoke", "check", "more", "ship", "report", "undo", "feed"} <= called
    (smoke,) = receiver.to("/smoke")
    assert smoke.body == {
        "name": NAME,
        "namespace": namespace,
        "phase": "Progressing",
        "type": "pre-rollout",
        "checksum": status["currentPodHash"],
        "metadata": {"cmd": "smoke"},
    }
    assert [r.body["phase"] for r in receiver.to("/report")] == ["Succeeded"]
    told = [r.body["metadata"]["eventReason"] for r in receiver.to("/feed")]
    assert "RolloutUpdated" in told and "RolloutCompleted" in told
    passed = {(h["name"], h.get("step")) for h in status["hooks"] if h["phase"] == "Successful"}
    assert {("integration", None), ("load", 0), ("load", 2), ("check", 3)} <= passed
    jobs = client.BatchV1Api(admin_api).list_namespaced_job(namespace).items
    assert jobs and all(
        [(o.kind, o.name) for o in job.metadata.owner_references or []] == [("Rollout", NAME)] for job in jobs
    )
    load = [j for j in jobs if j.metadata.name.startswith(f"{NAME}-load-")]
    args = load[0].spec.template.spec.containers[0].args
    assert (
        args[:6] == ["-z", "30s", "-q", "5", "-c", "1"]
        and args[-1] == f"http://{NAME}-canary.{namespace}.svc:80/"
    )


def test_a_failing_pre_rollout_hook_aborts_before_any_traffic_moves(
    admin_api: Any, namespace: str, control_plane: LocalControlPlane, controllers: Any
) -> None:
    control_plane.apply_manifests(routing_for(NAME), namespace=namespace)
    with http_receiver() as receiver:
        receiver.by_path = {"/smoke": (500, "smoke tests failed")}
        proc = controllers(namespace=namespace)
        proc.start()
        proc.wait_ready()
        explain = lambda: diagnose(admin_api, namespace, [NAME], proc)  # noqa: E731
        hooks = [webhook(receiver, "smoke", "pre-rollout"), webhook(receiver, "report", "post-rollout")]
        deploy_stable(admin_api, namespace, hook_rollout(hooks), proc)
        release(admin_api, namespace, NAME, "ghcr.io/example/search:7.2.0-broken")
        weights: list[int] = []

        def aborted() -> bool:
            weights.append(canary_weight(admin_api, namespace))
            return bool(status_of(admin_api, namespace, NAME).get("abort"))

        eventually("the release to abort", aborted, interval=0.2, timeout=60, explain=explain)
        eventually("the post-rollout hook", lambda: receiver.to("/report"), timeout=30, explain=explain)

    status = status_of(admin_api, namespace, NAME)
    assert set(weights) == {0}
    assert "pre-rollout webhook 'smoke' failed 1 time(s)" in status["message"]
    assert "HTTP 500 smoke tests failed" in status["message"]
    assert [r.body["phase"] for r in receiver.to("/report")] == ["Failed"]
