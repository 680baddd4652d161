"""The Rollout custom resource (spec written by people and GitOps tools, status by the controller alone).

Field names, defaults and step semantics follow Argo Rollouts so a spec ports by changing
`apiVersion` to `canary.dev/v1alpha1`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from canary.api.base import (
    Condition,
    CRDModel,
    Duration,
    IntOrPercent,
    LabelSelector,
    ObjectMeta,
)
from canary.api.hooks import HookStatus, Webhook, check_webhooks

DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS = 30


class PodTemplateHashValue(StrEnum):
    STABLE = "Stable"
    LATEST = "Latest"


class FieldRef(CRDModel):
    field_path: str


class ArgumentValueFrom(CRDModel):
    pod_template_hash_value: PodTemplateHashValue | None = None
    field_ref: FieldRef | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ArgumentValueFrom:
        if (self.pod_template_hash_value is None) == (self.field_ref is None):
            raise ValueError("set exactly one of podTemplateHashValue or fieldRef")
        return self


class AnalysisRunArgument(CRDModel):
    """An argument a Rollout passes to its templates: a literal or a value taken from the Rollout."""

    name: str = Field(min_length=1)
    value: str | None = None
    value_from: ArgumentValueFrom | None = None

    @model_validator(mode="after")
    def _value_or_value_from(self) -> AnalysisRunArgument:
        if self.value is not None and self.value_from is not None:
            raise ValueError(f"argument '{self.name}': set value or valueFrom, not both")
        return self


class AnalysisTemplateRef(CRDModel):
    template_name: str = Field(min_length=1)
    cluster_scope: bool = False


class DryRunMetric(CRDModel):
    metric_name: str = Field(min_length=1)


class RolloutAnalysis(CRDModel):
    """Templates to run as one AnalysisRun, as a step or in the background."""

    templates: list[AnalysisTemplateRef] = Field(min_length=1)
    args: list[AnalysisRunArgument] = Field(default_factory=list)
    dry_run: list[DryRunMetric] = Field(default_factory=list)


class RolloutAnalysisBackground(RolloutAnalysis):
    starting_step: int | None = Field(default=None, ge=0)


class PauseStep(CRDModel):
    """`pause: {}` waits for a promote; `pause: {duration: 30s}` resumes by itself."""

    duration: Duration | None = None


class SetCanaryScale(CRDModel):
    weight: int | None = Field(default=None, ge=0, le=100)
    replicas: int | None = Field(default=None, ge=0)
    match_traffic_weight: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> SetCanaryScale:
        chosen = [self.weight is not None, self.replicas is not None, self.match_traffic_weight]
        if sum(chosen) != 1:
            raise ValueError("set exactly one of weight, replicas or matchTrafficWeight: true")
        return self


class CanaryStep(CRDModel):
    """One step; exactly one field is set."""

    # In units of trafficRouting.maxTrafficWeight (percent without a router), so the upper bound is
    # checked by CanaryStrategy, which holds the trafficRouting.
    set_weight: int | None = Field(default=None, ge=0, strict=True)
    pause: PauseStep | None = None
    analysis: RolloutAnalysis | None = None
    set_canary_scale: SetCanaryScale | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> CanaryStep:
        chosen = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(chosen) != 1:
            raise ValueError(
                "a step sets exactly one of setWeight, pause, analysis, setCanaryScale"
                + (f" (this one sets {len(chosen)})" if chosen else " (this one is empty)")
            )
        return self


class SMITrafficRouting(CRDModel):
    root_service: str | None = None
    traffic_split_name: str | None = None


class IstioVirtualService(CRDModel):
    name: str = Field(min_length=1)
    routes: list[str] = Field(default_factory=list)


class IstioDestinationRule(CRDModel):
    name: str = Field(min_length=1)
    canary_subset_name: str = Field(min_length=1)
    stable_subset_name: str = Field(min_length=1)


class IstioTrafficRouting(CRDModel):
    virtual_service: IstioVirtualService
    destination_rule: IstioDestinationRule | None = None


class NginxTrafficRouting(CRDModel):
    stable_ingress: str = Field(min_length=1)
    annotation_prefix: str = "nginx.ingress.kubernetes.io"


class GatewayAPITrafficRouting(CRDModel):
    http_route: str = Field(min_length=1)
    namespace: str | None = None


class TraefikTrafficRouting(CRDModel):
    weighted_traefik_service_name: str = Field(min_length=1)


class TrafficRouting(CRDModel):
    smi: SMITrafficRouting | None = None
    istio: IstioTrafficRouting | None = None
    nginx: NginxTrafficRouting | None = None
    gateway_api: GatewayAPITrafficRouting | None = Field(default=None, alias="gatewayAPI")
    traefik: TraefikTrafficRouting | None = None
    max_traffic_weight: int = Field(default=100, ge=1)

    @model_validator(mode="after")
    def _one_router(self) -> TrafficRouting:
        routers = [
            r for r in (self.smi, self.istio, self.nginx, self.gateway_api, self.traefik) if r is not None
        ]
        if len(routers) != 1:
            raise ValueError("configure exactly one router: smi, istio, nginx, gatewayAPI or traefik")
        return self


class PodMetadata(CRDModel):
    """Labels and annotations on a revision's pods only while it has this role (ephemeral metadata)."""

    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _not_the_hash_label(self) -> PodMetadata:
        if "rollouts-pod-template-hash" in self.labels:
            raise ValueError(
                "labels: rollouts-pod-template-hash is set by the controller and selects the pods; remove it"
            )
        return self


