"""Making the engine's actions true through the Kubernetes API, writing only where the cluster differs.

- ReplicaSets are named `<rollout>-<hash>`, owned by their Rollout (ownerReference, controller:
  true), labelled and selected by the pod-template hash; scaling patches only `spec.replicas`. An
  adopted ReplicaSet (`canary.engine.adoption`) keeps its name and is found by its hash label.
- Service selectors get the hash added; nothing else of the Service is touched.
- AnalysisRuns are created once (never overwritten) and stopped through `spec.terminate`.
- `SetTrafficWeight` goes to the Rollout's traffic router; every `EmitEvent` becomes a core/v1 Event.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from canary.api.analysis import AnalysisRun
from canary.api.rollout import Rollout
from canary.cluster.kube_api import (
    ANALYSIS_RUNS,
    DEPLOYMENTS,
    EVENTS,
    PODS,
    REPLICA_SETS,
    SERVICES,
    KubeApi,
    Obj,
)
from canary.cluster.port import Conflict, NotFound
from canary.engine import actions as act
from canary.engine import hashing
from canary.engine.adoption import workload_selector_of
from canary.engine.hashing import HASH_LABEL

REVISION_ANNOTATION = "canary.dev/revision"
SCALE_DOWN_DEADLINE_ANNOTATION = "canary.dev/scale-down-deadline"
RESTARTED_AT_ANNOTATION = "canary.dev/restarted-at"
POD_TEMPLATE_ANNOTATION = "canary.dev/pod-template"
"""The pod template exactly as the Rollout wrote it: the apiserver fills defaults into the
ReplicaSet's own copy, which would hash to another revision (and break `undo`)."""
EPHEMERAL_METADATA_ANNOTATION = "canary.dev/ephemeral-metadata"
"""On a ReplicaSet: the labels and annotations `SetEphemeralMetadata` put on its pod template and
pods, as JSON `{"labels": {...}, "annotations": {...}}`, so that keys no longer wanted are removed
(and only those: other controllers' metadata is left alone). While pods are still being updated it
also holds `"pending": {"labels": [...], "annotations": [...]}`, the keys that may still be on
some pod; a write interrupted then is made again."""
INSTANCE_ID_LABEL = "canary.dev/controller-instance-id"
COMPONENT = "canary-controller"


class Reads(Protocol):
    def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> Obj | None: ...

    def orphans(self, api_version: str, plural: str, namespace: str | None) -> list[Obj]:
        """The objects `list` returns that have no controller owner (`controller_uid` None). A cache
        answers from an index, so adoption does not read every ReplicaSet on every reconcile."""
        ...

    def owned(self, api_version: str, plural: str, namespace: str | None, uid: str) -> list[Obj]:
        """The objects `list` returns with an owner reference to `uid` (`owned_by`); a cache answers
        from an index, so a reconcile does not read every ReplicaSet of the namespace."""
        ...

    def list(self, api_version: str, plural: str, namespace: str | None) -> list[Obj]: ...


class ApiReads:
    """Reads straight from the apiserver (the CLI, tests, and controllers without informers)."""

    def __init__(self, api: KubeApi) -> None:
        self._api = api

    def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> Obj | None:
        return self._api.get(api_version, plural, namespace, name)

    def orphans(self, api_version: str, plural: str, namespace: str | None) -> list[Obj]:
        return [obj for obj in self.list(api_version, plural, namespace) if controller_uid(obj) is None]

    def owned(self, api_version: str, plural: str, namespace: str | None, uid: str) -> list[Obj]:
        return [obj for obj in self.list(api_version, plural, namespace) if owned_by(obj, uid)]

    def list(self, api_version: str, plural: str, namespace: str | None) -> list[Obj]:
        return self._api.list(api_version, plural, namespace).items


class Router(Protocol):
    """`canary.traffic.base.TrafficRouter`, restated here because cluster may not import traffic."""

    def set_weight(self, rollout: Rollout, weight: int, *, canary_hash: str, stable_hash: str) -> None: ...

    def current_weight(self, rollout: Rollout) -> int | None: ...


RouterFor = Callable[[Rollout], Router | None]


def namespace_of(rollout: Rollout) -> str:
    return rollout.metadata.namespace or "default"


def controller_uid(obj: Obj) -> str | None:
    """The uid of the object's controller owner (its ownerReference with `controller: true`); None
    for an orphan."""
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return next((ref.get("uid") for ref in refs if ref.get("controller")), None)


def owned_by(obj: Obj, uid: str | None) -> bool:
    return any(ref.get("uid") == uid for ref in obj.get("metadata", {}).get("ownerReferences") or [])


