"""The notification worker: a queue of Rollout keys of its own, drained by its own threads, so a
slow or failing receiver never holds up a reconcile.

The reconciler calls `notify(key)` when a decision emitted Events (it only queues the key). For a
key, the worker reads the Rollout, its Events (as stored in the cluster, so nothing is lost with the
process) and the delivery record, asks `canary.engine.notifications.plan` what is undelivered, sends
it, and records each delivery before the next. A failed delivery is logged and counted
(`canary_notifications_failed_total`) and retried with backoff; the deliveries after it for the same
subscription wait, so each subscription hears of Events in order. On start every Rollout with
subscriptions or a record is looked at once: a restart delivers what the last run did not.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Protocol

import structlog

from canary.api.analysis import AnalysisRun
from canary.api.rollout import Rollout
from canary.cluster.kube_api import SECRETS, KubeApi
from canary.cluster.port import NotFound, RecordedEvent
from canary.controller.metrics import Metrics
from canary.controller.notify import email, slack, teams, webhook
from canary.controller.notify.delivery import DeliveryError
from canary.controller.notify.store import CONFIG_MAPS, DeliveryStore
from canary.controller.queue import Backoff, Key, WorkQueue, key_of, split_key
from canary.controller.reconciler import Result
from canary.controller.workers import Workers
from canary.engine import notifications as notes

log = structlog.get_logger(__name__)

CONFIGMAP_NAME = "canary-notification-configmap"
SECRET_NAME = "canary-notification-secret"

SENDERS: dict[str, Callable[[notes.Notification], None]] = {
    "slack": slack.send,
    "teams": teams.send,
    "webhook": webhook.send,
    "email": email.send,
}

DELIVERY_BACKOFF = Backoff(base_seconds=1.0, max_seconds=300.0)
"""A failing receiver is tried again after 1, 2, 4, ... seconds, at most every five minutes."""

ConfigSource = Callable[[], tuple[Mapping[str, str], Mapping[str, str]]]
"""The notification ConfigMap's data and the Secret's decoded values."""


def kube_config_source(
    api: KubeApi, namespace: str, configmap: str = CONFIGMAP_NAME, secret: str = SECRET_NAME
) -> ConfigSource:
    def read() -> tuple[Mapping[str, str], Mapping[str, str]]:
        data = (api.get(*CONFIG_MAPS, namespace, configmap) or {}).get("data") or {}
        stored = api.get(*SECRETS, namespace, secret) or {}
        values = {k: base64.b64decode(v).decode() for k, v in (stored.get("data") or {}).items()}
        values.update(stored.get("stringData") or {})
        return data, values

    return read


class NotifierPort(Protocol):
    """What the notifier reads (both cluster adapters have it)."""

    def get_rollout(self, namespace: str, name: str) -> Rollout: ...

    def list_events(self, namespace: str, name: str) -> list[RecordedEvent]: ...

    def list_analysis_runs(self, namespace: str | None = None) -> list[AnalysisRun]: ...


class DeliveryFailedError(RuntimeError):
    """Some notifications of a Rollout were not delivered (the message is safe to log)."""


class Notifier:
    def __init__(
        self,
        port: NotifierPort,
        config: ConfigSource,
        store: DeliveryStore,
        *,
        now: Callable[[], datetime],
        metrics: Metrics | None = None,
        workers: int = 2,
        backoff: Backoff = DELIVERY_BACKOFF,
        config_ttl_seconds: float = 5.0,
        senders: Mapping[str, Callable[[notes.Notification], None]] = SENDERS,
    ) -> None:
        self._port, self._source, self._store = port, config, store
        self._now, self._metrics, self._senders = now, metrics, senders
        self.queue = WorkQueue(backoff=backoff)
        self._workers = Workers(self.queue, self.deliver, name="notification", count=workers, metrics=metrics)
        self._config_ttl = config_ttl_seconds
        self._config: tuple[float, notes.Config] | None = None
        self._config_lock = threading.Lock()
        self._problems: dict[str, tuple[str, ...]] = {}
        self._recorded: set[Key] = set()
        """The Rollouts with a delivery record: only those are looked up in the store when they lose
        their subscriptions or go, so an unsubscribed Rollout costs no API call."""
        if metrics:
            metrics.track_queue("notification", lambda: len(self.queue))

    # the controller's side ---------------------------------------------------------------------------

    def wants(self, key: Key, annotations: Mapping[str, str]) -> bool:
        """Whether Events of the Rollout with these annotations may be for the notifier: it
        subscribes, or has a delivery record (to forget once it no longer subscribes)."""
        return key in self._recorded or any(k.startswith(notes.SUBSCRIBE_PREFIXES) for k in annotations)

    def notify(self, key: Key) -> None:
        """Look at this Rollout's Events soon; never blocks."""
        self.queue.add(key)

    def start(self, keys: Iterable[Key] = ()) -> None:
        """Queue `keys` (the Rollouts with subscriptions) and those with a record, then start the workers."""
        for key in keys:
            self.queue.add(key)
        try:
            recorded = self._store.rollouts()
        except Exception as error:  # e.g. RBAC: the subscribed Rollouts are still looked at
            log.warning("cannot read the notification delivery record", error=type(error).__name__)
            recorded = []
        for namespace, name in recorded:
            self._recorded.add(key_of(namespace, name))
            self.queue.add(key_of(namespace, name))
        self._workers.start()

    def shut_down(self, timeout: float = 5.0) -> None:
        self.queue.shut_down()
        self._workers.join(timeout)

    def alive(self) -> bool:
        return self._workers.alive()

    # the worker's side -------------------------------------------------------------------------------

    def config(self) -> notes.Config:
        with self._config_lock:
            if self._config is not None and time.monotonic() - self._config[0] < self._config_ttl:
                return self._config[1]
            data, secret = self._source()
            config, problems = notes.parse_config(data, secret)
            self._report("configuration", tuple(problems), notes.Config(secrets=config.secrets))
            self._config = (time.monotonic(), config)
            return config

    def deliver(self, key: Key) -> Result:
        namespace, name = split_key(key)
        try:
            rollout = self._port.get_rollout(namespace, name)
        except NotFound:
            self._forget(key)
            return Result()
        except ValueError:  # a spec that does not parse: the reconciler reports it
            return Result()
        if not any(k.startswith(notes.SUBSCRIBE_PREFIXES) for k in rollout.metadata.annotations):
            self._forget(key)
            return Result()
        config = self.config()
        events = self._port.list_events(namespace, name)
        record = self._store.load(namespace, name)
        plan = notes.plan(
            rollout, events, config, record, now=self._now(), evidence=self._evidence(namespace, events)
        )
        self._report(key, plan.problems, config)
        record = dict(plan.record)
        self._store.save(namespace, name, record)
        self._recorded.add(key)
        failed: dict[str, str] = {}
        for group in _by_subscription_and_event(plan.notifications):
            first = group[0]
            if first.subscription.key in failed:
                continue
            error = self._send_all(group, config)
            if error is not None:
                failed[first.subscription.key] = error
                continue
            record = notes.delivered(record, first)
            self._store.save(namespace, name, record)
        if failed:
            raise DeliveryFailedError(
                f"{len(failed)} subscription(s) of {key} not delivered: "
                + "; ".join(sorted(set(failed.values())))
            )
        return Result()

    def _forget(self, key: Key) -> None:
        if key in self._recorded:
            self._store.save(*split_key(key), {})
            self._recorded.discard(key)

    def _send_all(self, group: list[notes.Notification], config: notes.Config) -> str | None:
        for notification in group:
            service = notification.service
            labels = (service.name, service.type, notification.subscription.trigger)
            try:
                self._senders[service.type](notification)
            except Exception as error:
                text = (
                    str(error)
                    if isinstance(error, DeliveryError)
                    else f"{service.type}: {type(error).__name__}"
                )
                text = notes.redact(text, config.secrets)
                if self._metrics:
                    self._metrics.notifications_failed.labels(*labels).inc()
                log.warning(
                    "notification not delivered",
                    rollout=f"{notification.namespace}/{notification.rollout}",
                    trigger=notification.subscription.trigger,
                    service=service.name,
                    type=service.type,
                    recipient=notes.redact(notification.subscription.recipient, config.secrets),
                    reason=notification.event.reason,
                    error=text,
                )
                return text
            if self._metrics:
                self._metrics.notifications_sent.labels(*labels).inc()
            log.info(
                "notification delivered",
                rollout=f"{notification.namespace}/{notification.rollout}",
                trigger=notification.subscription.trigger,
                service=service.name,
                type=service.type,
                template=notification.template,
                reason=notification.event.reason,
            )
        return None

    def _evidence(self, namespace: str, events: Iterable[notes.EventLike]) -> dict[str, str]:
        if not any(e.reason.startswith("AnalysisRun") for e in events):
            return {}
        return {
            run.metadata.name: run.status.message or "" for run in self._port.list_analysis_runs(namespace)
        }

    def _report(self, about: str, problems: tuple[str, ...], config: notes.Config) -> None:
        if self._problems.get(about) == problems:
            return
        self._problems[about] = problems
        for problem in problems:
            log.warning(
                "notification configuration problem",
                about=about,
                problem=notes.redact(problem, config.secrets),
            )


def _by_subscription_and_event(notifications: Iterable[notes.Notification]) -> list[list[notes.Notification]]:
    """Consecutive notifications for one subscription and one Event (a trigger may send several
    templates): a group is recorded as delivered only once all of it is."""
    groups: dict[tuple[str, str], list[notes.Notification]] = {}
    for notification in notifications:
        groups.setdefault((notification.subscription.key, notification.event.id), []).append(notification)
    return list(groups.values())
