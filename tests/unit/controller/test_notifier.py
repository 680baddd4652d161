"""The notification worker on the fake apiserver: what it sends for a reconcile's Events, that a
restart delivers what was not delivered and nothing twice, and that a failing receiver neither holds
up reconciles nor goes unnoticed (/metrics, logs without credentials)."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog
from fake_apiserver import FakeApiServer
from objects import REPLICA_SETS, ROLLOUTS, install
from receivers import HttpReceiver, eventually, http_receiver

from canary.cluster.kube import KubeCluster
from canary.cluster.kube_api import KubeApi
from canary.controller.manager import Controller, Settings
from canary.controller.metrics import Metrics
from canary.controller.notify.notifier import DeliveryFailedError, Notifier, kube_config_source
from canary.controller.notify.store import STATE_NAME, ConfigMapStore
from canary.controller.queue import Key
from canary.controller.reconciler import RolloutReconciler

KEY = Key("ns/web")
SECRET_PATH = "/hook/s3cr3t-token"


def now() -> datetime:
    return datetime.now(UTC)


def configure(apiserver: FakeApiServer, receiver: HttpReceiver) -> None:
    apiserver.put(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "canary-notification-configmap", "namespace": "ns"},
            "data": {"service.webhook.ops": "url: $ops-url\n"},
        }
    )
    url = base64.b64encode(f"{receiver.url}{SECRET_PATH}".encode()).decode()
    apiserver.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "canary-notification-secret", "namespace": "ns"},
            "data": {"ops-url": url},
        }
    )


def subscribe(apiserver: FakeApiServer, *triggers: str, image: str | None = None) -> None:
    stored = apiserver.read(*ROLLOUTS, "web")
    assert stored is not None
    annotations = stored["metadata"].setdefault("annotations", {})
    for trigger in triggers:
        annotations[f"notifications.canary.dev/subscribe.{trigger}.ops"] = ""
    if image:
        stored["spec"]["template"]["spec"]["containers"][0]["image"] = image
    apiserver.put({**stored, "kind": "Rollout"})


def notifier(api: KubeApi, metrics: Metrics | None = None) -> Notifier:
    """A fresh notifier, as a restarted controller makes one: nothing in memory from the last."""
    return Notifier(
        KubeCluster(api, clock=now),
        kube_config_source(api, "ns"),
        ConfigMapStore(api, "ns"),
        now=now,
        metrics=metrics,
    )


def reasons(receiver: HttpReceiver) -> list[str]:
    return [body["event"]["reason"] for body in receiver.bodies()]


def test_a_reconciles_events_are_sent_once(apiserver: FakeApiServer, api: KubeApi) -> None:
    install(apiserver)
    subscribe(apiserver, "on-rollout-updated", "on-rollout-completed", "on-scaling-replica-set")
    with http_receiver() as receiver:
        configure(apiserver, receiver)
        RolloutReconciler(KubeCluster(api, clock=now), now).reconcile(KEY)
        notifier(api).deliver(KEY)
        assert reasons(receiver) == ["RolloutUpdated", "ScalingReplicaSet", "RolloutCompleted"]
        assert {r.path for r in receiver.requests} == {SECRET_PATH}
        notifier(api).deliver(KEY)
        assert len(receiver.requests) == 3
    state = apiserver.read("v1", "configmaps", "ns", STATE_NAME)
    assert state is not None and set(state["data"]) == {"ns.web"}


def test_a_restart_delivers_what_failed_and_not_what_was_delivered(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    install(apiserver)
    subscribe(apiserver, "on-rollout-updated", "on-rollout-completed")
    with http_receiver() as receiver:
        configure(apiserver, receiver)
        RolloutReconciler(KubeCluster(api, clock=now), now).reconcile(KEY)
        receiver.answers = [(200, "ok"), (503, "down")]  # the first goes through, the second fails
        metrics = Metrics()
        with pytest.raises(DeliveryFailedError):
            notifier(api, metrics).deliver(KEY)
        assert reasons(receiver) == ["RolloutUpdated", "RolloutCompleted"]
        assert (
            metrics.registry.get_sample_value(
                "canary_notifications_failed_total",
                {"service": "ops", "type": "webhook", "trigger": "on-rollout-completed"},
            )
            == 1
        )
        # the controller restarts: a new notifier, reading the record the last one left
        restarted = notifier(api)
        restarted.deliver(KEY)
        assert reasons(receiver) == ["RolloutUpdated", "RolloutCompleted", "RolloutCompleted"]
        restarted.deliver(KEY)
        assert len(receiver.requests) == 3


def test_a_restart_finds_the_undelivered_without_a_new_event(apiserver: FakeApiServer, api: KubeApi) -> None:
    """The controller died between writing Events and sending them: `start` looks at every
    subscribed Rollout (the manager passes them) and at every Rollout with a record."""
    install(apiserver)
    subscribe(apiserver, "on-rollout-completed")
    with http_receiver() as receiver:
        configure(apiserver, receiver)
        RolloutReconciler(KubeCluster(api, clock=now), now).reconcile(KEY)  # no notifier was told
        after_restart = notifier(api)
        after_restart.start([KEY])
        try:
            eventually(lambda: reasons(receiver) == ["RolloutCompleted"])
        finally:
            after_restart.shut_down()


@contextmanager
def running(api: KubeApi, metrics: Metrics) -> Iterator[Controller]:
    settings = Settings(workers=1, resync_seconds=60, watch_timeout_seconds=1, notifications_namespace="ns")
    controller = Controller(api, settings, metrics=metrics, now=now)
    stop = threading.Event()
    runner = threading.Thread(target=controller.run, args=(stop,), daemon=True)
    runner.start()
    try:
        eventually(controller.ready)
        yield controller
    finally:
        stop.set()
        runner.join(10)


def test_a_failing_receiver_does_not_hold_up_reconciles_and_is_counted(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    metrics = Metrics()
    with http_receiver() as receiver, structlog.testing.capture_logs() as logs:
        receiver.default = (500, "broken")
        receiver.delay = 4.0  # and slow: each attempt holds a notification worker for 4 s
        configure(apiserver, receiver)
        install(apiserver)
        subscribe(apiserver, "on-rollout-updated", "on-scaling-replica-set", "on-rollout-completed")
        with running(api, metrics):
            eventually(lambda: _phase(apiserver) is not None, timeout=3)
            subscribe(apiserver, image="web:2")  # a release while deliveries keep failing
            eventually(lambda: len(apiserver.all(*REPLICA_SETS)) == 2, timeout=3)
            assert _failed(metrics) == 0  # the reconciles went on while the first attempt hung
            eventually(lambda: _failed(metrics) >= 1, timeout=10)
        assert receiver.requests
    failures = [entry for entry in logs if entry["event"] == "notification not delivered"]
    assert failures and failures[0]["error"] == "webhook service 'ops': HTTP 500"
    assert not any("s3cr3t" in str(entry) for entry in logs)


def _phase(apiserver: FakeApiServer) -> Any:
    return ((apiserver.read(*ROLLOUTS, "web") or {}).get("status") or {}).get("phase")


def _failed(metrics: Metrics) -> float:
    return sum(
        sample.value
        for family in metrics.registry.collect()
        if family.name == "canary_notifications_failed"
        for sample in family.samples
        if sample.name.endswith("_total")
    )


def test_only_a_subscribed_rollout_or_one_with_a_delivery_record_is_handed_to_the_notifier(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    install(apiserver)
    subscribe(apiserver, "on-rollout-updated")
    with http_receiver() as receiver:
        configure(apiserver, receiver)
        RolloutReconciler(KubeCluster(api, clock=now), now).reconcile(KEY)
        sender = notifier(api)
        assert not sender.wants(KEY, {})
        assert sender.wants(KEY, {"notifications.canary.dev/subscribe.on-rollout-updated.ops": ""})
        sender.deliver(KEY)  # leaves a delivery record
        assert sender.wants(KEY, {})  # so that it is forgotten once the subscription goes