class CanaryStrategy(CRDModel):
    steps: list[CanaryStep] = Field(default_factory=list)
    canary_service: str | None = None
    stable_service: str | None = None
    max_surge: IntOrPercent = "25%"
    max_unavailable: IntOrPercent = "25%"
    traffic_routing: TrafficRouting | None = None
    analysis: RolloutAnalysisBackground | None = None
    canary_metadata: PodMetadata | None = None
    stable_metadata: PodMetadata | None = None
    scale_down_delay_seconds: int = Field(default=30, ge=0)
    scale_down_delay_revision_limit: int | None = Field(default=None, ge=0)
    abort_scale_down_delay_seconds: int | None = Field(default=None, ge=0)
    """Unset: 30 s, except with dynamicStableScale, where the canary follows its traffic back down."""
    dynamic_stable_scale: bool = False
    min_pods_per_replica_set: int | None = Field(default=None, ge=1)
    webhooks: list[Webhook] = Field(default_factory=list)
    """Flagger's release hooks, an extension of Argo's canary strategy (`canary.api.hooks`)."""

    @model_validator(mode="after")
    def _webhooks(self) -> CanaryStrategy:
        check_webhooks(self.webhooks, with_steps=True)
        return self

    @model_validator(mode="after")
    def _consistent(self) -> CanaryStrategy:
        if self.max_surge in (0, "0%") and self.max_unavailable in (0, "0%"):
            raise ValueError("maxSurge and maxUnavailable cannot both be 0: the rollout could never progress")
        if self.canary_service and self.canary_service == self.stable_service:
            raise ValueError(
                f"canaryService and stableService are both '{self.canary_service}'; they must name different Services"
            )
        if self.traffic_routing is not None and not (self.canary_service and self.stable_service):
            raise ValueError("trafficRouting needs both canaryService and stableService")
        return self

    @property
    def max_weight(self) -> int:
        """What every weight is out of: trafficRouting.maxTrafficWeight, or 100 (percent) without a router."""
        return self.traffic_routing.max_traffic_weight if self.traffic_routing else 100

    @model_validator(mode="after")
    def _weights_within_max(self) -> CanaryStrategy:
        bound = (
            f"trafficRouting.maxTrafficWeight {self.max_weight}"
            if self.traffic_routing
            else "100: without trafficRouting a weight is a percentage of the pods"
        )
        for index, step in enumerate(self.steps):
            if step.set_weight is not None and step.set_weight > self.max_weight:
                raise ValueError(f"steps[{index}].setWeight {step.set_weight} exceeds {bound}")
        return self


