"""An in-memory cluster implementing `ClusterPort`, on a virtual clock.

Holds Rollouts, ReplicaSets with pods, Services, a traffic split per Rollout, AnalysisTemplates,
AnalysisRuns and Events. A ReplicaSet belongs to the Rollout whose uid it names as its owner, as on
Kubernetes: deleting a Rollout with `orphan=True` leaves its ReplicaSets serving with no owner, for
`adopt_orphans` to hand to the next Rollout that selects them. Pods become ready `PodBehaviour`
seconds after they start (or never: a crash-looping revision, or a template whose nodeSelector no
node satisfies), and ready endpoints of the Services selecting them `endpoints_after` seconds later
(the endpoint controller's lag behind the ReplicaSet's status). AnalysisRuns are advanced by the
analysis runner with injected providers.
Time moves only when the caller advances the clock, so `canary demo --fast`, the tests and the
benchmarks run an hour-long rollout in milliseconds. `next_due` says when something changes next.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from canary.analysis import run as executor
from canary.analysis import runner
from canary.analysis.providers.base import MeasurementError, ProviderRegistry
from canary.analysis.providers.job import JobState
from canary.api.analysis import AnalysisPhase, AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate
from canary.api.hooks import HookType
from canary.api.rollout import Rollout, RolloutStatus
from canary.cluster.port import Conflict, NotFound, RecordedEvent
from canary.engine import actions as act
from canary.engine import adoption
from canary.engine.analysis_runs import referenced
from canary.engine.clock import Clock
from canary.engine.commands import Patch, apply_patch
from canary.engine.observed import HookResult, Observed, ReplicaSetView

Key = tuple[str, str]
PodBehaviour = Callable[[act.PodHash], float | None]
"""Seconds a new pod of this revision takes to become ready; None: it never does (crash loop)."""


def ready_after(seconds: float) -> PodBehaviour:
    return lambda _hash: seconds


DEFAULT_PODS = ready_after(5.0)

NODE_LABELS = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "type": "kwok"}
"""The labels every node of the embedded cluster carries (those of the test tier's kwok nodes)."""


@dataclass
class _Pod:
    started_at: datetime
    ready_at: datetime | None


@dataclass
class _ReplicaSet:
    """`owner` is the uid of the Rollout that controls it, None once orphaned."""

    name: str
    owner: str | None
    pod_template_hash: act.PodHash
    template: dict[str, Any]
    revision: int
    created_at: datetime
    pods: list[_Pod] = field(default_factory=list)
    scale_down_deadline: datetime | None = None
    restarted_at: datetime | None = None
    # What SetEphemeralMetadata put on the pod template and every pod (pods here share their
    # ReplicaSet's metadata: a pod started later gets it too, as from the Kubernetes pod template).
    ephemeral_metadata: act.EphemeralMetadata = field(default_factory=act.EphemeralMetadata)


@dataclass
class _Job:
    """A Job an analysis `job` metric created, owned by its AnalysisRun."""

    spec: dict[str, Any]
    owner_run: str
    created_at: datetime


JOB_SECONDS = 1.0
"""How long a Job whose pod can be scheduled runs before it succeeds."""


HookAnswers = Callable[[act.RunHook], tuple[bool, str]]
"""How the embedded cluster's webhooks answer a call: (2xx or not, what they said)."""


def _answer_yes(call: act.RunHook) -> tuple[bool, str]:
    # The embedded cluster has no receivers to call: a hook answers at once, 2xx, unless a scenario
    # or a test gives its own answers.
    return True, f"answered 2xx (embedded cluster, {call.hook.type})"


def _no_secrets(namespace: str, name: str, key: str) -> str:
    raise KeyError(f"the in-memory cluster holds no Secret '{name}' in namespace '{namespace}'")


class MemoryCluster:
    """The embedded cluster. Not thread-safe: one driver loop owns it."""

    def __init__(
        self,
        clock: Clock,
        *,
        pods: PodBehaviour = DEFAULT_PODS,
        providers: ProviderRegistry | None = None,
        hooks: HookAnswers | None = None,
        endpoints_after: float = 0.0,
    ) -> None:
        self.clock = clock
        self.endpoints_after = timedelta(seconds=endpoints_after)
        self.hooks: HookAnswers = hooks or _answer_yes
        self.pods = pods
        self.providers: ProviderRegistry = providers or {}
        self.node_labels: dict[str, str] = dict(NODE_LABELS)
        self._rollouts: dict[Key, Rollout] = {}
        # By (namespace, name), as on Kubernetes: an orphaned ReplicaSet outlives its Rollout.
        self._replica_sets: dict[Key, _ReplicaSet] = {}
        # The same ReplicaSets by (namespace, controller uid), orphans under (namespace, None), each
        # with its creation sequence number: a reconcile reads its own and the orphans of its
        # namespace, never every ReplicaSet of the cluster (that was quadratic in the fleet).
        self._by_owner: dict[tuple[str, str | None], dict[Key, int]] = {}
        self._created = 0
        self._services: dict[Key, act.PodHash | None] = {}
        self._weights: dict[Key, int] = {}
        self._templates: dict[Key, AnalysisTemplate] = {}
        self._cluster_templates: dict[str, ClusterAnalysisTemplate] = {}
        self._runs: dict[Key, AnalysisRun] = {}
        self._run_due: dict[Key, datetime | None] = {}
        self._run_owner: dict[Key, str | None] = {}  # the uid of the Rollout that owns each run
        self._events: dict[Key, list[RecordedEvent]] = {}
        self._jobs: dict[Key, _Job] = {}
        self._hook_results: dict[Key, dict[str, HookResult]] = {}
        self._version = 0

    # --- setting up -------------------------------------------------------------------------------

    def _next_version(self) -> str:
        self._version += 1
        return str(self._version)

    def create(self, obj: Rollout | AnalysisTemplate | ClusterAnalysisTemplate | AnalysisRun) -> None:
        """Add a resource as `kubectl apply` would (a Rollout gets generation 1; an AnalysisRun a
        person creates is run by the analysis controller at once)."""
        namespace = obj.metadata.namespace or "default"
        if isinstance(obj, AnalysisRun):
            version = self._next_version()
            metadata = obj.metadata.model_copy(
                update={
                    "namespace": namespace,
                    "creation_timestamp": self.clock.now(),
                    "resource_version": version,
                }
            )
            self._runs[(namespace, obj.metadata.name)] = obj.model_copy(update={"metadata": metadata})
            self._run_due[(namespace, obj.metadata.name)] = self.clock.now()
            self._run_owner[(namespace, obj.metadata.name)] = None
        elif isinstance(obj, ClusterAnalysisTemplate):
            self._cluster_templates[obj.metadata.name] = obj
        elif isinstance(obj, AnalysisTemplate):
            self._templates[(namespace, obj.metadata.name)] = obj
        else:
            version = self._next_version()
            metadata = obj.metadata.model_copy(
                update={
                    "namespace": namespace,
                    "uid": f"memory-{version}",
                    "creation_timestamp": self.clock.now(),
                    "generation": 1,
                    "resource_version": version,
                }
            )
            self._rollouts[(namespace, obj.metadata.name)] = obj.model_copy(update={"metadata": metadata})

    def fail_pods(self, namespace: str, pod_hash: str, count: int, back_after: float | None = None) -> None:
        """`count` ready pods of a revision stop being ready (a crash, a failing probe), ready again
        `back_after` seconds later (None: never). Not the controller's doing, so no budget applies."""
        now = self.clock.now()
        ready_again = None if back_after is None else now + timedelta(seconds=back_after)
        for (ns, _), rs in self._replica_sets.items():
            if ns != namespace or rs.pod_template_hash != pod_hash:
                continue
            for pod in [p for p in rs.pods if _ready(p, now)][:count]:
                pod.ready_at = ready_again

    def create_service(self, namespace: str, name: str) -> None:
        self._services.setdefault((namespace, name), None)

    def delete_rollout(self, namespace: str, name: str, *, orphan: bool = False) -> None:
        """`kubectl delete rollout`: its ReplicaSets go with it, or (`--cascade=orphan`) stay, ownerless."""
        rollout = self._rollouts.pop((namespace, name))
        for key, rs in list(self._owned_items(rollout)):
            if orphan:
                self._set_owner(key, rs, None)
            else:
                self._remove_replica_set(key)
        for key, owner in list(self._run_owner.items()):
            if owner is not None and owner == rollout.metadata.uid:
                if orphan:
                    self._run_owner[key] = None
                else:
                    self._runs.pop(key, None)
                    self._run_due.pop(key, None)
                    del self._run_owner[key]

    # --- RolloutReader ----------------------------------------------------------------------------

    def get_rollout(self, namespace: str, name: str) -> Rollout:
        try:
            return self._rollouts[(namespace, name)]
        except KeyError:
            raise NotFound(f"rollout '{name}' not found in namespace '{namespace}'") from None

    def list_rollouts(self, namespace: str | None = None) -> list[Rollout]:
        return [r for (ns, _), r in sorted(self._rollouts.items()) if namespace in (None, ns)]

    def _owned_items(self, rollout: Rollout) -> list[tuple[Key, _ReplicaSet]]:
        return self._indexed(_key(rollout)[0], rollout.metadata.uid)

    def _indexed(self, namespace: str, owner: str | None) -> list[tuple[Key, _ReplicaSet]]:
        """The ReplicaSets of `namespace` that `owner` controls (None: the orphans), oldest first."""
        return [(key, self._replica_sets[key]) for key in self._by_owner.get((namespace, owner), {})]

    def _add_replica_set(self, key: Key, rs: _ReplicaSet) -> None:
        self._replica_sets[key] = rs
        self._created += 1
        self._by_owner.setdefault((key[0], rs.owner), {})[key] = self._created

    def _remove_replica_set(self, key: Key) -> None:
        self._unindex(key, self._replica_sets.pop(key))

    def _set_owner(self, key: Key, rs: _ReplicaSet, owner: str | None) -> None:
        created = self._unindex(key, rs)
        rs.owner = owner
        index = {**self._by_owner.get((key[0], owner), {}), key: created}
        # Each index is kept in creation order (read on every reconcile, changed by adoption only).
        self._by_owner[(key[0], owner)] = dict(sorted(index.items(), key=lambda item: item[1]))

    def _unindex(self, key: Key, rs: _ReplicaSet) -> int:
        """Drop `rs` from the owner index; its creation sequence number."""
        index = self._by_owner[(key[0], rs.owner)]
        created = index.pop(key)
        if not index:
            del self._by_owner[(key[0], rs.owner)]
        return created

    def _owned(self, rollout: Rollout) -> dict[act.PodHash, _ReplicaSet]:
        return {rs.pod_template_hash: rs for _, rs in self._owned_items(rollout)}

    def observe(self, rollout: Rollout) -> Observed:
        key = _key(rollout)
        now = self.clock.now()
        min_ready = timedelta(seconds=rollout.spec.min_ready_seconds)
        sets = tuple(_view(rs, now, min_ready) for rs in self._owned(rollout).values())
        runs = tuple(
            run
            for run_key, run in sorted(self._runs.items())
            if run_key[0] == key[0] and self._run_owner.get(run_key) == rollout.metadata.uid
        )
        refs = [ref for _, analysis in referenced(rollout) for ref in analysis.templates]
        strategy = rollout.spec.strategy
        services = {
            name: self._services[(key[0], name)]
            for name in strategy.services().values()
            if (key[0], name) in self._services
        }
        return Observed(
            replica_sets=sets,
            analysis_runs=runs,
            templates={
                r.template_name: self._templates[(key[0], r.template_name)]
                for r in refs
                if not r.cluster_scope and (key[0], r.template_name) in self._templates
            },
            cluster_templates={
                r.template_name: self._cluster_templates[r.template_name]
                for r in refs
                if r.cluster_scope and r.template_name in self._cluster_templates
            },
            service_selectors=services,
            router_weight=self._weights.get(key, 0) if strategy.traffic_routing else None,
            ready_endpoints=self._ready_endpoints(rollout),
            run_names=frozenset(name for ns, name in self._runs if ns == key[0]),
            hook_results=dict(self._hook_results.get(key, {})),
        )

    def _ready_endpoints(self, rollout: Rollout) -> dict[str, dict[str, int]]:
        """The routed canary strategy's Services with their ready endpoints by revision: the ready
        pods, `endpoints_after` on, of the revisions each selects (no hash pinned: every revision)."""
        canary = rollout.spec.strategy.canary
        if canary is None or rollout.spec.strategy.traffic_routing is None:
            return {}
        namespace, endpoints = _key(rollout)[0], self._endpoints(rollout)
        found: dict[str, dict[str, int]] = {}
        for name in (canary.canary_service, canary.stable_service):
            if name is None or (namespace, name) not in self._services:
                continue
            selected = self._services[(namespace, name)]
            found[name] = {h: n for h, n in endpoints.items() if selected in (None, h)}
        return found

    def _endpoints(self, rollout: Rollout) -> dict[act.PodHash, int]:
        """Each revision's pods that are ready endpoints (ready for `endpoints_after`)."""
        now = self.clock.now()
        return {
            pod_hash: sum(
                1 for p in rs.pods if p.ready_at is not None and p.ready_at + self.endpoints_after <= now
            )
            for pod_hash, rs in self._owned(rollout).items()
        }

    # --- writers ----------------------------------------------------------------------------------

    def adopt_orphans(self, rollout: Rollout) -> list[str]:
        namespace = _key(rollout)[0]
        orphans = self._indexed(namespace, None)
        if not orphans:
            return []
        candidates = [adoption.Candidate(rs.name, namespace, _labels(rs), rs.owner) for _, rs in orphans]
        names = adoption.to_adopt(rollout, candidates)
        for name in names:
            key = (namespace, name)
            self._set_owner(key, self._replica_sets[key], rollout.metadata.uid)
        return names

    def apply(self, rollout: Rollout, actions: Sequence[act.Action]) -> None:
        for action in act.ordered(list(actions)):
            self._apply_one(rollout, action)

    def _apply_one(self, rollout: Rollout, action: act.Action) -> None:
        key = _key(rollout)
        now = self.clock.now()
        sets = self._owned(rollout)
        match action:
            case act.CreateReplicaSet():
                name = f"{key[1]}-{action.pod_template_hash}"
                # As on Kubernetes, a name already taken (say, by an orphan) is not created again.
                if action.pod_template_hash not in sets and (key[0], name) not in self._replica_sets:
                    rs = _ReplicaSet(
                        name,
                        rollout.metadata.uid,
                        action.pod_template_hash,
                        dict(action.template),
                        action.revision,
                        now,
                    )
                    self._add_replica_set((key[0], name), rs)
                    self._scale(rs, action.replicas)
            case act.ScaleReplicaSet():
                self._scale(_existing(sets, action.pod_template_hash), action.replicas)
            case act.SetScaleDownDeadline():
                _existing(sets, action.pod_template_hash).scale_down_deadline = action.deadline
            case act.DeleteReplicaSet():
                if action.pod_template_hash in sets:
                    self._remove_replica_set((key[0], sets[action.pod_template_hash].name))
            case act.RestartPods():
                self._restart_one(_existing(sets, action.pod_template_hash), action.restart_at)
            case act.SetEphemeralMetadata():
                _existing(sets, action.pod_template_hash).ephemeral_metadata = action.metadata
            case act.SetServiceSelector():
                if (key[0], action.service) not in self._services:
                    raise NotFound(f"Service {key[0]}/{action.service} not found")
                self._services[(key[0], action.service)] = action.pod_template_hash
            case act.SetTrafficWeight():
                self._weights[key] = action.canary_weight
            case act.CreateAnalysisRun():
                run_key = (key[0], action.run.metadata.name)
                if run_key not in self._runs:
                    metadata = action.run.metadata.model_copy(
                        update={
                            "namespace": key[0],
                            "resource_version": self._next_version(),
                            "creation_timestamp": now,
                        }
                    )
                    self._runs[run_key] = action.run.model_copy(update={"metadata": metadata})
                    self._run_due[run_key] = now
                    self._run_owner[run_key] = rollout.metadata.uid
            case act.TerminateAnalysisRun():
                run = self._runs.get((key[0], action.name))
                if run is not None and not run.spec.terminate:
                    spec = run.spec.model_copy(update={"terminate": True})
                    self._runs[(key[0], action.name)] = run.model_copy(update={"spec": spec})
                    self._run_due[(key[0], action.name)] = now
            case act.DeleteAnalysisRun():
                self._jobs = {k: job for k, job in self._jobs.items() if job.owner_run != action.name}
                self._runs.pop((key[0], action.name), None)
                self._run_due.pop((key[0], action.name), None)
                self._run_owner.pop((key[0], action.name), None)
            case act.RunHook():
                self._answer_hook(key, action, now)
            case act.EmitEvent():
                self._record_event(key, action, now)

    def _answer_hook(self, key: Key, call: act.RunHook, now: datetime) -> None:
        if call.hook.type == HookType.EVENT:
            self.hooks(call)  # told; nothing waits on the answer, so none is kept
            return
        answered = self._hook_results.setdefault(key, {})
        if call.key not in answered:
            answered[call.key] = HookResult(*self.hooks(call), finished_at=now)

    def _scale(self, rs: _ReplicaSet, replicas: int) -> None:
        now = self.clock.now()
        if replicas < len(rs.pods):
            # Unready pods go first, then the newest: the pods serving traffic stay longest.
            rs.pods.sort(
                key=lambda pod: (
                    pod.ready_at is not None and pod.ready_at <= now,
                    -pod.started_at.timestamp(),
                )
            )
            rs.pods = rs.pods[len(rs.pods) - replicas :]
        while len(rs.pods) < replicas:
            delay = self.pods(rs.pod_template_hash) if _schedulable(rs.template, self.node_labels) else None
            ready = None if delay is None else now + timedelta(seconds=delay)
            rs.pods.append(_Pod(started_at=now, ready_at=ready))

    def _restart_one(self, rs: _ReplicaSet, restart_at: datetime) -> None:
        """As the Kubernetes adapter does: delete one pod started before `restart_at` (its
        ReplicaSet replaces it), or mark the ReplicaSet restarted when none is left."""
        old = [pod for pod in rs.pods if pod.started_at < restart_at]
        if not old:
            if rs.restarted_at is None or rs.restarted_at < restart_at:
                rs.restarted_at = restart_at
            return
        rs.pods.remove(min(old, key=lambda pod: pod.started_at))
        self._scale(rs, len(rs.pods) + 1)

    def _record_event(self, key: Key, event: act.EmitEvent, now: datetime) -> None:
        # One Event per emission, as the Kubernetes adapter creates them (no client-side aggregation).
        self._events.setdefault(key, []).append(
            RecordedEvent(key[0], key[1], event.type, event.reason, event.message, now)
        )

    def patch_rollout(self, namespace: str, name: str, patch: Patch) -> Rollout:
        current = self.get_rollout(namespace, name)
        if patch.resource_version is not None and patch.resource_version != current.metadata.resource_version:
            raise Conflict(f"rollout '{name}' changed since it was read; read it again and retry")
        patched = apply_patch(current, patch)
        generation = current.metadata.generation or 1
        if patch.target == "spec" and patched.spec != current.spec:
            generation += 1
        return self._store(patched, generation)

    def update_status(self, rollout: Rollout, status: RolloutStatus) -> Rollout:
        current = self.get_rollout(rollout.metadata.namespace or "default", rollout.metadata.name)
        if rollout.metadata.resource_version != current.metadata.resource_version:
            raise Conflict(f"rollout '{rollout.metadata.name}' changed since it was read; read it again")
        if status == current.status:
            return current
        return self._store(current.model_copy(update={"status": status}), current.metadata.generation or 1)

    def _store(self, rollout: Rollout, generation: int) -> Rollout:
        metadata = rollout.metadata.model_copy(
            update={"generation": generation, "resource_version": self._next_version()}
        )
        stored = rollout.model_copy(update={"metadata": metadata})
        self._rollouts[_key(stored)] = stored
        return stored

    # --- events and analysis runs -----------------------------------------------------------------

    def list_events(self, namespace: str, name: str) -> list[RecordedEvent]:
        return list(self._events.get((namespace, name), []))

    def list_analysis_runs(self, namespace: str | None = None) -> list[AnalysisRun]:
        return [run for (ns, _), run in sorted(self._runs.items()) if namespace in (None, ns)]

    def update_analysis_run_status(self, run: AnalysisRun) -> AnalysisRun:
        key = (run.metadata.namespace or "default", run.metadata.name)
        current = self._runs.get(key)
        if current is None:
            raise NotFound(f"analysisrun '{run.metadata.name}' not found")
        if current.metadata.resource_version != run.metadata.resource_version:
            raise Conflict(f"analysisrun '{run.metadata.name}' changed since it was read")
        metadata = current.metadata.model_copy(update={"resource_version": self._next_version()})
        stored = current.model_copy(update={"status": run.status, "metadata": metadata})
        self._runs[key] = stored
        return stored

    # --- Jobs, for the `job` metric provider (a JobPort) --------------------------------------------

    def create_job(
        self, namespace: str, name: str, metadata: dict[str, Any], spec: dict[str, Any], *, owner_run: str
    ) -> None:
        self._jobs.setdefault((namespace, name), _Job(dict(spec), owner_run, self.clock.now()))

    def job_state(self, namespace: str, name: str) -> JobState:
        """As the Job controller reports it: succeeded once its pod has run, failed once
        `activeDeadlineSeconds` passed without that (a pod no node fits never runs), else running."""
        job = self._jobs.get((namespace, name))
        if job is None:
            raise MeasurementError(f"Job {namespace}/{name} not found (deleted?)")
        age = (self.clock.now() - job.created_at).total_seconds()
        if _schedulable(job.spec.get("template") or {}, self.node_labels) and age >= JOB_SECONDS:
            return JobState(succeeded=True)
        deadline = job.spec.get("activeDeadlineSeconds")
        if deadline is not None and age >= float(deadline):
            return JobState(
                failed=True, message="DeadlineExceeded: Job was active longer than specified deadline"
            )
        return JobState()

    def advance_analysis_runs(self) -> None:
        """Take every measurement due now with the injected providers (the analysis controller's job)."""
        now = self.clock.now()
        for key, run in list(self._runs.items()):
            due = self._run_due.get(key)
            if due is None or due > now:
                continue
            if AnalysisPhase(run.status.phase).completed:
                expires = executor.expires_at(run)  # its ttlStrategy
                if expires is not None and expires <= now:
                    self.delete_analysis_run(*key)
                else:
                    self._run_due[key] = expires
                continue
            result = runner.advance(run, now=now, providers=self.providers, read_secret=_no_secrets)
            if result.run.status != run.status:
                self.update_analysis_run_status(result.run)
            self._run_due[key] = (
                executor.expires_at(result.run)
                if result.requeue_after is None
                else now + timedelta(seconds=result.requeue_after)
            )

    def delete_analysis_run(self, namespace: str, name: str) -> None:
        """Deletes a run (and its Jobs), as the analysis controller does once its ttlStrategy runs out."""
        key = (namespace, name)
        self._jobs = {k: job for k, job in self._jobs.items() if job.owner_run != name}
        for store in (self._runs, self._run_due, self._run_owner):
            store.pop(key, None)

    def pod_metadata(self, namespace: str, pod_hash: str) -> list[tuple[dict[str, str], dict[str, str]]]:
        """(labels, annotations) of each pod of a revision: its template's, with the ephemeral
        metadata over them (a key canary no longer sets shows the template's value again)."""
        result = []
        for (ns, _), rs in self._replica_sets.items():
            if ns != namespace or rs.pod_template_hash != pod_hash:
                continue
            metadata = rs.template.get("metadata") or {}
            labels = {**(metadata.get("labels") or {}), **rs.ephemeral_metadata.labels}
            annotations = {**(metadata.get("annotations") or {}), **rs.ephemeral_metadata.annotations}
            result += [(dict(labels), dict(annotations)) for _ in rs.pods]
        return result

    # --- the traffic split, for the simulated workload --------------------------------------------

    def traffic(self, rollout: Rollout) -> dict[act.PodHash, float]:
        """The share of requests each revision's pods receive now (router weight, else pod counts)."""
        key = _key(rollout)
        now = self.clock.now()
        serving = {h: sum(1 for p in rs.pods if _ready(p, now)) for h, rs in self._owned(rollout).items()}
        if rollout.spec.strategy.blue_green is not None:  # the active Service carries every request
            active = self._services.get((key[0], rollout.spec.strategy.blue_green.active_service))
            return {active: 1.0} if active is not None and serving.get(active) else {}
        strategy = rollout.spec.strategy.canary
        routing = rollout.spec.strategy.traffic_routing
        if strategy is None or routing is None:
            total = sum(serving.values())
            return {h: n / total for h, n in serving.items() if n} if total else {}
        stable = self._services.get((key[0], strategy.stable_service or ""))
        canary = self._services.get((key[0], strategy.canary_service or ""))
        weight = self._weights.get(key, 0) / routing.max_traffic_weight
        endpoints = self._endpoints(rollout)  # a proxy reaches a revision through them
        shares: dict[act.PodHash, float] = {}
        for pod_hash, share in ((stable, 1 - weight), (canary, weight)):
            if pod_hash is not None and share > 0 and endpoints.get(pod_hash):
                shares[pod_hash] = shares.get(pod_hash, 0.0) + share
        return shares

    def next_due(self) -> datetime | None:
        """When a pod becomes ready (or a ready endpoint) or a measurement falls due next, after now."""
        now = self.clock.now()
        times = [
            at
            for rs in self._replica_sets.values()
            for pod in rs.pods
            if pod.ready_at is not None
            for at in (pod.ready_at, pod.ready_at + self.endpoints_after)
            if at > now
        ]
        times += [due for due in self._run_due.values() if due is not None]
        return min(times, default=None)

    def due_at(self, instant: datetime) -> list[Key]:
        """The Rollouts that something falling due at `instant` concerns (a pod of theirs becomes
        ready, a run of theirs takes a measurement): what the watches would queue then."""
        uids = {
            rs.owner
            for rs in self._replica_sets.values()
            for pod in rs.pods
            if pod.ready_at is not None and instant - pod.ready_at in (timedelta(0), self.endpoints_after)
        }
        uids |= {
            self._run_owner.get(key)
            for key, due in self._run_due.items()
            if due is not None and due <= instant
        }
        return sorted(key for key, rollout in self._rollouts.items() if rollout.metadata.uid in uids)


def _schedulable(template: dict[str, Any], node_labels: dict[str, str]) -> bool:
    """Whether the nodes (all labelled `node_labels`) satisfy the template's nodeSelector; a pod
    that no node fits stays Pending, never ready, as the scheduler would leave it."""
    selector = (template.get("spec") or {}).get("nodeSelector") or {}
    return all(node_labels.get(key) == value for key, value in selector.items())


def _key(rollout: Rollout) -> Key:
    return (rollout.metadata.namespace or "default", rollout.metadata.name)


def _existing(sets: dict[act.PodHash, _ReplicaSet], pod_hash: act.PodHash) -> _ReplicaSet:
    if pod_hash not in sets:
        raise NotFound(f"ReplicaSet of revision {pod_hash} not found (will be re-created)")
    return sets[pod_hash]


def _ready(pod: _Pod, now: datetime, min_ready: timedelta = timedelta(0)) -> bool:
    return pod.ready_at is not None and pod.ready_at + min_ready <= now


def _labels(rs: _ReplicaSet) -> dict[str, str]:
    """A ReplicaSet's labels are its pod template's, as the Kubernetes adapter writes them."""
    return dict((rs.template.get("metadata") or {}).get("labels") or {})


def _view(rs: _ReplicaSet, now: datetime, min_ready: timedelta) -> ReplicaSetView:
    return ReplicaSetView(
        name=rs.name,
        pod_template_hash=rs.pod_template_hash,
        template=rs.template,
        revision=rs.revision,
        replicas=len(rs.pods),
        ready=sum(1 for pod in rs.pods if _ready(pod, now)),
        available=sum(1 for pod in rs.pods if _ready(pod, now, min_ready)),
        created_at=rs.created_at,
        scale_down_deadline=rs.scale_down_deadline,
        restarted_at=rs.restarted_at,
        ephemeral_metadata=rs.ephemeral_metadata,
    )
