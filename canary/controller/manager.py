"""Assembles the running controller: informers feed two work queues (Rollouts, AnalysisRuns),
workers drain them through the reconcilers, a resync re-queues everything periodically, and
leader election decides whether this replica works or stands by.

Watch events are only hints about *which* key to look at (level-based): a ReplicaSet, Pod, Service
or AnalysisRun change queues its owning Rollout; the reconciler then reads the whole current state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from canary.analysis.providers.registry import default_registry
from canary.cluster import kube, kube_api
from canary.cluster.kube_actions import parse_time
from canary.cluster.kube_api import KubeApi, Obj
from canary.controller.gitops import GitReverter
from canary.controller.hooks.jobs import JobHooks
from canary.controller.hooks.runner import HookRunner
from canary.controller.hooks.runner import caller as hook_caller
from canary.controller.informer import Informers, Resource
from canary.controller.leader import LeaderElector
from canary.controller.metrics import Metrics
from canary.controller.namespaces import informer_for
from canary.controller.notify.notifier import Notifier, kube_config_source
from canary.controller.notify.store import ConfigMapStore
from canary.controller.own_writes import OwnWrites
from canary.controller.queue import Key, WorkQueue, key_of, split_key
from canary.controller.reconciler import AnalysisRunReconciler, RolloutReconciler
from canary.controller.status_pacing import StatusPacing
from canary.controller.workers import Workers
from canary.engine.hashing import HASH_LABEL
from canary.engine.notifications import SUBSCRIBE_PREFIXES
from canary.gitops.target import opted_in
from canary.traffic.routers import router_for

log = structlog.get_logger(__name__)

WATCHED = {
    "rollouts": Resource(*kube_api.ROLLOUTS),
    "analysisruns": Resource(*kube_api.ANALYSIS_RUNS),
    "analysistemplates": Resource(*kube_api.ANALYSIS_TEMPLATES),
    "clusteranalysistemplates": Resource(*kube_api.CLUSTER_ANALYSIS_TEMPLATES, namespaced=False),
    # Only the ReplicaSets and pods of Rollouts carry the hash label: caching every Deployment's too
    # would cost memory in proportion to the cluster, not to the Rollouts.
    # Adoption reads only the orphaned ReplicaSets of a namespace, from the informer's index.
    # Of a ReplicaSet's status only the ready and available counts and the conditions are read: the
    # ReplicaSet controller's updates of its other counts (pods created, observedGeneration) queue
    # no reconcile.
    "replicasets": Resource(
        *kube_api.REPLICA_SETS,
        selector=HASH_LABEL,
        index_orphans=True,
        status_fields=("readyReplicas", "availableReplicas", "conditions"),
    ),
    # Pods are read for their labels, owners, timestamps and Ready condition only (restarts).
    "pods": Resource(*kube_api.PODS, selector=HASH_LABEL, fields=("metadata", "status")),
    "services": Resource(*kube_api.SERVICES),
    # Routing waits for a side's pods to be ready endpoints of its Service (Observed.ready_endpoints):
    # only the slices' owners, labels and endpoints are read.
    "endpointslices": Resource(*kube_api.ENDPOINT_SLICES, fields=("metadata", "endpoints")),
}


@dataclass(frozen=True)
class Settings:
    """`namespace`: watch one namespace (None: all). `namespaces` (`--namespaced`): watch and act
    only in these, and read nothing cluster-scoped (no ClusterAnalysisTemplates), so RoleBindings in
    them are all the RBAC it needs. `secret_label`: read only Secrets with this label (`--secret-label`)."""

    namespace: str | None = None
    namespaces: tuple[str, ...] = ()
    secret_label: tuple[str, str] | None = None
    workers: int = 10
    instance_id: str | None = None
    resync_seconds: float = 300.0
    watch_timeout_seconds: int = 300
    notifications_namespace: str | None = None
    """Where the notification ConfigMap and Secret are, and the delivery record is kept (None: no
    notifications)."""
    notification_workers: int = 2


class Controller:
    def __init__(
        self,
        api: KubeApi,
        settings: Settings,
        *,
        metrics: Metrics | None = None,
        leader: LeaderElector | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.leader = leader
        self.informers = Informers(
            api,
            [
                informer_for(
                    api,
                    resource,
                    settings.namespaces,
                    namespace=settings.namespace,
                    watch_timeout_seconds=settings.watch_timeout_seconds,
                )
                for resource in WATCHED.values()
                if resource.namespaced or not settings.namespaces
            ],
        )
        self.cluster = kube.KubeCluster(
            api,
            reads=self.informers,
            router_for=lambda rollout: router_for(rollout, api),
            clock=now,
            may_write=leader.is_leader if leader else lambda: True,
            instance_id=settings.instance_id,
            cluster_templates=not settings.namespaces,
            secret_label=settings.secret_label,
            endpoints=True,
        )
        self.rollouts = WorkQueue()
        self.analysis_runs = WorkQueue()
        self.notifier: Notifier | None = None
        if settings.notifications_namespace is not None:
            self.notifier = Notifier(
                self.cluster,
                kube_config_source(api, settings.notifications_namespace),
                ConfigMapStore(api, settings.notifications_namespace),
                now=now,
                metrics=self.metrics,
                workers=settings.notification_workers,
            )
        # Rollouts opt in to the Git write-back by annotation; the worker costs nothing without them.
        self.git_reverter = GitReverter(self.cluster, self.cluster.read_secret)
        self.hooks = HookRunner(hook_caller(JobHooks(api, self.cluster)), now, on_answer=self.rollouts.add)
        self._own_writes = OwnWrites(self.rollouts.add)
        self.rollout_reconciler = rollout_reconciler = RolloutReconciler(
            self.cluster,
            now,
            self.metrics,
            on_events=self._on_events,
            hooks=self.hooks,
            own_writes=self._own_writes,
            pacing=StatusPacing(),
        )
        run_reconciler = AnalysisRunReconciler(
            self.cluster,
            now,
            providers=default_registry(job_port=self.cluster, read_secret=self.cluster.read_secret),
            read_secret=self.cluster.read_secret,
            metrics=self.metrics,
        )
        self._workers = [
            Workers(
                self.rollouts,
                rollout_reconciler.reconcile,
                name="rollout",
                count=settings.workers,
                metrics=self.metrics,
            ),
            Workers(
                self.analysis_runs,
                run_reconciler.reconcile,
                name="analysisrun",
                count=settings.workers,
                metrics=self.metrics,
            ),
        ]
        self.metrics.track_queue("rollout", lambda: len(self.rollouts))
        self.metrics.track_queue("analysisrun", lambda: len(self.analysis_runs))
        self._stop = threading.Event()
        self._working = threading.Event()
        self._lifecycle = threading.Lock()
        """Orders starting the workers against shutting down: workers start only before shut_down."""
        self._shut = False
        self.lost_leadership = False
        self._route_events()

    # wiring events to keys ---------------------------------------------------------------------

    def _on_events(self, key: Key) -> None:
        # Handed on only to those with something to do for this Rollout: each would otherwise read
        # (and parse) the Rollout again to find it neither subscribes nor opted in.
        cached = self.informers.get(*kube_api.ROLLOUTS, *split_key(key)) or {}
        annotations = (cached.get("metadata") or {}).get("annotations") or {}
        if self.notifier is not None and self.notifier.wants(key, annotations):
            self.notifier.notify(key)
        if opted_in(annotations):
            self.git_reverter.notify(key)

    def _route_events(self) -> None:
        self.informers.informer(*kube_api.ROLLOUTS).on_change(self._on_rollout_change)
        self.informers.informer(*kube_api.ANALYSIS_RUNS).on_change(self._on_analysis_run)
        self.informers.informer(*kube_api.REPLICA_SETS).on_change(self._on_replica_set)
        self.informers.informer(*kube_api.PODS).on_change(self._on_pod)
        self.informers.informer(*kube_api.SERVICES).on_change(self._on_namespace_change)
        self.informers.informer(*kube_api.ENDPOINT_SLICES).on_change(self._on_endpoint_slice)
        self.informers.informer(*kube_api.ANALYSIS_TEMPLATES).on_change(self._on_namespace_change)

    def _on_rollout_change(self, obj: Obj) -> None:
        meta = obj["metadata"]
        key = key_of(meta.get("namespace", ""), meta["name"])
        if not self._own_writes.is_own(key, meta.get("resourceVersion")):
            self._on_rollout(obj)

    def _on_rollout(self, obj: Obj) -> None:
        meta = obj["metadata"]
        if kube.handled_by(meta.get("labels") or {}, self.settings.instance_id):
            self.rollouts.add(key_of(meta.get("namespace", ""), meta["name"]))

    def _on_analysis_run(self, obj: Obj) -> None:
        self.analysis_runs.add(key_of(obj["metadata"].get("namespace", ""), obj["metadata"]["name"]))
        self._on_owned(obj)

    def _on_owned(self, obj: Obj) -> None:
        # Only through the owner's own Rollout object: another instance's shard is not ours to
        # reconcile, however its ReplicaSets and runs change.
        namespace = obj["metadata"].get("namespace", "")
        for owner in obj["metadata"].get("ownerReferences") or []:
            if owner.get("kind") == "Rollout":
                rollout = self.informers.get(*kube_api.ROLLOUTS, namespace, owner["name"])
                if rollout is not None:
                    self._on_rollout(rollout)

    def _on_replica_set(self, obj: Obj) -> None:
        if any(owner.get("controller") for owner in obj["metadata"].get("ownerReferences") or []):
            self._on_owned(obj)
        else:  # an orphan: whichever Rollout of its namespace selects it adopts it
            self._on_namespace_change(obj)

    def _on_pod(self, obj: Obj) -> None:
        # Only a restart reads pods (it deletes one when the others are Ready); every other decision
        # reads the ReplicaSets, whose status the ReplicaSet controller updates from these same pod
        # changes. So a pod re-queues only a Rollout still restarting: most pod events of a fleet's
        # release would each cost a reconcile that decides nothing new.
        namespace = obj["metadata"].get("namespace", "")
        for owner in obj["metadata"].get("ownerReferences") or []:
            if owner.get("kind") == "ReplicaSet":
                replica_set = self.informers.get(*kube_api.REPLICA_SETS, namespace, owner["name"])
                if replica_set is not None and self._restarting(replica_set):
                    self._on_owned(replica_set)

    def _on_endpoint_slice(self, obj: Obj) -> None:
        # A weight held until the canary's pods are ready endpoints is raised on the slice's change:
        # the Rollouts owning the pods it lists (through the cached pods and ReplicaSets) are queued.
        namespace = obj["metadata"].get("namespace", "")
        pods = {
            ref.get("name", "")
            for endpoint in obj.get("endpoints") or []
            if (ref := endpoint.get("targetRef") or {}).get("kind") == "Pod"
        }
        replica_sets = {
            owner["name"]
            for name in pods
            for owner in _owners(self.informers.get(*kube_api.PODS, namespace, name))
            if owner.get("kind") == "ReplicaSet"
        }
        for name in replica_sets:
            replica_set = self.informers.get(*kube_api.REPLICA_SETS, namespace, name)
            if replica_set is not None:
                self._on_owned(replica_set)

    def _restarting(self, owned: Obj) -> bool:
        """Whether a Rollout owning `owned` asks for a restart it has not finished (the engine's rule)."""
        namespace = owned["metadata"].get("namespace", "")
        for owner in owned["metadata"].get("ownerReferences") or []:
            if owner.get("kind") != "Rollout":
                continue
            rollout = self.informers.get(*kube_api.ROLLOUTS, namespace, owner["name"]) or {}
            asked = parse_time((rollout.get("spec") or {}).get("restartAt"))
            done = parse_time((rollout.get("status") or {}).get("restartedAt"))
            if asked is not None and asked != done:
                return True
        return False

    def _on_namespace_change(self, obj: Obj) -> None:
        # Services and templates are referenced by name from specs; re-checking the namespace's
        # Rollouts is cheap and needs no reverse index.
        namespace = obj["metadata"].get("namespace")
        for rollout in self.informers.list(*kube_api.ROLLOUTS, namespace):
            self._on_rollout(rollout)

    # running ------------------------------------------------------------------------------------

    def healthy(self) -> bool:
        return not self._working.is_set() or (
            all(workers.alive() for workers in self._workers)
            and (self.notifier is None or self.notifier.alive())
            and self.git_reverter.alive()
        )

    def ready(self) -> bool:
        return self.informers.has_synced() or (self.leader is not None and not self.leader.is_leader())

    def run(self, stop: threading.Event) -> None:
        """Watch, and reconcile while leading, until `stop` (or until leadership is lost).

        Returns normally whatever state `stop` finds it in: before the informers synced, as a
        standby that never led, or as the leader (which then releases the lease).
        """
        self._stop = stop
        for informer in self.informers.all():
            threading.Thread(
                target=informer.run, name=f"informer-{informer.resource.plural}", daemon=True
            ).start()
        campaign = None
        if self.leader is None:
            self._start_working()
        else:
            campaign = threading.Thread(
                target=self.leader.run,
                args=(stop, self._start_working, self._lose_leadership),
                name="leader-election",
                daemon=True,
            )
            campaign.start()
        while not stop.wait(self.settings.resync_seconds):
            if self._working.is_set():
                self.resync()
        self.shut_down()
        if campaign is not None:
            campaign.join(timeout=10)  # it releases the lease, so the standby takes over at once

    def resync(self) -> None:
        for rollout in self.informers.list(*kube_api.ROLLOUTS, self.settings.namespace):
            self._on_rollout(rollout)
        for run in self.informers.list(*kube_api.ANALYSIS_RUNS, self.settings.namespace):
            self.analysis_runs.add(key_of(run["metadata"].get("namespace", ""), run["metadata"]["name"]))

    def shut_down(self) -> None:
        """Stop the queues, informers and workers; safe in any state and when called twice."""
        with self._lifecycle:
            self._shut = True
            started = self._working.is_set()
        self.rollouts.shut_down()
        self.analysis_runs.shut_down()
        if self.notifier is not None:
            self.notifier.shut_down()
        self.git_reverter.shut_down()
        self.hooks.shut_down()
        for informer in self.informers.all():
            informer.stop()
        if started:  # a standby's workers were never started, and an unstarted thread cannot be joined
            for workers in self._workers:
                workers.join(timeout=5)

    def _start_working(self) -> None:
        if not self._wait_synced():
            return
        with self._lifecycle:
            if self._shut:
                return
            self.metrics.leader.set(1)
            self.resync()
            for workers in self._workers:
                workers.start()
            if self.notifier is not None:  # what the last leader did not deliver, then what comes
                self.notifier.start(self._subscribed())
            self.git_reverter.start(self._opted_in())  # a revert a restart cut short is finished
            self._working.set()
        log.info(
            "controller working",
            workers=self.settings.workers,
            namespace=",".join(self.settings.namespaces) or self.settings.namespace or "*",
        )

    def _subscribed(self) -> list[Key]:
        return [
            key_of(obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            for obj in self.informers.list(*kube_api.ROLLOUTS, self.settings.namespace)
            if any(k.startswith(SUBSCRIBE_PREFIXES) for k in obj["metadata"].get("annotations") or {})
        ]

    def _opted_in(self) -> list[Key]:
        return [
            key_of(obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            for obj in self.informers.list(*kube_api.ROLLOUTS, self.settings.namespace)
            if opted_in(obj["metadata"].get("annotations"))
        ]

    def _wait_synced(self, timeout: float = 60.0, poll: float = 0.1) -> bool:
        """Wait for every informer's first list; False if stopped (or not synced) first."""
        deadline = time.monotonic() + timeout
        while not self._stop.is_set():
            if self.informers.has_synced():
                return True
            if time.monotonic() >= deadline:
                log.warning("informers not synced, working from a partial cache", timeout=timeout)
                return True
            self._stop.wait(poll)
        return False

    def _lose_leadership(self) -> None:
        # Like client-go: a replica that lost its lease exits and is restarted as a follower,
        # rather than trying to stop half-finished reconciles. Writes are fenced meanwhile.
        self.metrics.leader.set(0)
        if not self._stop.is_set():  # a lease released on shutdown is not a lost one
            self.lost_leadership = True
        self._stop.set()


def _owners(obj: Obj | None) -> list[Obj]:
    return list(((obj or {}).get("metadata") or {}).get("ownerReferences") or [])