class PreferredAntiAffinity(CRDModel):
    weight: int = Field(ge=1, le=100)


class RequiredAntiAffinity(CRDModel):
    pass


class AntiAffinity(CRDModel):
    """Keep the new revision's pods off the nodes that run the stable revision's pods (Argo's
    injected podAntiAffinity on `rollouts-pod-template-hash`, topology `kubernetes.io/hostname`)."""

    preferred_during_scheduling_ignored_during_execution: PreferredAntiAffinity | None = None
    required_during_scheduling_ignored_during_execution: RequiredAntiAffinity | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> AntiAffinity:
        chosen = [
            self.preferred_during_scheduling_ignored_during_execution,
            self.required_during_scheduling_ignored_during_execution,
        ]
        if sum(rule is not None for rule in chosen) != 1:
            raise ValueError(
                "set exactly one of preferredDuringSchedulingIgnoredDuringExecution: {weight: 1-100} "
                "or requiredDuringSchedulingIgnoredDuringExecution: {}"
            )
        return self


class BlueGreenStrategy(CRDModel):
    """The new revision comes up next to the active one (previewService selects it), and the
    activeService is switched to it once it is fully available (and analysed, and promoted)."""

    active_service: str = Field(min_length=1)
    preview_service: str | None = None
    preview_replica_count: int | None = Field(default=None, ge=0)
    auto_promotion_enabled: bool = True
    auto_promotion_seconds: int = Field(default=0, ge=0)
    max_unavailable: IntOrPercent = "25%"
    scale_down_delay_seconds: int = Field(default=30, ge=0)
    scale_down_delay_revision_limit: int | None = Field(default=None, ge=0)
    abort_scale_down_delay_seconds: int = Field(default=30, ge=0)
    pre_promotion_analysis: RolloutAnalysis | None = None
    post_promotion_analysis: RolloutAnalysis | None = None
    anti_affinity: AntiAffinity | None = None
    preview_metadata: PodMetadata | None = None
    active_metadata: PodMetadata | None = None
    webhooks: list[Webhook] = Field(default_factory=list)
    """Flagger's release hooks, as on the canary strategy (`canary.api.hooks`); no `rollout` hooks."""

    @model_validator(mode="after")
    def _webhooks(self) -> BlueGreenStrategy:
        check_webhooks(self.webhooks, with_steps=False)
        return self

    @model_validator(mode="after")
    def _services_differ(self) -> BlueGreenStrategy:
        if self.preview_service and self.preview_service == self.active_service:
            raise ValueError(
                f"activeService and previewService are both '{self.active_service}'; "
                "they must name different Services (or leave previewService out)"
            )
        return self


