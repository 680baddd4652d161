"""`ClusterPort` on a real Kubernetes API: observes through a read cache, writes through `KubeApi`.

Reads go through `Reads` (the controller passes its informer caches; without one, every read goes to
the apiserver). Writes are JSON merge patches of only the fields canary owns, with the field manager
`canary-controller`, and only where the cluster differs (actions: `canary.cluster.kube_actions`):

- Status goes to the status subresource, conditional on the resourceVersion it was computed from
  (`Conflict` otherwise: the reconciler re-reads and decides again). Spec is never written by the
  controller, so a GitOps tool keeps sole ownership of it.

Every write first asks `may_write()` (the leader elector's `is_leader`), so a replica that lost
its lease cannot write even if a reconcile was already under way.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from canary.analysis.args import SecretUnavailableError
from canary.analysis.providers.base import MeasurementError
from canary.analysis.providers.job import JobState
from canary.api.analysis import AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate
from canary.api.base import GROUP_VERSION
from canary.api.problems import problems_from_validation_error
from canary.api.rollout import Rollout, RolloutStatus
from canary.cluster.kube_actions import (
    EPHEMERAL_METADATA_ANNOTATION,
    INSTANCE_ID_LABEL,
    POD_TEMPLATE_ANNOTATION,
    RESTARTED_AT_ANNOTATION,
    REVISION_ANNOTATION,
    SCALE_DOWN_DEADLINE_ANNOTATION,
    ActionWriter,
    ApiReads,
    Reads,
    RouterFor,
    controller_uid,
    ephemeral_record,
    event_object,
    namespace_of,
    owned_by,
    parse_time,
    stamp,
)
from canary.cluster.kube_api import (
    ANALYSIS_RUNS,
    ANALYSIS_TEMPLATES,
    CLUSTER_ANALYSIS_TEMPLATES,
    DEPLOYMENTS,
    ENDPOINT_SLICES,
    EVENTS,
    JOBS,
    PODS,
    REPLICA_SETS,
    ROLLOUTS,
    SECRETS,
    SERVICES,
    KubeApi,
    Obj,
)
from canary.cluster.port import Conflict, NotFound, RecordedEvent
from canary.engine import actions as act
from canary.engine import adoption
from canary.engine.analysis_runs import referenced
from canary.engine.commands import Patch
from canary.engine.hashing import HASH_LABEL
from canary.engine.observed import Observed, ReplicaSetView

__all__ = ["ROLLOUTS", "ApiReads", "KubeCluster", "NotLeader", "handled_by"]

log = structlog.get_logger(__name__)


class NotLeader(RuntimeError):  # noqa: N818 - a state, not a failure of the write itself
    """This replica does not hold the leader lease, so it must not write."""


def handled_by(labels: dict[str, str], instance_id: str | None) -> bool:
    """Sharding: an instance handles Rollouts labelled with its id; the default one the unlabelled."""
    return labels.get(INSTANCE_ID_LABEL) == instance_id if instance_id else INSTANCE_ID_LABEL not in labels


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
        cluster_templates: bool = True,
        secret_label: tuple[str, str] | None = None,
        endpoints: bool = False,
    ) -> None:
        """`cluster_templates=False`: a namespaced controller (`--namespaced`), which may not read
        cluster-scoped objects; a ClusterAnalysisTemplate reference is reported as invalid.
        `secret_label`: read only Secrets carrying this label (`--secret-label`). `endpoints`:
        observe the ready endpoints of routed Services (`Observed.ready_endpoints`), which reads
        EndpointSlices and the pods they name: for a controller, whose reads are informer caches."""
        self.api = api
        self._endpoints = endpoints
        self._cluster_templates = cluster_templates
        self._secret_label = secret_label
        self._reads = reads or ApiReads(api)
        self._router_for = router_for
        self._clock = clock
        self._may_write = may_write
        self._instance_id = instance_id
        self._writer = ActionWriter(api, self._reads, router_for, clock)
        self._parsed: dict[tuple[str, str], tuple[str, Rollout]] = {}
        """Each Rollout's last parse, by namespace and name, with the resourceVersion it parsed."""

    # reads ------------------------------------------------------------------------------------

    def get_rollout(self, namespace: str, name: str) -> Rollout:
        """The Rollout; `NotFound`; a ValueError (pydantic's ValidationError) when its spec is invalid."""
        obj = self._reads.get(*ROLLOUTS, namespace, name)
        if obj is None:
            self._parsed.pop((namespace, name), None)
            raise NotFound(f"Rollout {namespace}/{name} not found")
        return self._parse_rollout(obj)

    def _parse_rollout(self, obj: Obj) -> Rollout:
        """The Rollout model of `obj`, parsed and validated once per resourceVersion: most reconciles
        of a fleet (a ReplicaSet or pod changed) read a Rollout unchanged since the last one."""
        meta = obj["metadata"]
        key, version = (meta.get("namespace") or "", meta["name"]), meta.get("resourceVersion")
        cached = self._parsed.get(key)
        if cached is not None and version and cached[0] == version:
            return cached[1]
        rollout = Rollout.model_validate(_without_managed_fields(obj))
        if version:
            self._parsed[key] = (version, rollout)  # models are frozen: sharing one is safe
        return rollout

    def list_rollouts(self, namespace: str | None = None) -> list[Rollout]:
        rollouts = []
        for obj in self._reads.list(*ROLLOUTS, namespace):
            if not handled_by(obj["metadata"].get("labels") or {}, self._instance_id):
                continue
            try:
                rollouts.append(self._parse_rollout(obj))
            except ValueError as error:
                log.warning("skipping invalid Rollout", name=obj["metadata"]["name"], error=str(error))
        return rollouts

    def observe(self, rollout: Rollout) -> Observed:
        namespace, uid = namespace_of(rollout), rollout.metadata.uid
        owned = self._reads.owned(*REPLICA_SETS, namespace, uid or "")
        replica_sets = tuple(_replica_set_view(obj) for obj in owned)
        all_runs = self._reads.list(*ANALYSIS_RUNS, namespace)
        runs = _valid_runs(obj for obj in all_runs if owned_by(obj, uid))
        router = self._router_for(rollout)
        templates, invalid_templates = self._templates(rollout, cluster_scope=False)
        cluster_templates, invalid_cluster_templates = self._templates(rollout, cluster_scope=True)
        return Observed(
            replica_sets=replica_sets,
            analysis_runs=runs,
            templates=templates,
            cluster_templates=cluster_templates,
            invalid_templates=invalid_templates,
            invalid_cluster_templates=invalid_cluster_templates,
            service_selectors=self._service_selectors(rollout),
            router_weight=router.current_weight(rollout) if router else None,
            ready_endpoints=self._ready_endpoints(rollout),
            workload_template=self._workload_template(rollout),
            run_names=frozenset(obj["metadata"]["name"] for obj in all_runs),
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
                timestamp=parse_time(obj.get("lastTimestamp") or obj.get("eventTime"))
                or datetime.min.replace(tzinfo=UTC),
                count=int(obj.get("count") or 1),
            )
            for obj in events
        ]
        return sorted(recorded, key=lambda event: event.timestamp)

    def list_analysis_runs(self, namespace: str | None = None) -> list[AnalysisRun]:
        return list(_valid_runs(self._reads.list(*ANALYSIS_RUNS, namespace)))

    def get_analysis_run(self, namespace: str, name: str) -> AnalysisRun:
        obj = self._reads.get(*ANALYSIS_RUNS, namespace, name)
        if obj is None:
            raise NotFound(f"AnalysisRun {namespace}/{name} not found")
        return AnalysisRun.model_validate(_without_managed_fields(obj))

    def _templates(self, rollout: Rollout, *, cluster_scope: bool) -> tuple[dict[str, Any], dict[str, str]]:
        """The referenced templates that validate, and the problems of those that do not (the CRD
        schema cannot check everything, e.g. that a successCondition compiles): an invalid template
        is for the engine to report, never an exception that would stop an abort."""
        analyses = [analysis for _, analysis in referenced(rollout)]
        names = {
            ref.template_name for a in analyses for ref in a.templates if ref.cluster_scope == cluster_scope
        }
        model = ClusterAnalysisTemplate if cluster_scope else AnalysisTemplate
        kind = CLUSTER_ANALYSIS_TEMPLATES if cluster_scope else ANALYSIS_TEMPLATES
        found: dict[str, Any] = {}
        invalid: dict[str, str] = {}
        if cluster_scope and not self._cluster_templates:
            reason = (
                "this controller watches only its namespaces (--namespaced) and reads no cluster-scoped "
                f"objects: copy it into an AnalysisTemplate in namespace {namespace_of(rollout)}"
            )
            return {}, dict.fromkeys(names, reason)
        for name in sorted(names):
            obj = self._reads.get(*kind, None if cluster_scope else namespace_of(rollout), name)
            if obj is None:
                continue
            try:
                found[name] = model.model_validate(_without_managed_fields(obj))
            except ValidationError as error:
                invalid[name] = "; ".join(str(p) for p in problems_from_validation_error(error, model))
        return found, invalid

    def _service_selectors(self, rollout: Rollout) -> dict[str, act.PodHash | None]:
        selectors: dict[str, act.PodHash | None] = {}
        for name in rollout.spec.strategy.services().values():
            service = self._reads.get(*SERVICES, namespace_of(rollout), name)
            if service is not None:
                value = (service.get("spec", {}).get("selector") or {}).get(HASH_LABEL)
                selectors[name] = act.PodHash(value) if value else None
        return selectors

    def _ready_endpoints(self, rollout: Rollout) -> dict[str, dict[str, int]]:
        """The canary and stable Services of a routed canary strategy, each with its ready endpoints
        counted by the pod-template hash of the pod behind them (from its EndpointSlices, found by
        their owner the Service, and the pods they name)."""
        canary = rollout.spec.strategy.canary
        if not self._endpoints or canary is None or rollout.spec.strategy.traffic_routing is None:
            return {}
        namespace = namespace_of(rollout)
        found: dict[str, dict[str, int]] = {}
        for name in (canary.canary_service, canary.stable_service):
            service = self._reads.get(*SERVICES, namespace, name) if name else None
            if name and service is not None:
                found[name] = self._endpoints_by_hash(namespace, service["metadata"].get("uid") or "")
        return found

    def _endpoints_by_hash(self, namespace: str, service_uid: str) -> dict[str, int]:
        pods: set[str] = set()  # a dual-stack Service lists each pod in two slices
        for endpoint_slice in self._reads.owned(*ENDPOINT_SLICES, namespace, service_uid):
            for endpoint in endpoint_slice.get("endpoints") or []:
                ref = endpoint.get("targetRef") or {}
                # An unset ready condition means ready (the EndpointSlice API's rule).
                if ref.get("kind") == "Pod" and (endpoint.get("conditions") or {}).get("ready") is not False:
                    pods.add(str(ref.get("name", "")))
        counts: dict[str, int] = {}
        for name in pods:
            pod = self._reads.get(*PODS, namespace, name)
            pod_hash = ((pod or {}).get("metadata", {}).get("labels") or {}).get(HASH_LABEL)
            if pod_hash:
                counts[pod_hash] = counts.get(pod_hash, 0) + 1
        return counts

    def _workload_template(self, rollout: Rollout) -> dict[str, Any] | None:
        ref = rollout.spec.workload_ref
        if ref is None:
            return None
        deployment = self._reads.get(*DEPLOYMENTS, namespace_of(rollout), ref.name)
        return None if deployment is None else deployment.get("spec", {}).get("template")

    # writes -----------------------------------------------------------------------------------

    def adopt_orphans(self, rollout: Rollout) -> list[str]:
        # Only the orphans are read (an index of the informer cache): listing every ReplicaSet of
        # the namespace on every reconcile made a fleet's reconciles quadratic in its size.
        orphans = self._reads.orphans(*REPLICA_SETS, namespace_of(rollout))
        candidates = {obj["metadata"]["name"]: obj for obj in orphans}
        if not candidates:
            return []
        ref = rollout.spec.workload_ref
        deployment = self._reads.get(*DEPLOYMENTS, namespace_of(rollout), ref.name) if ref else None
        names = adoption.to_adopt(
            rollout,
            [_candidate(obj) for obj in candidates.values()],
            adoption.workload_selector_of(deployment),
        )
        for name in names:
            self._guard()
            self._writer.adopt(rollout, candidates[name])
        return names

    def apply(self, rollout: Rollout, actions: Sequence[act.Action]) -> None:
        for action in act.ordered(list(actions)):
            self._guard()
            self._writer.apply_one(rollout, action)

    def _guard(self) -> None:
        if not self._may_write():
            raise NotLeader("this replica lost the leader lease; it does not write")

    def patch_rollout(self, namespace: str, name: str, patch: Patch) -> Rollout:
        document = patch.document()
        if patch.resource_version is not None:
            document["metadata"] = {"resourceVersion": patch.resource_version}
        subresource = "status" if patch.target == "status" else None
        updated = self.api.patch(*ROLLOUTS, namespace, name, document, subresource=subresource)
        return Rollout.model_validate(_without_managed_fields(updated))

    def update_status(self, rollout: Rollout, status: RolloutStatus) -> Rollout:
        self._guard()
        namespace = namespace_of(rollout)
        body = {
            "metadata": {"resourceVersion": rollout.metadata.resource_version},
            "status": _replacing(rollout.status.to_wire(), status.to_wire()),
        }
        updated = self.api.patch(*ROLLOUTS, namespace, rollout.metadata.name, body, subresource="status")
        # Not parsed: a reconcile that reads this version parses it from the cache then, and most
        # versions we write are never decided on again (the controller skips the echo of its write).
        version = updated["metadata"]["resourceVersion"]
        stored = rollout.metadata.model_copy(update={"resource_version": version})
        return rollout.model_copy(update={"metadata": stored, "status": status})

    def report_invalid_spec(self, namespace: str, name: str, message: str) -> None:
        """Mark a Rollout whose spec does not parse as the engine marks one it rejects: phase
        Degraded, status message `InvalidSpec: <message>`, the InvalidSpec condition with `message`
        and, when that message is new, a Warning Event with it."""
        self._guard()
        obj = self._reads.get(*ROLLOUTS, namespace, name)
        if obj is None:
            return
        message, condition_message = f"InvalidSpec: {message}", message
        condition = {
            "type": "InvalidSpec",
            "status": "True",
            "reason": "InvalidSpec",
            "message": condition_message,
            "lastTransitionTime": stamp(self._clock()),
        }
        status = obj.get("status") or {}
        if status.get("phase") == "Degraded" and status.get("message") == message:
            return
        reported = any(
            c.get("type") == "InvalidSpec"
            and c.get("status") == "True"
            and c.get("message") == condition_message
            for c in status.get("conditions") or []
        )
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
        if not reported:
            involved = {
                "apiVersion": obj.get("apiVersion", GROUP_VERSION),
                "kind": obj.get("kind", "Rollout"),
                "name": name,
                "namespace": namespace,
                "uid": obj["metadata"].get("uid", ""),
            }
            event = act.EmitEvent("Warning", "InvalidSpec", condition_message)
            self.api.create(*EVENTS, namespace, event_object(involved, event, self._clock()))

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

    def delete_analysis_run(self, namespace: str, name: str) -> None:
        """Deletes a run whose ttlStrategy has run out (NotFound if it is already gone)."""
        self._guard()
        self.api.delete(*ANALYSIS_RUNS, namespace, name)

    # what the analysis providers need ---------------------------------------------------------

    def read_secret(self, namespace: str, name: str, key: str) -> str:
        """One key of a Secret; KeyError when it is missing, SecretUnavailableError (with the fix)
        when RBAC forbids reading it or it lacks the label `--secret-label` requires."""
        try:
            secret = self.api.get(*SECRETS, namespace, name)
        except ApiException as error:
            if error.status != 403:
                raise
            raise SecretUnavailableError(
                f"the controller may not read Secret {namespace}/{name} (RBAC): a namespaced install reads "
                "Secrets only in the namespaces it manages; a cluster-wide one only those named in the "
                "resourceNames of ClusterRole canary-controller-analysis-secrets-by-name "
                "(manifests/cluster-wide/rbac.yaml)"
            ) from None
        if secret is not None and self._secret_label is not None:
            label, value = self._secret_label
            if (secret["metadata"].get("labels") or {}).get(label) != value:
                raise SecretUnavailableError(
                    f"Secret {namespace}/{name} is not labelled {label}={value}, and this controller reads "
                    f"only Secrets with that label (--secret-label); label it: kubectl label secret -n "
                    f"{namespace} {name} {label}={value}"
                )
        if secret is None or key not in (secret.get("data") or {}):
            raise KeyError(f"Secret {namespace}/{name} has no key '{key}'")
        return base64.b64decode(secret["data"][key]).decode()

    def create_job(
        self, namespace: str, name: str, metadata: dict[str, Any], spec: dict[str, Any], *, owner_run: str
    ) -> None:
        self._guard()
        run = self._reads.get(*ANALYSIS_RUNS, namespace, owner_run)
        # Owned by its run, the Job is garbage-collected with the run's history, never left behind.
        owners = (
            []
            if run is None
            else [
                {
                    "apiVersion": GROUP_VERSION,
                    "kind": "AnalysisRun",
                    "name": owner_run,
                    "uid": run["metadata"]["uid"],
                    "controller": True,
                }
            ]
        )
        body = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {**metadata, "name": name, "ownerReferences": owners},
            "spec": spec,
        }
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


