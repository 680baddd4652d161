"""AnalysisTemplate, ClusterAnalysisTemplate and AnalysisRun: what to measure, how to judge it, and
the record of every measurement taken.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import cel
from pydantic import AfterValidator, Field, field_validator, model_validator

from canary.api.base import CRDModel, Duration, ObjectMeta, parse_duration


class SecretKeyRef(CRDModel):
    name: str = Field(min_length=1)
    key: str = Field(min_length=1)


class FieldRef(CRDModel):
    field_path: str = Field(min_length=1)


class ValueFrom(CRDModel):
    secret_key_ref: SecretKeyRef | None = None
    field_ref: FieldRef | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ValueFrom:
        if (self.secret_key_ref is None) == (self.field_ref is None):
            raise ValueError("set exactly one of secretKeyRef or fieldRef")
        return self


class Argument(CRDModel):
    """A template argument: `value` is a default (or the final value in a run), absent means required."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")
    value: str | None = None
    value_from: ValueFrom | None = None

    @model_validator(mode="after")
    def _value_or_value_from(self) -> Argument:
        if self.value is not None and self.value_from is not None:
            raise ValueError(f"argument '{self.name}': set value or valueFrom, not both")
        return self


class Header(CRDModel):
    key: str = Field(min_length=1)
    value: str | None = None
    value_from: ValueFrom | None = None


EmptyResult = Literal["inconclusive", "error", "failed"]


def _check_http_address(value: str) -> str:
    # An address made of {{args}} is checked once substituted, at measurement time.
    if "{{" not in value and not re.match(r"^https?://[^/\s]", value):
        raise ValueError(f"'{value}' needs a scheme and a host: write http://{value} or https://{value}")
    return value


def _check_positive_duration(value: int | str) -> int | str:
    if parse_duration(value) <= 0:
        raise ValueError(f"'{value}' must be longer than 0, e.g. 10s")
    return value


HttpAddress = Annotated[str, Field(min_length=1), AfterValidator(_check_http_address)]
Timeout = Annotated[Duration, AfterValidator(_check_positive_duration)]


class PrometheusProvider(CRDModel):
    address: HttpAddress
    query: str = Field(min_length=1)
    timeout: Timeout = "30s"
    headers: list[Header] = Field(default_factory=list)
    insecure: bool = False
    on_empty_result: EmptyResult = "inconclusive"


class WebProvider(CRDModel):
    url: HttpAddress
    method: Literal["GET", "POST", "PUT"] = "GET"
    headers: list[Header] = Field(default_factory=list)
    body: str | None = None
    json_path: str | None = None
    timeout_seconds: int = Field(default=10, ge=1)
    insecure: bool = False


class JobProvider(CRDModel):
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: dict[str, Any]


class ArmQueries(CRDModel):
    """How a judge reads one metric for both arms: two PromQL queries over the same window."""

    stable: str = Field(min_length=1)
    canary: str = Field(min_length=1)


COUNT_JUDGES = frozenset({"sequential-counts"})
"""Judge kinds that read counts: events from `queries`, the requests they are a share of from `totals`."""


class JudgeProvider(CRDModel):
    """canary's statistical comparison of canary against stable (see canary.analysis.judges).

    `queries` give each arm's events (count kinds) or samples (the other kinds) of one interval;
    `totals` give each arm's requests of that interval, and only the count kinds read them.
    `config` keys are checked by the judge itself at the first measurement (InvalidSpec if wrong).
    """

    kind: Literal["mann-whitney", "sequential-counts", "sequential-location", "sequential-tail"]
    address: HttpAddress
    queries: ArmQueries
    totals: ArmQueries | None = None
    timeout: Timeout = "30s"
    config: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _totals_match_kind(self) -> JudgeProvider:
        if self.kind in COUNT_JUDGES and self.totals is None:
            raise ValueError(
                f"judge kind {self.kind} needs totals: set totals.stable and totals.canary to each arm's "
                "request count over the interval (queries count the events, e.g. 5xx responses)"
            )
        if self.kind not in COUNT_JUDGES and self.totals is not None:
            raise ValueError(
                f"judge kind {self.kind} reads samples from queries and has no use for totals; remove "
                f"totals (only {', '.join(sorted(COUNT_JUDGES))} reads them)"
            )
        return self


class MetricProvider(CRDModel):
    prometheus: PrometheusProvider | None = None
    web: WebProvider | None = None
    job: JobProvider | None = None
    judge: JudgeProvider | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> MetricProvider:
        chosen = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(chosen) != 1:
            raise ValueError("set exactly one provider: prometheus, web, job or judge")
        return self

    @property
    def kind(self) -> str:
        return next(name for name in type(self).model_fields if getattr(self, name) is not None)


ARG_REFERENCE = re.compile(r"\{\{\s*args\.([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")
"""`{{args.name}}` as templates write it, in queries, URLs and conditions."""