# How a new revision replaces the stable one: exactly one of canary or blueGreen. The properties are
# what every strategy has in common (the strategy's own value, or the default for a strategy without
# the field), so code that serves every strategy never reads one strategy's fields directly.
class Strategy(CRDModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.canary) != has(self.blueGreen)",
                    "message": "set exactly one of canary or blueGreen",
                }
            ]
        }
    )

    canary: CanaryStrategy | None = None
    blue_green: BlueGreenStrategy | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Strategy:
        if self.canary is None and self.blue_green is None:
            raise ValueError(
                "set exactly one of canary or blueGreen (this one sets neither); "
                "add canary: {steps: [...]} or blueGreen: {activeService: <Service>}"
            )
        if self.canary is not None and self.blue_green is not None:
            raise ValueError(
                "set exactly one of canary or blueGreen (this one sets both); remove the one you do not use"
            )
        return self

    @property
    def kind(self) -> Literal["canary", "blueGreen"]:
        return "canary" if self.canary is not None else "blueGreen"

    @property
    def traffic_routing(self) -> TrafficRouting | None:
        """The canary's router; None without one (and for blue-green, which switches Services)."""
        return self.canary.traffic_routing if self.canary is not None else None

    @property
    def max_weight(self) -> int:
        return self.canary.max_weight if self.canary is not None else 100

    @property
    def max_surge(self) -> IntOrPercent:
        # Argo's default for a strategy without maxSurge (blue-green restarts within it).
        return self.canary.max_surge if self.canary is not None else "25%"

    @property
    def max_unavailable(self) -> IntOrPercent:
        return self._chosen.max_unavailable

    @property
    def scale_down_delay_seconds(self) -> int:
        return self._chosen.scale_down_delay_seconds

    @property
    def scale_down_delay_revision_limit(self) -> int | None:
        return self._chosen.scale_down_delay_revision_limit

    @property
    def abort_scale_down_delay_seconds(self) -> int | None:
        """None: the aborted canary goes as its traffic does (dynamicStableScale, no delay set)."""
        chosen = self._chosen.abort_scale_down_delay_seconds
        if chosen is not None:
            return chosen
        dynamic = self.canary is not None and self.canary.dynamic_stable_scale
        return None if dynamic else DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS

    @property
    def serving_service(self) -> str | None:
        """The Service that sends production traffic to the stable revision (canary: stableService,
        blue-green: activeService)."""
        if self.canary is not None:
            return self.canary.stable_service
        return self.blue_green.active_service if self.blue_green is not None else None

    @property
    def webhooks(self) -> list[Webhook]:
        """The strategy's release hooks (`canary.api.hooks`)."""
        strategy = self.canary or self.blue_green
        return strategy.webhooks if strategy is not None else []

    def services(self) -> dict[str, str]:
        """Every Service the strategy names, by field name (`stableService`: `checkout-stable`)."""
        if self.canary is not None:
            named = {"stableService": self.canary.stable_service, "canaryService": self.canary.canary_service}
        elif self.blue_green is not None:
            named = {
                "activeService": self.blue_green.active_service,
                "previewService": self.blue_green.preview_service,
            }
        else:
            named = {}
        return {field: name for field, name in named.items() if name}

    @property
    def _chosen(self) -> CanaryStrategy | BlueGreenStrategy:
        chosen = self.canary if self.canary is not None else self.blue_green
        assert chosen is not None  # the validator admits no Strategy without one
        return chosen


class WorkloadRef(CRDModel):
    api_version: str = "apps/v1"
    kind: Literal["Deployment"] = "Deployment"
    name: str = Field(min_length=1)
    scale_down: Literal["never", "onsuccess", "progressively"] = "never"


class RollbackWindow(CRDModel):
    """A template change back to one of the `revisions` revisions before the stable one skips the steps."""

    revisions: int = Field(default=0, ge=0)


class AnalysisHistory(CRDModel):
    successful_run_history_limit: int = Field(default=5, ge=0)
    unsuccessful_run_history_limit: int = Field(default=5, ge=0)


class RolloutSpec(CRDModel):
    replicas: int = Field(default=1, ge=0, le=2**31 - 1, strict=True)
    selector: LabelSelector | None = None
    template: dict[str, Any] | None = None
    workload_ref: WorkloadRef | None = None
    min_ready_seconds: int = Field(default=0, ge=0)
    revision_history_limit: int = Field(default=10, ge=0)
    paused: bool = False
    progress_deadline_seconds: int = Field(default=600, ge=1)
    progress_deadline_abort: bool = False
    restart_at: datetime | None = None
    rollback_window: RollbackWindow | None = None
    strategy: Strategy
    analysis: AnalysisHistory | None = None

    @model_validator(mode="after")
    def _template_source(self) -> RolloutSpec:
        if (self.template is None) == (self.workload_ref is None):
            raise ValueError("set exactly one of template or workloadRef")
        if self.template is not None:
            if self.selector is None:
                raise ValueError("selector is required with template")
            labels = (self.template.get("metadata") or {}).get("labels") or {}
            for key, value in self.selector.match_labels.items():
                if labels.get(key) != value:
                    raise ValueError(
                        f"selector.matchLabels {key}={value} does not match template.metadata.labels; "
                        "the selector must select the template's pods"
                    )
        return self

    @model_validator(mode="after")
    def _ephemeral_labels_keep_the_selector(self) -> RolloutSpec:
        selected = self.selector.match_labels if self.selector else {}
        canary, blue_green = self.strategy.canary, self.strategy.blue_green
        roles = [
            *(
                [
                    ("canary.canaryMetadata", canary.canary_metadata),
                    ("canary.stableMetadata", canary.stable_metadata),
                ]
                if canary is not None
                else []
            ),
            *(
                [
                    ("blueGreen.previewMetadata", blue_green.preview_metadata),
                    ("blueGreen.activeMetadata", blue_green.active_metadata),
                ]
                if blue_green is not None
                else []
            ),
        ]
        for field, metadata in roles:
            for key, value in (metadata.labels if metadata else {}).items():
                if key in selected and selected[key] != value:
                    raise ValueError(
                        f"strategy.{field}.labels {key}={value} changes a label the selector matches "
                        f"({key}={selected[key]}): the pods would leave their ReplicaSet; use another key"
                    )
        return self


