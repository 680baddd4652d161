"""What the engine reads from the cluster besides the Rollout itself: a frozen snapshot.

The shell (`ClusterPort.observe`) builds it; the engine never asks the cluster anything else, so a
decision depends on exactly these values and `now`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from canary.api.analysis import AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate
from canary.engine.actions import EphemeralMetadata, PodHash


@dataclass(frozen=True)
class ReplicaSetView:
    """One ReplicaSet owned by the Rollout.

    `replicas` is the spec (what was asked), `ready`/`available` what the pods report;
    `scale_down_deadline` is the deadline set by `SetScaleDownDeadline`, `restarted_at` the last
    `RestartPods` it completed, `ephemeral_metadata` what `SetEphemeralMetadata` put on its pods
    (None: a write that did not reach every pod yet, to be made again); `failure` is why pods
    cannot be made or removed (the ReplicaSet's ReplicaFailure condition: a quota, an admission
    webhook, ...), `failure_reason` that condition's reason (FailedCreate, FailedDelete).
    """

    name: str
    pod_template_hash: PodHash
    template: Mapping[str, Any]
    revision: int
    replicas: int
    ready: int = 0
    available: int = 0
    created_at: datetime | None = None
    scale_down_deadline: datetime | None = None
    restarted_at: datetime | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    ephemeral_metadata: EphemeralMetadata | None = field(default_factory=EphemeralMetadata)
    failure: str | None = None
    failure_reason: str = "FailedCreate"


@dataclass(frozen=True)
class HookResult:
    """How one webhook call ended (`RunHook`'s key), as the hook runner reports it: 2xx (a Job:
    completed) or not, with what it said."""

    succeeded: bool
    message: str
    finished_at: datetime


@dataclass(frozen=True)
class Observed:
    """The cluster as seen for one Rollout.

    - `replica_sets`: the ReplicaSets it owns, any order.
    - `analysis_runs`: the AnalysisRuns it owns.
    - `templates` / `cluster_templates`: the AnalysisTemplates (same namespace) and
      ClusterAnalysisTemplates its steps and background analysis reference, by name; a reference
      missing here is reported as InvalidSpec.
    - `invalid_templates` / `invalid_cluster_templates`: referenced templates that exist but do not
      validate (say, a successCondition edited into CEL that does not compile), by name, each with
      its problems (`spec.metrics[0].successCondition: ...`); reported as InvalidSpec, so that the
      shell never raises on them and an abort still takes effect.
    - `service_selectors`: every Service the strategy names, mapped to the pod-template hash its
      selector pins (None when it pins none); a named Service missing here is InvalidSpec.
    - `router_weight`: the canary weight the traffic router reports, None without a router.
    - `ready_endpoints`: for a strategy with a traffic router, its canary and stable Services, each
      mapped to its ready endpoints (the EndpointSlices a proxy routes by) counted by pod-template
      hash. They follow the pods' readiness through another controller than the ReplicaSets' status,
      so they may lag it; a Service missing here was not observed (its pods' availability stands in).
    - `workload_template`: the pod template of `spec.workloadRef`'s Deployment, if one is used.
    - `hook_results`: the webhook calls answered so far, by `RunHook.key` (`canary.engine.hooks`).
    - `run_names`: the names of every AnalysisRun in the namespace, whoever owns it (say, a run
      orphaned with a deleted Rollout of the same name), so a new run's name is not already taken.
    """

    replica_sets: tuple[ReplicaSetView, ...] = ()
    analysis_runs: tuple[AnalysisRun, ...] = ()
    templates: Mapping[str, AnalysisTemplate] = field(default_factory=dict)
    cluster_templates: Mapping[str, ClusterAnalysisTemplate] = field(default_factory=dict)
    invalid_templates: Mapping[str, str] = field(default_factory=dict)
    invalid_cluster_templates: Mapping[str, str] = field(default_factory=dict)
    service_selectors: Mapping[str, PodHash | None] = field(default_factory=dict)
    router_weight: int | None = None
    ready_endpoints: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    workload_template: Mapping[str, Any] | None = None
    run_names: frozenset[str] = frozenset()
    hook_results: Mapping[str, HookResult] = field(default_factory=dict)

    _by_hash: Mapping[str, ReplicaSetView] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A decision looks ReplicaSets up by hash a dozen times; the first of each hash, as a scan finds.
        by_hash: dict[str, ReplicaSetView] = {}
        for rs in self.replica_sets:
            by_hash.setdefault(rs.pod_template_hash, rs)
        object.__setattr__(self, "_by_hash", by_hash)

    def replica_set(self, pod_hash: PodHash | str | None) -> ReplicaSetView | None:
        return self._by_hash.get(pod_hash) if pod_hash is not None else None

    def analysis_run(self, name: str | None) -> AnalysisRun | None:
        return next((run for run in self.analysis_runs if run.metadata.name == name), None)
