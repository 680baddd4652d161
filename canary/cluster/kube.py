"""`ClusterPort` on a real Kubernetes API: observes through a read cache, writes through `KubeApi`.

Reads go through `Reads` (the controller passes its informer caches; without one, every read goes to
the apiserver). Writes are JSON merge patches of only the fields canary owns, with the field manager
`canary-controller`, and only where the cluster differs from the action:

- ReplicaSets are named `<rollout>-<hash>`, owned by their Rollout (ownerReference, controller:
  true), labelled and selected by the pod-template hash.
- Service selectors get the hash added; nothing else of the Service is touched.
- Status goes to the status subresource, conditional on the resourceVersion it was computed from
  (`Conflict` otherwise: the reconciler re-reads and decides again). Spec is never written by the
  controller, so a GitOps tool keeps sole ownership of it.
- Every `EmitEvent` becomes a core/v1 Event on the Rollout.

Every write first asks `may_write()` (the leader elector's `is_leader`), so a replica that lost
its lease cannot write even if a reconcile was already under way.
"""

from __future__ import annotations

import base64
import copy
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from canary.analysis.providers.base import MeasurementError
from canary.analysis.providers.job import JobState
from canary.api.analysis import AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate
from canary.api.base import GROUP_VERSION
from canary.api.rollout import Rollout, RolloutStatus
from canary.cluster.kube_api import KubeApi, Obj
from canary.cluster.port import Conflict, NotFound, RecordedEvent
from canary.engine import actions as act
from canary.engine.commands import Patch
from canary.engine.hashing import HASH_LABEL
from canary.engine.observed import Observed, ReplicaSetView

log = structlog.get_logger(__name__)

ROLLOUTS = (GROUP_VERSION, "rollouts")
ANALYSIS_RUNS = (GROUP_VERSION, "analysisruns")
ANALYSIS_TEMPLATES = (GROUP_VERSION, "analysistemplates")
CLUSTER_ANALYSIS_TEMPLATES = (GROUP_VERSION, "clusteranalysistemplates")
REPLICA_SETS = ("apps/v1", "replicasets")
DEPLOYMENTS = ("apps/v1", "deployments")
PODS = ("v1", "pods")
SERVICES = ("v1", "services")
EVENTS = ("v1", "events")
SECRETS = ("v1", "secrets")
JOBS = ("batch/v1", "jobs")

REVISION_ANNOTATION = "canary.dev/revision"
SCALE_DOWN_DEADLINE_ANNOTATION = "canary.dev/scale-down-deadline"
RESTARTED_AT_ANNOTATION = "canary.dev/restarted-at"
INSTANCE_ID_LABEL = "canary.dev/controller-instance-id"
COMPONENT = "canary-controller"


class NotLeader(RuntimeError):  # noqa: N818 - a state, not a failure of the write itself
    """This replica does not hold the leader lease, so it must not write."""


class Reads(Protocol):
    def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> Obj | None: ...

    def list(self, api_version: str, plural: str, namespace: str | None) -> list[Obj]: ...


class ApiReads:
    """Reads straight from the apiserver (the CLI, tests, and controllers without informers)."""

    def __init__(self, api: KubeApi) -> None:
        self._api = api

    def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> Obj | None:
        return self._api.get(api_version, plural, namespace, name)

    def list(self, api_version: str, plural: str, namespace: str | None) -> list[Obj]:
        return self._api.list(api_version, plural, namespace).items


class Router(Protocol):
    """`canary.traffic.base.TrafficRouter`, restated here because cluster may not import traffic."""

    def set_weight(self, rollout: Rollout, weight: int, *, canary_hash: str, stable_hash: str) -> None: ...

    def current_weight(self, rollout: Rollout) -> int | None: ...


RouterFor = Callable[[Rollout], Router | None]


def handled_by(labels: dict[str, str], instance_id: str | None) -> bool:
    """Sharding: an instance handles Rollouts labelled with its id; the default one the unlabelled."""
    return labels.get(INSTANCE_ID_LABEL) == instance_id if instance_id else INSTANCE_ID_LABEL not in labels


def owned_by(obj: Obj, uid: str | None) -> bool:
    return any(ref.get("uid") == uid for ref in obj.get("metadata", {}).get("ownerReferences") or [])