class RolloutPhase(StrEnum):
    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    DEGRADED = "Degraded"


class PauseReason(StrEnum):
    CANARY_PAUSE_STEP = "CanaryPauseStep"
    INCONCLUSIVE_ANALYSIS = "InconclusiveAnalysisRun"
    BLUE_GREEN_PAUSE = "BlueGreenPause"


class PauseCondition(CRDModel):
    reason: PauseReason
    start_time: datetime


class WeightDestination(CRDModel):
    """A traffic share in units of maxTrafficWeight, as the router is given it (percent without one)."""

    weight: int = Field(ge=0)
    pod_template_hash: str | None = None
    service_name: str | None = None


class TrafficWeights(CRDModel):
    canary: WeightDestination
    stable: WeightDestination


class RolloutAnalysisRunStatus(CRDModel):
    name: str
    status: str
    message: str = ""


class CanaryStatus(CRDModel):
    weights: TrafficWeights | None = None
    current_step_analysis_run_status: RolloutAnalysisRunStatus | None = None
    current_background_analysis_run_status: RolloutAnalysisRunStatus | None = None


class BlueGreenStatus(CRDModel):
    """Argo's status.blueGreen: the revisions the active and preview Services select, whether the
    preview was scaled up past previewReplicaCount for the switch, and the current analysis runs."""

    active_selector: str | None = None
    preview_selector: str | None = None
    scale_up_preview_check_point: bool = False
    pre_promotion_analysis_run_status: RolloutAnalysisRunStatus | None = None
    post_promotion_analysis_run_status: RolloutAnalysisRunStatus | None = None


class RolloutStatus(CRDModel):
    phase: RolloutPhase | None = None
    message: str = ""
    conditions: list[Condition] = Field(default_factory=list)
    observed_generation: int | None = None
    current_pod_hash: str | None = None
    stable_rs: str | None = Field(default=None, alias="stableRS")
    current_step_index: int | None = None
    current_step_hash: str | None = None
    pause_conditions: list[PauseCondition] = Field(default_factory=list)
    controller_pause: bool = False
    abort: bool = False
    aborted_at: datetime | None = None
    promote_full: bool = False
    restarted_at: datetime | None = None
    replicas: int = 0
    updated_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    canary: CanaryStatus = Field(default_factory=CanaryStatus)
    blue_green: BlueGreenStatus = Field(default_factory=BlueGreenStatus)
    selector: str | None = None
    hooks: list[HookStatus] = Field(default_factory=list)
    """The calls of `spec.strategy.canary.webhooks` for the current revision (`canary.api.hooks`)."""


class Rollout(CRDModel):
    api_version: Literal["canary.dev/v1alpha1"] = "canary.dev/v1alpha1"
    kind: Literal["Rollout"] = "Rollout"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: RolloutSpec
    status: RolloutStatus = Field(default_factory=RolloutStatus)

    def owner_reference(self) -> dict[str, Any]:
        """The ownerReference that makes an object this Rollout's: garbage-collected with it, and
        recognised as its own by the controller."""
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.metadata.name,
            "uid": self.metadata.uid or "",
            "controller": True,
            "blockOwnerDeletion": True,
        }