def check_condition_syntax(expression: str) -> str:
    """Compile a CEL condition (with `{{args.*}}` stood in by a literal) so a typo fails at lint time."""
    try:
        cel.compile(ARG_REFERENCE.sub("0", expression))
    except (ValueError, RuntimeError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "syntax error"
        raise ValueError(f"'{expression}' is not a valid CEL expression: {first_line}") from None
    return expression


class Metric(CRDModel):
    name: str = Field(min_length=1)
    interval: Duration | None = None
    initial_delay: Duration | None = None
    count: int | None = Field(default=None, ge=0)
    success_condition: str | None = None
    failure_condition: str | None = None
    failure_limit: int = Field(default=0, ge=-1)
    inconclusive_limit: int = Field(default=0, ge=0)
    consecutive_error_limit: int = Field(default=4, ge=0)
    provider: MetricProvider

    @field_validator("success_condition", "failure_condition")
    @classmethod
    def _conditions_compile(cls, value: str | None) -> str | None:
        return None if value is None else check_condition_syntax(value)

    @model_validator(mode="after")
    def _count_needs_interval(self) -> Metric:
        if self.count is not None and self.count > 1 and self.interval is None:
            raise ValueError(
                f"metric '{self.name}': count {self.count} needs an interval between measurements"
            )
        return self


class DryRun(CRDModel):
    metric_name: str = Field(min_length=1)


class MeasurementRetention(CRDModel):
    metric_name: str = Field(min_length=1)
    limit: int = Field(ge=1)


class AnalysisTemplateSpec(CRDModel):
    args: list[Argument] = Field(default_factory=list)
    metrics: list[Metric] = Field(min_length=1)
    dry_run: list[DryRun] = Field(default_factory=list)
    measurement_retention: list[MeasurementRetention] = Field(default_factory=list)

    @model_validator(mode="after")
    def _names_are_consistent(self) -> AnalysisTemplateSpec:
        names = [m.name for m in self.metrics]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"metric names must be unique; repeated: {', '.join(duplicated)}")
        arg_names = [a.name for a in self.args]
        repeated_args = sorted({n for n in arg_names if arg_names.count(n) > 1})
        if repeated_args:
            raise ValueError(f"argument names must be unique; repeated: {', '.join(repeated_args)}")
        referenced = [d.metric_name for d in self.dry_run] + [
            r.metric_name for r in self.measurement_retention
        ]
        for metric_name in referenced:
            if metric_name != "*" and metric_name not in names:
                raise ValueError(f"metricName '{metric_name}' names no metric; metrics: {', '.join(names)}")
        return self


class AnalysisTemplate(CRDModel):
    api_version: Literal["canary.dev/v1alpha1"] = "canary.dev/v1alpha1"
    kind: Literal["AnalysisTemplate"] = "AnalysisTemplate"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: AnalysisTemplateSpec


class ClusterAnalysisTemplate(CRDModel):
    api_version: Literal["canary.dev/v1alpha1"] = "canary.dev/v1alpha1"
    kind: Literal["ClusterAnalysisTemplate"] = "ClusterAnalysisTemplate"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: AnalysisTemplateSpec


class AnalysisPhase(StrEnum):
    """Phases of measurements, metrics and runs, ordered from best to worst for `worst()`."""

    SUCCESSFUL = "Successful"
    RUNNING = "Running"
    PENDING = "Pending"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"
    FAILED = "Failed"

    @property
    def completed(self) -> bool:
        return self not in (AnalysisPhase.RUNNING, AnalysisPhase.PENDING)


class Measurement(CRDModel):
    phase: AnalysisPhase
    value: str | None = None
    message: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    resume_at: datetime | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


class MetricResult(CRDModel):
    name: str
    phase: AnalysisPhase = AnalysisPhase.PENDING
    measurements: list[Measurement] = Field(default_factory=list)
    message: str = ""
    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    consecutive_error: int = 0
    dry_run: bool = False
    judge_state: dict[str, Any] | None = None


class RunSummary(CRDModel):
    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0


class AnalysisRunSpec(CRDModel):
    args: list[Argument] = Field(default_factory=list)
    metrics: list[Metric] = Field(min_length=1)
    dry_run: list[DryRun] = Field(default_factory=list)
    measurement_retention: list[MeasurementRetention] = Field(default_factory=list)
    terminate: bool = False


class AnalysisRunStatus(CRDModel):
    phase: AnalysisPhase = AnalysisPhase.PENDING
    message: str = ""
    metric_results: list[MetricResult] = Field(default_factory=list)
    started_at: datetime | None = None
    run_summary: RunSummary = Field(default_factory=RunSummary)


class AnalysisRun(CRDModel):
    api_version: Literal["canary.dev/v1alpha1"] = "canary.dev/v1alpha1"
    kind: Literal["AnalysisRun"] = "AnalysisRun"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: AnalysisRunSpec
    status: AnalysisRunStatus = Field(default_factory=AnalysisRunStatus)