def controller_reference(rollout: Rollout) -> Obj:
    return {
        "apiVersion": rollout.api_version,
        "kind": rollout.kind,
        "name": rollout.metadata.name,
        "uid": rollout.metadata.uid or "",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _namespace(rollout: Rollout) -> str:
    return rollout.metadata.namespace or "default"


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class KubeCluster:
    def __init__(
        self,
        api: KubeApi,
        *,
        reads: Reads | None = None,
        router_for: RouterFor = lambda _rollout: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        may_write: Callable[[], bool] = lambda: True,
        instance_id: str | None = None,
    ) -> None:
        self.api = api
        self._reads = reads or ApiReads(api)
        self._router_for = router_for
        self._clock = clock
        self._may_write = may_write
        self._instance_id = instance_id

    # reads ------------------------------------------------------------------------------------

    def get_rollout(self, namespace: str, name: str) -> Rollout:
        """The Rollout; `NotFound`; a ValueError (pydantic's ValidationError) when its spec is invalid."""
        obj = self._reads.get(*ROLLOUTS, namespace, name)
        if obj is None:
            raise NotFound(f"Rollout {namespace}/{name} not found")
        return Rollout.model_validate(_without_managed_fields(obj))

    def list_rollouts(self, namespace: str | None = None) -> list[Rollout]:
        rollouts = []
        for obj in self._reads.list(*ROLLOUTS, namespace):
            if not handled_by(obj["metadata"].get("labels") or {}, self._instance_id):
                continue
            try:
                rollouts.append(Rollout.model_validate(_without_managed_fields(obj)))
            except ValueError as error:
                log.warning("skipping invalid Rollout", name=obj["metadata"]["name"], error=str(error))
        return rollouts

    def observe(self, rollout: Rollout) -> Observed:
        namespace, uid = _namespace(rollout), rollout.metadata.uid
        replica_sets = tuple(
            _replica_set_view(obj) for obj in self._reads.list(*REPLICA_SETS, namespace) if owned_by(obj, uid)
        )
        runs = tuple(
            AnalysisRun.model_validate(_without_managed_fields(obj))
            for obj in self._reads.list(*ANALYSIS_RUNS, namespace)
            if owned_by(obj, uid)
        )
        router = self._router_for(rollout)
        return Observed(
            replica_sets=replica_sets,
            analysis_runs=runs,
            templates=self._templates(rollout, cluster_scope=False),
            cluster_templates=self._templates(rollout, cluster_scope=True),
            service_selectors=self._service_selectors(rollout),
            router_weight=router.current_weight(rollout) if router else None,
            workload_template=self._workload_template(rollout),
        )

    def list_events(self, namespace: str, name: str) -> list[RecordedEvent]:
        events = [
            obj
            for obj in self.api.list(*EVENTS, namespace).items
            if obj.get("involvedObject", {}).get("kind") == "Rollout"
            and obj["involvedObject"].get("name") == name
        ]
        recorded = [
            RecordedEvent(
                namespace=namespace,
                rollout=name,
                type=obj.get("type", "Normal"),
                reason=obj.get("reason", ""),
                message=obj.get("message", ""),
                timestamp=_time(obj.get("lastTimestamp") or obj.get("eventTime"))
                or datetime.min.replace(tzinfo=UTC),
                count=int(obj.get("count") or 1),
            )
            for obj in events
        ]
        return sorted(recorded, key=lambda event: event.timestamp)

    def list_analysis_runs(self, namespace: str | None = None) -> list[AnalysisRun]:
        return [
            AnalysisRun.model_validate(_without_managed_fields(o))
            for o in self._reads.list(*ANALYSIS_RUNS, namespace)
        ]

    def get_analysis_run(self, namespace: str, name: str) -> AnalysisRun:
        obj = self._reads.get(*ANALYSIS_RUNS, namespace, name)
        if obj is None:
            raise NotFound(f"AnalysisRun {namespace}/{name} not found")
        return AnalysisRun.model_validate(_without_managed_fields(obj))

    def _templates(self, rollout: Rollout, *, cluster_scope: bool) -> dict[str, Any]:
        canary = rollout.spec.strategy.canary
        analyses = [step.analysis for step in canary.steps if step.analysis] + (
            [canary.analysis] if canary.analysis else []
        )
        names = {
            ref.template_name for a in analyses for ref in a.templates if ref.cluster_scope == cluster_scope
        }
        model = ClusterAnalysisTemplate if cluster_scope else AnalysisTemplate
        kind = CLUSTER_ANALYSIS_TEMPLATES if cluster_scope else ANALYSIS_TEMPLATES
        found = {}
        for name in sorted(names):
            obj = self._reads.get(*kind, None if cluster_scope else _namespace(rollout), name)
            if obj is not None:
                found[name] = model.model_validate(_without_managed_fields(obj))
        return found

    def _service_selectors(self, rollout: Rollout) -> dict[str, act.PodHash | None]:
        canary = rollout.spec.strategy.canary
        selectors: dict[str, act.PodHash | None] = {}
        for name in filter(None, (canary.canary_service, canary.stable_service)):
            service = self._reads.get(*SERVICES, _namespace(rollout), name)
            if service is not None:
                value = (service.get("spec", {}).get("selector") or {}).get(HASH_LABEL)
                selectors[name] = act.PodHash(value) if value else None
        return selectors

    def _workload_template(self, rollout: Rollout) -> dict[str, Any] | None:
        ref = rollout.spec.workload_ref
        if ref is None:
            return None
        deployment = self._reads.get(*DEPLOYMENTS, _namespace(rollout), ref.name)
        return None if deployment is None else deployment.get("spec", {}).get("template")

    # writes -----------------------------------------------------------------------------------

    def apply(self, rollout: Rollout, actions: Sequence[act.Action]) -> None:
        for action in act.ordered(list(actions)):
            self._guard()
            self._apply_one(rollout, action)

    def _apply_one(self, rollout: Rollout, action: act.Action) -> None:
        match action:
            case act.CreateReplicaSet():
                self._create_replica_set(rollout, action)
            case act.ScaleReplicaSet(pod_template_hash=pod_hash, replicas=replicas):
                self._patch_replica_set(
                    rollout,
                    pod_hash,
                    lambda rs: rs["spec"].get("replicas") != replicas,
                    {"spec": {"replicas": replicas}},
                )
            case act.SetScaleDownDeadline(pod_template_hash=pod_hash, deadline=deadline):
                value = _stamp(deadline) if deadline else None
                self._patch_replica_set(
                    rollout,
                    pod_hash,
                    lambda rs: (
                        (rs["metadata"].get("annotations") or {}).get(SCALE_DOWN_DEADLINE_ANNOTATION) != value
                    ),
                    {"metadata": {"annotations": {SCALE_DOWN_DEADLINE_ANNOTATION: value}}},
                )
            case act.DeleteReplicaSet(pod_template_hash=pod_hash):
                self.api.delete(*REPLICA_SETS, _namespace(rollout), _replica_set_name(rollout, pod_hash))
            case act.RestartPods():
                self._restart_pods(rollout, action)
            case act.SetServiceSelector(service=service, pod_template_hash=pod_hash):
                self._set_selector(rollout, service, pod_hash)
            case act.SetTrafficWeight(canary_weight=weight, canary_hash=canary_hash, stable_hash=stable_hash):
                router = self._router_for(rollout)
                if router is not None:
                    router.set_weight(rollout, weight, canary_hash=canary_hash, stable_hash=stable_hash)
            case act.CreateAnalysisRun(run=run):
                self._create_analysis_run(rollout, run)
            case act.TerminateAnalysisRun(name=name):
                self._terminate_analysis_run(rollout, name)
            case act.DeleteAnalysisRun(name=name):
                self.api.delete(*ANALYSIS_RUNS, _namespace(rollout), name)
            case act.EmitEvent():
                self._emit(rollout, action)

    def _guard(self) -> None:
        if not self._may_write():
            raise NotLeader("this replica lost the leader lease; it does not write")

    def _create_replica_set(self, rollout: Rollout, action: act.CreateReplicaSet) -> None:
        namespace = _namespace(rollout)
        template = copy.deepcopy(dict(action.template))
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = action.pod_template_hash
        selector = self._selector(rollout, template)
        selector.setdefault("matchLabels", {})[HASH_LABEL] = action.pod_template_hash
        body = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": _replica_set_name(rollout, action.pod_template_hash),
                "namespace": namespace,
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {REVISION_ANNOTATION: str(action.revision)},
                "ownerReferences": [controller_reference(rollout)],
            },
            "spec": {
                "replicas": action.replicas,
                "minReadySeconds": rollout.spec.min_ready_seconds,
                "selector": selector,
                "template": template,
            },
        }
        try:
            self.api.create(*REPLICA_SETS, namespace, body)
        except Conflict:  # AlreadyExists: created by an earlier reconcile whose status write was lost
            return

    def _selector(self, rollout: Rollout, template: Obj) -> Obj:
        if rollout.spec.selector is not None:
            return copy.deepcopy(rollout.spec.selector.to_wire())
        ref = rollout.spec.workload_ref
        deployment = self._reads.get(*DEPLOYMENTS, _namespace(rollout), ref.name) if ref else None
        if deployment is not None and deployment.get("spec", {}).get("selector"):
            return copy.deepcopy(deployment["spec"]["selector"])
        labels = {k: v for k, v in template["metadata"]["labels"].items() if k != HASH_LABEL}
        return {"matchLabels": labels}

    def _patch_replica_set(
        self, rollout: Rollout, pod_hash: str, differs: Callable[[Obj], bool], patch: Obj
    ) -> None:
        namespace, name = _namespace(rollout), _replica_set_name(rollout, pod_hash)
        current = self._reads.get(*REPLICA_SETS, namespace, name)
        if current is None:
            raise NotFound(f"ReplicaSet {namespace}/{name} not found (will be re-created)")
        if differs(current):
            self.api.patch(*REPLICA_SETS, namespace, name, patch)

    def _restart_pods(self, rollout: Rollout, action: act.RestartPods) -> None:
        """Delete one pod started before `restart_at` per reconcile; mark the ReplicaSet when none is left."""
        namespace = _namespace(rollout)
        pods = [
            pod
            for pod in self._reads.list(*PODS, namespace)
            if (pod["metadata"].get("labels") or {}).get(HASH_LABEL) == action.pod_template_hash
            and (_time(pod["metadata"].get("creationTimestamp")) or action.restart_at) < action.restart_at
        ]
        if pods:
            self.api.delete(*PODS, namespace, pods[0]["metadata"]["name"])
            return
        stamp = _stamp(action.restart_at)
        self._patch_replica_set(
            rollout,
            action.pod_template_hash,
            lambda rs: (rs["metadata"].get("annotations") or {}).get(RESTARTED_AT_ANNOTATION) != stamp,
            {"metadata": {"annotations": {RESTARTED_AT_ANNOTATION: stamp}}},
        )

    def _set_selector(self, rollout: Rollout, service: str, pod_hash: str) -> None:
        namespace = _namespace(rollout)
        current = self._reads.get(*SERVICES, namespace, service)
        if current is None:
            raise NotFound(f"Service {namespace}/{service} not found")
        if (current.get("spec", {}).get("selector") or {}).get(HASH_LABEL) != pod_hash:
            self.api.patch(*SERVICES, namespace, service, {"spec": {"selector": {HASH_LABEL: pod_hash}}})

    def _create_analysis_run(self, rollout: Rollout, run: AnalysisRun) -> None:
        namespace = _namespace(rollout)
        body = run.to_wire()
        metadata = body.setdefault("metadata", {})
        metadata["namespace"] = namespace
        if not owned_by(body, rollout.metadata.uid):
            metadata["ownerReferences"] = [
                *(metadata.get("ownerReferences") or []),
                controller_reference(rollout),
            ]
        body.pop("status", None)
        try:
            self.api.create(*ANALYSIS_RUNS, namespace, body)
        except Conflict:  # already exists: never overwritten
            return

    def _terminate_analysis_run(self, rollout: Rollout, name: str) -> None:
        namespace = _namespace(rollout)
        current = self._reads.get(*ANALYSIS_RUNS, namespace, name)
        if current is not None and not current.get("spec", {}).get("terminate"):
            self.api.patch(*ANALYSIS_RUNS, namespace, name, {"spec": {"terminate": True}})

    def _emit(self, rollout: Rollout, event: act.EmitEvent) -> None:
        namespace, now = _namespace(rollout), _stamp(self._clock())
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{rollout.metadata.name}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
            "involvedObject": {
                "apiVersion": rollout.api_version,
                "kind": rollout.kind,
                "name": rollout.metadata.name,
                "namespace": namespace,
                "uid": rollout.metadata.uid or "",
            },
            "type": event.type,
            "reason": event.reason,
            "message": event.message,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": COMPONENT,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        self.api.create(*EVENTS, namespace, body)

    def patch_rollout(self, namespace: str, name: str, patch: Patch) -> Rollout:
        document = patch.document()
        if patch.resource_version is not None:
            document["metadata"] = {"resourceVersion": patch.resource_version}
        subresource = "status" if patch.target == "status" else None
        updated = self.api.patch(*ROLLOUTS, namespace, name, document, subresource=subresource)
        return Rollout.model_validate(_without_managed_fields(updated))

    def update_status(self, rollout: Rollout, status: RolloutStatus) -> Rollout:
        self._guard()
        namespace = _namespace(rollout)
        body = {
            "metadata": {"resourceVersion": rollout.metadata.resource_version},
            "status": _replacing(rollout.status.to_wire(), status.to_wire()),
        }
        updated = self.api.patch(*ROLLOUTS, namespace, rollout.metadata.name, body, subresource="status")
        return Rollout.model_validate(_without_managed_fields(updated))

    def report_invalid_spec(self, namespace: str, name: str, message: str) -> None:
        """Mark a Rollout whose spec does not parse: InvalidSpec condition, phase Degraded."""
        self._guard()
        obj = self._reads.get(*ROLLOUTS, namespace, name)
        if obj is None:
            return
        condition = {
            "type": "InvalidSpec",
            "status": "True",
            "reason": "InvalidSpec",
            "message": message,
            "lastTransitionTime": _stamp(self._clock()),
        }
        status = obj.get("status") or {}
        if status.get("phase") == "Degraded" and status.get("message") == message:
            return
        others = [c for c in status.get("conditions") or [] if c.get("type") != "InvalidSpec"]
        body = {
            "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
            "status": {
                "phase": "Degraded",
                "message": message,
                "conditions": [*others, condition],
                "observedGeneration": obj["metadata"].get("generation"),
            },
        }
        self.api.patch(*ROLLOUTS, namespace, name, body, subresource="status")

    def update_analysis_run_status(self, run: AnalysisRun) -> AnalysisRun:
        self._guard()
        namespace = run.metadata.namespace or "default"
        current = self._reads.get(*ANALYSIS_RUNS, namespace, run.metadata.name)
        if current is None:
            raise NotFound(f"AnalysisRun {namespace}/{run.metadata.name} not found")
        body = {
            "metadata": {"resourceVersion": run.metadata.resource_version},
            "status": _replacing(current.get("status") or {}, run.status.to_wire()),
        }
        updated = self.api.patch(*ANALYSIS_RUNS, namespace, run.metadata.name, body, subresource="status")
        return AnalysisRun.model_validate(_without_managed_fields(updated))

    # what the analysis providers need ---------------------------------------------------------

    def read_secret(self, namespace: str, name: str, key: str) -> str:
        secret = self.api.get(*SECRETS, namespace, name)
        if secret is None or key not in (secret.get("data") or {}):
            raise KeyError(f"Secret {namespace}/{name} has no key '{key}'")
        return base64.b64decode(secret["data"][key]).decode()

    def create_job(self, namespace: str, name: str, metadata: dict[str, Any], spec: dict[str, Any]) -> None:
        self._guard()
        body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {**metadata, "name": name}, "spec": spec}
        try:
            self.api.create(*JOBS, namespace, body)
        except Conflict:
            return
        except Exception as error:
            raise MeasurementError(f"cannot create Job {namespace}/{name}: {error}") from error

    def job_state(self, namespace: str, name: str) -> JobState:
        job = self.api.get(*JOBS, namespace, name)
        if job is None:
            raise MeasurementError(f"Job {namespace}/{name} no longer exists")
        conditions = {
            c.get("type"): c
            for c in job.get("status", {}).get("conditions") or []
            if c.get("status") == "True"
        }
        if "Failed" in conditions:
            return JobState(failed=True, message=conditions["Failed"].get("message", "the Job failed"))
        return JobState(succeeded="Complete" in conditions)