def owner_uids(obj: Obj) -> set[str]:
    """The uids of all the object's owners (controller or not)."""
    return {ref["uid"] for ref in obj.get("metadata", {}).get("ownerReferences") or [] if ref.get("uid")}


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _available(pod: Obj, now: datetime, min_ready: timedelta) -> bool:
    """Not terminating, and Ready for at least `min_ready` (the ReplicaSet controller's rule)."""
    if pod["metadata"].get("deletionTimestamp"):
        return False
    ready = next(
        (c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), None
    )
    if ready is None or ready.get("status") != "True":
        return False
    since = parse_time(ready.get("lastTransitionTime"))
    return since is None or since + min_ready <= now


def stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def replica_set_name(rollout: Rollout, pod_hash: str) -> str:
    return hashing.replica_set_name(rollout.metadata.name, pod_hash)


def ephemeral_record(value: str | None) -> dict[str, Any]:
    """The parsed `EPHEMERAL_METADATA_ANNOTATION` ({} when absent or unreadable)."""
    try:
        record = json.loads(value) if value else {}
    except json.JSONDecodeError:
        return {"pending": {}}
    return record if isinstance(record, dict) else {"pending": {}}


def _written_metadata(annotations: Mapping[str, str]) -> Mapping[str, Any]:
    """The pod template metadata the Rollout wrote (`POD_TEMPLATE_ANNOTATION`), {} if unknown."""
    try:
        template = json.loads(annotations.get(POD_TEMPLATE_ANNOTATION) or "{}")
    except json.JSONDecodeError:
        return {}
    metadata = template.get("metadata") if isinstance(template, dict) else None
    return metadata if isinstance(metadata, dict) else {}