def _candidate(obj: Obj) -> adoption.Candidate:
    meta = obj["metadata"]
    return adoption.Candidate(
        name=meta["name"],
        namespace=meta.get("namespace", ""),
        labels=meta.get("labels") or {},
        controller=controller_uid(obj),
        deleting=meta.get("deletionTimestamp") is not None,
    )


def _replica_set_view(obj: Obj) -> ReplicaSetView:
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    annotations = meta.get("annotations") or {}
    return ReplicaSetView(
        name=meta["name"],
        pod_template_hash=act.PodHash((meta.get("labels") or {}).get(HASH_LABEL, "")),
        template=_template_as_written(annotations, spec),
        revision=int(annotations.get(REVISION_ANNOTATION) or 0),
        replicas=int(spec.get("replicas") or 0),
        ready=int(status.get("readyReplicas") or 0),
        available=int(status.get("availableReplicas") or 0),
        created_at=parse_time(meta.get("creationTimestamp")),
        scale_down_deadline=parse_time(annotations.get(SCALE_DOWN_DEADLINE_ANNOTATION)),
        restarted_at=parse_time(annotations.get(RESTARTED_AT_ANNOTATION)),
        annotations=dict(annotations),
        ephemeral_metadata=_ephemeral_metadata(annotations),
        **_replica_failure(status),
    )