def _replica_set_name(rollout: Rollout, pod_hash: str) -> str:
    return f"{rollout.metadata.name}-{pod_hash}"


def _replica_set_view(obj: Obj) -> ReplicaSetView:
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    annotations = meta.get("annotations") or {}
    return ReplicaSetView(
        name=meta["name"],
        pod_template_hash=act.PodHash((meta.get("labels") or {}).get(HASH_LABEL, "")),
        template=spec.get("template") or {},
        revision=int(annotations.get(REVISION_ANNOTATION) or 0),
        replicas=int(spec.get("replicas") or 0),
        ready=int(status.get("readyReplicas") or 0),
        available=int(status.get("availableReplicas") or 0),
        created_at=_time(meta.get("creationTimestamp")),
        scale_down_deadline=_time(annotations.get(SCALE_DOWN_DEADLINE_ANNOTATION)),
        restarted_at=_time(annotations.get(RESTARTED_AT_ANNOTATION)),
        annotations=dict(annotations),
    )


def _without_managed_fields(obj: Obj) -> Obj:
    """The object as the models read it: server bookkeeping the models do not describe is dropped."""
    metadata = {k: v for k, v in obj.get("metadata", {}).items() if k != "managedFields"}
    return {**obj, "metadata": metadata}


def _replacing(old: Obj, new: Obj) -> Obj:
    """A merge patch that makes `old` equal `new`: keys only in `old` are set to None (deleted)."""
    patch: Obj = dict(new)
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(old.get(key), dict):
            patch[key] = _replacing(old[key], value)
    return patch