def _differing(
    metadata: Mapping[str, Any], changes: Mapping[str, Mapping[str, str | None]]
) -> dict[str, Any]:
    """The merge patch of `metadata` that makes the `changes` true; {} when they already are."""
    patch: dict[str, Any] = {}
    for kind, wanted in changes.items():
        present = metadata.get(kind) or {}
        differs = {key: value for key, value in wanted.items() if present.get(key) != value}
        if differs:
            patch[kind] = differs
    return patch


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class ActionWriter:
    def __init__(
        self, api: KubeApi, reads: Reads, router_for: RouterFor, clock: Callable[[], datetime]
    ) -> None:
        self._api = api
        self._reads = reads
        self._router_for = router_for
        self._clock = clock

    def apply_one(self, rollout: Rollout, action: act.Action) -> None:
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
                value = stamp(deadline) if deadline else None
                self._patch_replica_set(
                    rollout,
                    pod_hash,
                    lambda rs: (
                        (rs["metadata"].get("annotations") or {}).get(SCALE_DOWN_DEADLINE_ANNOTATION) != value
                    ),
                    {"metadata": {"annotations": {SCALE_DOWN_DEADLINE_ANNOTATION: value}}},
                )
            case act.DeleteReplicaSet(pod_template_hash=pod_hash):
                current = self._replica_set(rollout, pod_hash)
                if current is not None:
                    self._api.delete(*REPLICA_SETS, namespace_of(rollout), current["metadata"]["name"])
            case act.RestartPods():
                self._restart_pods(rollout, action)
            case act.SetEphemeralMetadata():
                self._set_ephemeral_metadata(rollout, action)
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
                self._api.delete(*ANALYSIS_RUNS, namespace_of(rollout), name)
            case act.RunHook():
                pass  # made by the hook runner, off the reconcile path (canary.controller.hooks)
            case act.EmitEvent():
                self._emit(rollout, action)

    def _create_replica_set(self, rollout: Rollout, action: act.CreateReplicaSet) -> None:
        namespace = namespace_of(rollout)
        template = copy.deepcopy(dict(action.template))
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = action.pod_template_hash
        selector = self._selector(rollout, template)
        selector.setdefault("matchLabels", {})[HASH_LABEL] = action.pod_template_hash
        body = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": replica_set_name(rollout, action.pod_template_hash),
                "namespace": namespace,
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {
                    REVISION_ANNOTATION: str(action.revision),
                    POD_TEMPLATE_ANNOTATION: json.dumps(
                        action.template, sort_keys=True, separators=(",", ":")
                    ),
                },
                "ownerReferences": [rollout.owner_reference()],
            },
            "spec": {
                "replicas": action.replicas,
                "minReadySeconds": rollout.spec.min_ready_seconds,
                "selector": selector,
                "template": template,
            },
        }
        try:
            self._api.create(*REPLICA_SETS, namespace, body)
        except Conflict:  # AlreadyExists: created by an earlier reconcile whose status write was lost
            return

    def _selector(self, rollout: Rollout, template: Obj) -> Obj:
        ref = rollout.spec.workload_ref
        deployment = self._reads.get(*DEPLOYMENTS, namespace_of(rollout), ref.name) if ref else None
        # The same selector adoption matches orphans with, so what is built is what is adopted.
        selector = rollout.spec.selector or workload_selector_of(deployment)
        if selector is not None:
            return selector.to_wire()
        labels = {k: v for k, v in template["metadata"]["labels"].items() if k != HASH_LABEL}
        return {"matchLabels": labels}

    def adopt(self, rollout: Rollout, replica_set: Obj) -> None:
        """Add the Rollout as controller owner, unless the ReplicaSet changed since it was read (then
        the next reconcile decides again on what it is now)."""
        meta = replica_set["metadata"]
        patch = {
            "metadata": {
                "resourceVersion": meta["resourceVersion"],
                "ownerReferences": [*(meta.get("ownerReferences") or []), rollout.owner_reference()],
            }
        }
        try:
            self._api.patch(*REPLICA_SETS, namespace_of(rollout), meta["name"], patch)
        except (Conflict, NotFound):
            return

    def _replica_set(self, rollout: Rollout, pod_hash: str) -> Obj | None:
        """The Rollout's ReplicaSet of `pod_hash`: the one canary named, else one it adopted."""
        namespace, uid = namespace_of(rollout), rollout.metadata.uid
        named = self._reads.get(*REPLICA_SETS, namespace, replica_set_name(rollout, pod_hash))
        if named is not None and owned_by(named, uid):
            return named
        return next(
            (
                rs
                for rs in self._reads.owned(*REPLICA_SETS, namespace, uid or "")
                if (rs["metadata"].get("labels") or {}).get(HASH_LABEL) == pod_hash
            ),
            None,
        )

    def _patch_replica_set(
        self, rollout: Rollout, pod_hash: str, differs: Callable[[Obj], bool], patch: Obj
    ) -> None:
        current = self._replica_set(rollout, pod_hash)
        if current is None:
            raise NotFound(
                f"ReplicaSet of revision {pod_hash} of Rollout {rollout.metadata.name} not found (will be re-created)"
            )
        if differs(current):
            self._api.patch(*REPLICA_SETS, namespace_of(rollout), current["metadata"]["name"], patch)

    def _restart_pods(self, rollout: Rollout, action: act.RestartPods) -> None:
        """Delete one pod started before `restart_at`; mark the ReplicaSet when none is left.

        The engine paces restarts on the ReplicaSet's counts, which lag the pods: a deleted pod
        can be gone (kwok, a fast kubelet) before the ReplicaSet's status drops. So the pods
        themselves decide too: nothing goes unless every pod the ReplicaSet asks for exists,
        is not terminating and has been Ready for minReadySeconds."""
        namespace = namespace_of(rollout)
        revision = [
            pod
            for pod in self._reads.list(*PODS, namespace)
            if (pod["metadata"].get("labels") or {}).get(HASH_LABEL) == action.pod_template_hash
        ]
        current = self._replica_set(rollout, action.pod_template_hash)
        wanted = int((current or {}).get("spec", {}).get("replicas") or 0)
        min_ready = timedelta(seconds=rollout.spec.min_ready_seconds)
        serving = [pod for pod in revision if _available(pod, self._clock(), min_ready)]
        if len(serving) < wanted or len(serving) < len(revision):
            return
        pods = [
            pod
            for pod in revision
            if (parse_time(pod["metadata"].get("creationTimestamp")) or action.restart_at) < action.restart_at
        ]
        if pods:
            self._api.delete(*PODS, namespace, pods[0]["metadata"]["name"])
            return
        # Kept to the microsecond, as spec.restartAt is: a value cut to the second would read as
        # earlier than the restart and the ReplicaSet would never count as restarted.
        restarted = action.restart_at.astimezone(UTC).isoformat()
        self._patch_replica_set(
            rollout,
            action.pod_template_hash,
            lambda rs: (rs["metadata"].get("annotations") or {}).get(RESTARTED_AT_ANNOTATION) != restarted,
            {"metadata": {"annotations": {RESTARTED_AT_ANNOTATION: restarted}}},
        )

    def _set_ephemeral_metadata(self, rollout: Rollout, action: act.SetEphemeralMetadata) -> None:
        """The pod template first (pods started from now on get the metadata), then every pod of
        the ReplicaSet in place, then the record without `pending`. A key no longer wanted is
        removed, or set back to the value the Rollout's own template gives it."""
        namespace = namespace_of(rollout)
        # Created in this very decision, it may not be in the read cache yet: ask the apiserver.
        current = self._replica_set(rollout, action.pod_template_hash) or self._api.get(
            *REPLICA_SETS, namespace, replica_set_name(rollout, action.pod_template_hash)
        )
        if current is None or not owned_by(current, rollout.metadata.uid):
            raise NotFound(
                f"ReplicaSet of revision {action.pod_template_hash} of Rollout {rollout.metadata.name} "
                "not found (will be re-created)"
            )
        name, annotations = current["metadata"]["name"], current["metadata"].get("annotations") or {}
        record = ephemeral_record(annotations.get(EPHEMERAL_METADATA_ANNOTATION))
        written = _written_metadata(annotations)
        wanted = {"labels": dict(action.metadata.labels), "annotations": dict(action.metadata.annotations)}
        changes: dict[str, dict[str, str | None]] = {}
        pending: dict[str, list[str]] = {}
        for kind, keys in wanted.items():
            previous = set(record.get(kind) or {}) | set((record.get("pending") or {}).get(kind) or [])
            leaving = previous - keys.keys() - {HASH_LABEL}
            changes[kind] = {**keys, **{key: (written.get(kind) or {}).get(key) for key in leaving}}
            pending[kind] = sorted(leaving)
        final = _json(wanted) if any(wanted.values()) else None
        settled = annotations.get(EPHEMERAL_METADATA_ANNOTATION) == final
        template_patch = _differing(
            (current.get("spec") or {}).get("template", {}).get("metadata") or {}, changes
        )
        generation = 0
        if template_patch or not settled:
            body = {
                "metadata": {
                    "annotations": {EPHEMERAL_METADATA_ANNOTATION: _json({**wanted, "pending": pending})}
                },
                "spec": {"template": {"metadata": template_patch}},
            }
            generation = int(
                self._api.patch(*REPLICA_SETS, namespace, name, body)["metadata"].get("generation") or 0
            )
        uid = current["metadata"].get("uid")
        for pod in self._api.list(*PODS, namespace, {HASH_LABEL: action.pod_template_hash}).items:
            patch = _differing(pod["metadata"], changes)
            if patch and owned_by(pod, uid) and not pod["metadata"].get("deletionTimestamp"):
                try:
                    self._api.patch(*PODS, namespace, pod["metadata"]["name"], {"metadata": patch})
                except NotFound:
                    continue  # gone meanwhile: its replacement starts from the patched template
        if template_patch or not settled:
            # A pod the ReplicaSet controller started from the old template after the pods were
            # listed would be missed: the record stays pending until it has seen the new template.
            seen = self._api.get(*REPLICA_SETS, namespace, name) or {}
            if int((seen.get("status") or {}).get("observedGeneration") or 0) < generation:
                return
            body = {"metadata": {"annotations": {EPHEMERAL_METADATA_ANNOTATION: final}}}
            self._api.patch(*REPLICA_SETS, namespace, name, body)

    def _set_selector(self, rollout: Rollout, service: str, pod_hash: str) -> None:
        namespace = namespace_of(rollout)
        current = self._reads.get(*SERVICES, namespace, service)
        if current is None:
            raise NotFound(f"Service {namespace}/{service} not found")
        if (current.get("spec", {}).get("selector") or {}).get(HASH_LABEL) != pod_hash:
            self._api.patch(*SERVICES, namespace, service, {"spec": {"selector": {HASH_LABEL: pod_hash}}})

    def _create_analysis_run(self, rollout: Rollout, run: AnalysisRun) -> None:
        namespace = namespace_of(rollout)
        body = run.to_wire()
        metadata = body.setdefault("metadata", {})
        metadata["namespace"] = namespace
        if not owned_by(body, rollout.metadata.uid):
            metadata["ownerReferences"] = [
                *(metadata.get("ownerReferences") or []),
                rollout.owner_reference(),
            ]
        body.pop("status", None)
        try:
            self._api.create(*ANALYSIS_RUNS, namespace, body)
        except Conflict:  # already exists: never overwritten
            return

    def _terminate_analysis_run(self, rollout: Rollout, name: str) -> None:
        namespace = namespace_of(rollout)
        current = self._reads.get(*ANALYSIS_RUNS, namespace, name)
        if current is not None and not current.get("spec", {}).get("terminate"):
            self._api.patch(*ANALYSIS_RUNS, namespace, name, {"spec": {"terminate": True}})

    def _emit(self, rollout: Rollout, event: act.EmitEvent) -> None:
        namespace = namespace_of(rollout)
        involved = {
            "apiVersion": rollout.api_version,
            "kind": rollout.kind,
            "name": rollout.metadata.name,
            "namespace": namespace,
            "uid": rollout.metadata.uid or "",
        }
        self._api.create(*EVENTS, namespace, event_object(involved, event, self._clock()))


def event_object(involved: Mapping[str, str], event: act.EmitEvent, now: datetime) -> Obj:
    """The core/v1 Event recording `event` about the object `involved` (its involvedObject)."""
    when = stamp(now)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{involved['name']}.{uuid.uuid4().hex[:16]}",
            "namespace": involved["namespace"],
        },
        "involvedObject": dict(involved),
        "type": event.type,
        "reason": event.reason,
        "message": event.message,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": COMPONENT,
        "firstTimestamp": when,
        "lastTimestamp": when,
        "count": 1,
    }
