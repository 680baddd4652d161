"""A Rollout whose spec does not parse is reported as `canary lint` reports it: one line that names
each field, in Argo's InvalidSpec words, as the status, the condition and one Warning Event."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fake_apiserver import FakeApiServer
from objects import EVENTS, REPLICA_SETS, ROLLOUTS, install

from canary.api.documents import parse_resource
from canary.cluster.kube import KubeCluster
from canary.cluster.kube_api import KubeApi
from canary.controller.queue import Backoff, Key, WorkQueue
from canary.controller.reconciler import RolloutReconciler
from canary.controller.workers import process_one

NOW = datetime(2024, 1, 1, tzinfo=UTC)
KEY = Key("ns/web")

BROKEN = {
    # a model rule the CRD schema cannot express, and a value out of range
    "both-zero": {"canary": {"maxSurge": 0, "maxUnavailable": 0}},
    "weight-over-100": {"canary": {"steps": [{"setWeight": 120}], "trafficRouting": {"smi": {}}}},
}


@pytest.mark.parametrize("strategy", BROKEN.values(), ids=BROKEN.keys())
def test_an_unparseable_spec_gets_lints_message_as_condition_status_and_one_warning_event(
    apiserver: FakeApiServer, api: KubeApi, strategy: dict[str, object]
) -> None:
    stored = install(apiserver, strategy=strategy)
    lint = parse_resource(stored).problems
    assert lint, "the spec must be one lint rejects"
    expected = 'The Rollout "web" is invalid: ' + "; ".join(str(p) for p in lint)

    queue = WorkQueue(backoff=Backoff(base_seconds=0.001, max_seconds=0.01))
    reconciler = RolloutReconciler(KubeCluster(api, clock=lambda: NOW), lambda: NOW)
    for _ in range(2):  # a second look (a resync) repeats neither the write nor the Event
        queue.add(KEY)
        process_one(queue, reconciler.reconcile, name="rollout")

    status = apiserver.read(*ROLLOUTS, "web")["status"]  # type: ignore[index]
    assert status["phase"] == "Degraded"
    assert status["message"] == f"InvalidSpec: {expected}"
    (condition,) = status["conditions"]
    assert (condition["type"], condition["reason"], condition["message"]) == (
        "InvalidSpec",
        "InvalidSpec",
        expected,
    )
    assert "\n" not in expected and "pydantic" not in expected and "Value error" not in expected
    events = apiserver.all(*EVENTS)
    assert [(e["type"], e["reason"], e["message"]) for e in events] == [("Warning", "InvalidSpec", expected)]
    assert events[0]["involvedObject"]["uid"] == stored["metadata"]["uid"]
    assert apiserver.all(*REPLICA_SETS) == []