def _replica_failure(status: Obj) -> dict[str, str]:
    """The ReplicaSet controller's ReplicaFailure condition (a quota or an admission webhook refused
    its pods), as ReplicaSetView's `failure` and `failure_reason`."""
    for condition in status.get("conditions") or []:
        if condition.get("type") == "ReplicaFailure" and condition.get("status") == "True":
            return {
                "failure": str(condition.get("message") or condition.get("reason") or "ReplicaFailure"),
                "failure_reason": str(condition.get("reason") or "FailedCreate"),
            }
    return {}


def _ephemeral_metadata(annotations: Mapping[str, str]) -> act.EphemeralMetadata | None:
    """What canary put on the ReplicaSet's pods; None while that write is not yet on every pod."""
    record = ephemeral_record(annotations.get(EPHEMERAL_METADATA_ANNOTATION))
    if "pending" in record:
        return None
    return act.EphemeralMetadata(dict(record.get("labels") or {}), dict(record.get("annotations") or {}))


def _valid_runs(objects: Iterable[Obj]) -> tuple[AnalysisRun, ...]:
    """The runs that parse. One malformed run (e.g. edited by hand) must not block its Rollout:
    an abort must still go through; a run the engine waits for and cannot read counts as Pending."""
    runs = []
    for obj in objects:
        try:
            runs.append(AnalysisRun.model_validate(_without_managed_fields(obj)))
        except ValueError as error:
            log.warning("skipping invalid AnalysisRun", name=obj["metadata"]["name"], error=str(error))
    return tuple(runs)


def _template_as_written(annotations: Mapping[str, str], spec: Obj) -> Obj:
    """The template the Rollout asked for, not the apiserver's defaulted copy (see kube_actions)."""
    written = annotations.get(POD_TEMPLATE_ANNOTATION)
    if written:
        try:
            template = json.loads(written)
        except json.JSONDecodeError:
            template = None
        if isinstance(template, dict):
            return template
    return dict(spec.get("template") or {})


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
