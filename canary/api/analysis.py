"""AnalysisTemplate, ClusterAnalysisTemplate and AnalysisRun: what to measure, how to judge it, and
the record of every measurement taken.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, field_validator, model_validator

from canary.api import cel_runtime as cel
from canary.api import time_expression
from canary.api.base import CRDModel, Duration, ObjectMeta, parse_duration
from canary.api.canary_config import CanaryConfig, ScoreThresholds


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


def _check_time_expression(value: str) -> str:
    # An expression made of {{args}} is checked once substituted, at measurement time.
    if "{{" not in value:
        time_expression.check(value)
    return value


def _check_step(value: str) -> str:
    if "{{" not in value:
        _check_positive_duration(value)
    return value


TimeExpression = Annotated[str, Field(min_length=1), AfterValidator(_check_time_expression)]


class PrometheusRangeQuery(CRDModel):
    """Argo's `rangeQuery`: the query evaluated every `step` from `start` to `end` (time expressions,
    see `canary.api.time_expression`); the measured value is every sample of every series, in order."""

    start: TimeExpression
    end: TimeExpression
    step: Annotated[str, Field(min_length=1), AfterValidator(_check_step)]


class OAuth2(CRDModel):
    """Argo's `authentication.oauth2`: an OAuth2 client-credentials grant at `tokenUrl`; the token is
    sent as `Authorization: Bearer`. `clientSecret` is masked in everything the run records; give it
    as `{{args.x}}` from a Secret (`valueFrom.secretKeyRef`), since a literal one sits in the template."""

    token_url: HttpAddress
    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    scopes: list[str] = Field(default_factory=list)


class Authentication(CRDModel):
    oauth2: OAuth2


class PrometheusProvider(CRDModel):
    address: HttpAddress
    query: str = Field(min_length=1)
    range_query: PrometheusRangeQuery | None = None
    timeout: Timeout = "30s"
    headers: list[Header] = Field(default_factory=list)
    authentication: Authentication | None = None
    insecure: bool = False
    on_empty_result: EmptyResult = "inconclusive"


class WebProvider(CRDModel):
    url: HttpAddress
    method: Literal["GET", "POST", "PUT"] = "GET"
    headers: list[Header] = Field(default_factory=list)
    body: str | None = None
    json_path: str | None = None
    timeout_seconds: int = Field(default=10, ge=1)
    authentication: Authentication | None = None
    insecure: bool = False


class JobProvider(CRDModel):
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: dict[str, Any]


class SecretRef(CRDModel):
    """Argo's datadog `secretRef`: the Secret holding `address`, `api-key` and `app-key`."""

    name: str = Field(default="datadog", min_length=1)
    namespaced: bool = False
    """Kept for Argo templates; canary reads the Secret from the run's namespace either way."""


DatadogAggregator = Literal["avg", "min", "max", "sum", "last", "percentile", "mean", "l2norm", "area"]


class DatadogSource(CRDModel):
    """Where and how long a window Datadog is read: what a judge's arm queries share."""

    interval: Timeout = "5m"
    """The window a query reads, ending now (not the polling rate: that is the metric's interval)."""
    secret_ref: SecretRef = Field(default_factory=SecretRef)
    request_timeout: Timeout = "10s"


class DatadogProvider(DatadogSource):
    """Argo's `datadog`: v1 is one timeseries query (the last point of the first series); v2 is the
    scalar formulas API (`queries` named in a `formula`, each reduced by `aggregator`)."""

    api_version: Literal["v1", "v2"] = "v1"
    query: str | None = Field(default=None, min_length=1)
    queries: dict[str, str] | None = None
    formula: str | None = Field(default=None, min_length=1)
    aggregator: DatadogAggregator | None = None

    @model_validator(mode="after")
    def _one_query_form(self) -> DatadogProvider:
        if (self.query is None) == (self.queries is None):
            raise ValueError("set exactly one of query or queries (queries and formula need apiVersion v2)")
        if self.api_version == "v1" and (self.queries or self.formula or self.aggregator):
            raise ValueError("queries, formula and aggregator are v2 fields: set apiVersion: v2, or use query")
        if self.queries is not None and len(self.queries) > 1 and self.formula is None:
            raise ValueError(
                f"queries {', '.join(sorted(self.queries))} need a formula combining them, e.g. "
                f"formula: {' / '.join(sorted(self.queries)[:2])}"
            )
        return self


class NewRelicSource(CRDModel):
    """Which New Relic account (the Secret `profile`, default newrelic) and how long NRQL may run."""

    profile: str | None = Field(default=None, min_length=1)
    timeout: int | None = Field(default=None, ge=1, le=120)
    """Seconds NerdGraph may spend on the NRQL query (its own default when unset: 5)."""


class NewRelicProvider(NewRelicSource):
    """Argo's `newRelic`: one NRQL query through NerdGraph."""

    query: str = Field(min_length=1)


class CloudWatchDimension(CRDModel):
    name: str = Field(min_length=1)
    value: str = Field(min_length=1)


class CloudWatchMetric(CRDModel):
    dimensions: list[CloudWatchDimension] = Field(default_factory=list)
    metric_name: str = Field(min_length=1)
    namespace: str | None = None


def _check_period(value: object) -> object:
    whole = isinstance(value, int | str) and not isinstance(value, bool) and re.fullmatch(r"\d+", str(value))
    if templated_arg(value) is None and (not whole or int(str(value)) < 1):
        raise ValueError(f"period '{value}' must be whole seconds (1, 5, 10, 30 or a multiple of 60)")
    return value


Period = Annotated[int | str, BeforeValidator(_check_period)]
"""GetMetricData's period in seconds (Argo takes an int or a string of one)."""


class CloudWatchMetricStat(CRDModel):
    metric: CloudWatchMetric
    period: Period
    stat: str = Field(min_length=1)
    unit: str | None = None


def _check_query_id(value: str) -> str:
    if not re.fullmatch(r"[a-z][a-zA-Z0-9_]*", value):
        raise ValueError(
            f"id '{value}' must start with a lowercase letter and hold only letters, digits and _ "
            "(GetMetricData's rule), e.g. errors or error_rate"
        )
    return value


class CloudWatchMetricDataQuery(CRDModel):
    """One entry of GetMetricData's MetricDataQueries: a metricStat or a math/Insights expression."""

    id: Annotated[str, AfterValidator(_check_query_id)]
    expression: str | None = Field(default=None, min_length=1)
    label: str | None = None
    metric_stat: CloudWatchMetricStat | None = None
    period: Period | None = None
    return_data: bool | None = None

    @model_validator(mode="after")
    def _stat_or_expression(self) -> CloudWatchMetricDataQuery:
        if (self.expression is None) == (self.metric_stat is None):
            raise ValueError(f"query '{self.id}': set exactly one of expression or metricStat")
        return self


class CloudWatchProvider(CRDModel):
    """Argo's `cloudWatch`: GetMetricData over the last `interval`, with the AWS SDK's own credentials."""

    interval: Timeout = "5m"
    metric_data_queries: list[CloudWatchMetricDataQuery] = Field(min_length=1)

    @model_validator(mode="after")
    def _queries_return_data(self) -> CloudWatchProvider:
        ids = [q.id for q in self.metric_data_queries]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"metricDataQueries ids must be unique; repeated: {', '.join(repeated)}")
        if all(q.return_data is False for q in self.metric_data_queries):
            raise ValueError(
                "every metricDataQueries entry has returnData: false, so nothing is returned; "
                "set returnData: true (or leave it out) on the query the conditions read"
            )
        return self


class CloudWatchSource(CRDModel):
    """How a judge reads CloudWatch: each arm's query is a metric math or Metrics Insights expression
    evaluated every `period` seconds over the last `interval`."""

    interval: Timeout = "5m"
    period: Period = 60


class InfluxDBSource(CRDModel):
    """Which InfluxDB (the Secret `profile`, default influxdb) and which query language it speaks."""

    profile: str | None = Field(default=None, min_length=1)
    language: Literal["flux", "influxql"] = "flux"
    database: str | None = Field(default=None, min_length=1)
    """The InfluxDB 1.x database an InfluxQL query reads (a Flux query names its bucket itself)."""

    @model_validator(mode="after")
    def _database_for_influxql(self) -> InfluxDBSource:
        if self.language == "influxql" and self.database is None:
            raise ValueError("language influxql needs database: the InfluxDB 1.x database the query reads")
        if self.language == "flux" and self.database is not None:
            raise ValueError('a Flux query names its bucket itself (from(bucket: "...")); remove database')
        return self


class InfluxDBProvider(InfluxDBSource):
    """Argo's `influxdb`: a Flux query (Secret keys `address`, `authToken`, `org`), or with canary's
    `language: influxql` an InfluxQL query to InfluxDB 1.x."""

    query: str = Field(min_length=1)


class GraphiteSource(CRDModel):
    address: HttpAddress


def _check_render_query(value: str) -> str:
    if "{{" not in value and not re.search(r"(^|&)\s*target\s*=", value):
        raise ValueError(
            f"'{value}' names no target; write the render API's parameters, e.g. target=app.errors&from=-5min"
        )
    return value


class GraphiteProvider(GraphiteSource):
    """Argo's `graphite`: `query` is the render API's parameters, e.g. `target=app.errors&from=-5min`."""

    query: Annotated[str, Field(min_length=1), AfterValidator(_check_render_query)]


class OneOf(CRDModel):
    """A choice of exactly one field (a metric's provider, a judge's source); `kind` is its wire name."""

    choice: ClassVar[str]

    @model_validator(mode="after")
    def _exactly_one(self) -> OneOf:
        chosen = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(chosen) != 1:
            kinds = [field.alias or name for name, field in type(self).model_fields.items()]
            raise ValueError(f"set exactly one {self.choice}: {', '.join(kinds[:-1])} or {kinds[-1]}")
        return self

    @property
    def kind(self) -> str:
        """The chosen field's wire name (`prometheus`, `newRelic`, ...), which keys the provider registry."""
        name = next(name for name in type(self).model_fields if getattr(self, name) is not None)
        return type(self).model_fields[name].alias or name

    @property
    def chosen(self) -> Any:
        """The chosen field's value."""
        return next(getattr(self, name) for name in type(self).model_fields if getattr(self, name) is not None)


class JudgeSource(OneOf):
    """Where a judge's arm queries run when it is not Prometheus (`address`)."""

    choice = "source"

    datadog: DatadogSource | None = None
    new_relic: NewRelicSource | None = None
    cloud_watch: CloudWatchSource | None = None
    influxdb: InfluxDBSource | None = None
    graphite: GraphiteSource | None = None


class ArmQueries(CRDModel):
    """How a judge reads one metric for both arms: two PromQL queries over the same window."""

    stable: str = Field(min_length=1)
    canary: str = Field(min_length=1)


COUNT_JUDGES = frozenset({"sequential-counts"})
"""Judge kinds that read counts: events from `queries`, the requests they are a share of from `totals`."""
KAYENTA_JUDGE = "kayenta"
"""The judge kind that scores a whole Kayenta canary config (`canaryConfig`, `thresholds`)."""


class JudgeProvider(CRDModel):
    """canary's statistical comparison of canary against stable (see canary.analysis.judges).

    `queries` give each arm's events (count kinds) or samples (the other kinds) of one interval;
    `totals` give each arm's requests of that interval, and only the count kinds read them.
    `config` keys are checked by the judge itself at the first measurement (InvalidSpec if wrong).
    Kind `kayenta` judges several metrics together instead: `canaryConfig` (Kayenta's canary config,
    each metric with its own two queries) scored 0-100 against `thresholds`.
    """

    kind: Literal["mann-whitney", "sequential-counts", "sequential-location", "sequential-tail", "kayenta"]
    address: HttpAddress | None = None
    source: JudgeSource | None = None
    """Where the arm queries run when not Prometheus at `address` (not for kind kayenta)."""
    queries: ArmQueries | None = None
    totals: ArmQueries | None = None
    timeout: Timeout = "30s"
    config: dict[str, Any] = Field(default_factory=dict)
    canary_config: CanaryConfig | None = None
    thresholds: ScoreThresholds | None = None

    @model_validator(mode="after")
    def _address_or_source(self) -> JudgeProvider:
        if (self.address is None) == (self.source is None):
            raise ValueError(
                "set address (the Prometheus both arms are queried on) or source (another metrics store: "
                "datadog, newRelic, cloudWatch, influxdb or graphite), not both"
            )
        if self.source is not None and self.kind == KAYENTA_JUDGE:
            raise ValueError(f"judge kind {KAYENTA_JUDGE} reads Prometheus: set address instead of source")
        return self

    @model_validator(mode="after")
    def _fields_match_kind(self) -> JudgeProvider:
        if self.kind == KAYENTA_JUDGE:
            return self._kayenta_fields()
        if self.canary_config is not None or self.thresholds is not None:
            raise ValueError(
                f"judge kind {self.kind} judges one metric from queries; canaryConfig and thresholds belong "
                f"to kind {KAYENTA_JUDGE} (several metrics scored together): remove them or set kind: {KAYENTA_JUDGE}"
            )
        if self.queries is None:
            raise ValueError(f"judge kind {self.kind} needs queries: set queries.stable and queries.canary")
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

    def _kayenta_fields(self) -> JudgeProvider:
        if self.canary_config is None or self.thresholds is None:
            raise ValueError(
                f"judge kind {KAYENTA_JUDGE} needs canaryConfig (its metrics, each with query.stable and "
                "query.canary, groups and analysisConfigurations) and thresholds (pass and marginal, 0-100)"
            )
        extra = [name for name in ("queries", "totals", "config") if getattr(self, name)]
        if extra:
            raise ValueError(
                f"judge kind {KAYENTA_JUDGE} reads each metric's query from canaryConfig.metrics and fixes "
                f"Kayenta's tolerance 0.25 and confidence 0.98; remove {', '.join(extra)}"
            )
        return self


class MetricProvider(OneOf):
    choice = "provider"

    prometheus: PrometheusProvider | None = None
    web: WebProvider | None = None
    job: JobProvider | None = None
    judge: JudgeProvider | None = None
    datadog: DatadogProvider | None = None
    new_relic: NewRelicProvider | None = None
    cloud_watch: CloudWatchProvider | None = None
    influxdb: InfluxDBProvider | None = None
    graphite: GraphiteProvider | None = None


ARG_REFERENCE = re.compile(r"\{\{\s*args\.([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")
"""`{{args.name}}` as templates write it, in queries, URLs and conditions."""


def check_condition_syntax(expression: str) -> str:
    """Compile a CEL condition (with `{{args.*}}` stood in by a literal) so a typo fails at lint time."""
    try:
        cel.compile(ARG_REFERENCE.sub("0", expression))
    except (ValueError, RuntimeError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "syntax error"
        hint = _EXPR_LAMBDA_HINT if _EXPR_LAMBDA.search(expression) else ""
        raise ValueError(f"'{expression}' is not a valid CEL expression: {first_line}{hint}") from None
    return expression


_EXPR_LAMBDA = re.compile(r"\b(all|any|none|one|filter|map)\s*\(.*\{.*#")
"""Argo's expr language writes a predicate over a list as `all(list, {# < 1})`; CEL's form differs."""
_EXPR_LAMBDA_HINT = (
    "; conditions are CEL, not Argo's expr: write all(result, {# < 1}) as result.all(v, v < 1) "
    "(any becomes exists, one exists_one; filter and map alike)"
)


ARG_ONLY = re.compile(r"^\s*\{\{\s*args\.([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}\s*$")
"""A field that is nothing but one `{{args.name}}` (numbers and durations of a metric may be)."""


def templated_arg(value: object) -> str | None:
    """The argument a field's value names when it is exactly `{{args.name}}`, else None."""
    match = ARG_ONLY.match(value) if isinstance(value, str) else None
    return match.group(1) if match else None


def _not_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError(f"must be an integer, not {str(value).lower()}")
    return value


def _templated_int(minimum: int, rule: str) -> AfterValidator:
    def check(value: int | str) -> int | str:
        if isinstance(value, str):
            if templated_arg(value) is not None:
                return value
            if not re.fullmatch(r"\s*-?\d+\s*", value):
                raise ValueError(
                    f"'{value}' is not an integer; write a whole number (at least {minimum}{rule}) or a "
                    "whole argument such as '{{args.count}}'"
                )
            value = int(value)
        if value < minimum:
            raise ValueError(f"must be at least {minimum}{rule}, got {value}")
        return value

    return AfterValidator(check)


def _check_duration_or_arg(value: int | str) -> int | str:
    if templated_arg(value) is None:
        parse_duration(value)
    return value


TemplatedDuration = Annotated[int | str, AfterValidator(_check_duration_or_arg)]
"""A duration, or `{{args.name}}` resolved when the run is created."""
Count = Annotated[int | str, BeforeValidator(_not_bool), _templated_int(0, "")]
FailureLimit = Annotated[
    int | str, BeforeValidator(_not_bool), _templated_int(-1, " (-1 disables the limit)")
]
Limit = Annotated[int | str, BeforeValidator(_not_bool), _templated_int(0, "")]
SuccessLimit = Annotated[int | str, BeforeValidator(_not_bool), _templated_int(0, " (0 disables it)")]

NUMERIC_FIELDS = {
    "count": "count",
    "interval": "interval",
    "initial_delay": "initialDelay",
    "failure_limit": "failureLimit",
    "inconclusive_limit": "inconclusiveLimit",
    "consecutive_error_limit": "consecutiveErrorLimit",
    "consecutive_success_limit": "consecutiveSuccessLimit",
}
"""The metric fields that may be templated with `{{args.name}}`, by Python name, with their wire names."""


class UnresolvedFieldError(ValueError):
    """A metric field still templated with `{{args.name}}` where its number is needed."""


@dataclass(frozen=True)
class MetricNumbers:
    """A metric's counts, limits and durations (seconds) once no argument is left in them."""

    count: int | None
    interval: float | None
    initial_delay: float | None
    failure_limit: int
    inconclusive_limit: int
    consecutive_error_limit: int
    consecutive_success_limit: int


class Metric(CRDModel):
    name: str = Field(min_length=1)
    interval: TemplatedDuration | None = None
    initial_delay: TemplatedDuration | None = None
    count: Count | None = None
    success_condition: str | None = None
    failure_condition: str | None = None
    failure_limit: FailureLimit = 0
    inconclusive_limit: Limit = 0
    consecutive_error_limit: Limit = 4
    consecutive_success_limit: SuccessLimit = 0
    provider: MetricProvider

    @field_validator("success_condition", "failure_condition")
    @classmethod
    def _conditions_compile(cls, value: str | None) -> str | None:
        return None if value is None else check_condition_syntax(value)

    @model_validator(mode="after")
    def _numbers_are_consistent(self) -> Metric:
        if self.templated_fields():
            return self  # checked once the run resolves the arguments
        numbers = self.numbers()
        count, failures, successes = numbers.count, numbers.failure_limit, numbers.consecutive_success_limit
        where = f"metric '{self.name}'"
        if successes == 0 and failures == -1:
            raise ValueError(
                f"{where}: failureLimit -1 and consecutiveSuccessLimit 0 disable both ways to decide; "
                "set consecutiveSuccessLimit above 0 (successes in a row that pass the metric) or failureLimit >= 0"
            )
        if count:
            if failures >= 0 and count < failures + successes:
                raise ValueError(
                    f"{where}: count ({count}) must be >= failureLimit + consecutiveSuccessLimit "
                    f"({failures} + {successes})"
                )
            if failures < 0 and count < successes:
                raise ValueError(f"{where}: count ({count}) must be >= consecutiveSuccessLimit ({successes})")
            if count < numbers.inconclusive_limit:
                raise ValueError(
                    f"{where}: count ({count}) must be >= inconclusiveLimit ({numbers.inconclusive_limit})"
                )
        if count is not None and count > 1 and self.interval is None:
            raise ValueError(f"{where}: count {count} needs an interval between measurements")
        return self

    def templated_fields(self) -> dict[str, str]:
        """Wire name -> argument, for every numeric field written as `{{args.name}}`."""
        found = {}
        for field_name, wire in NUMERIC_FIELDS.items():
            arg = templated_arg(getattr(self, field_name))
            if arg is not None:
                found[wire] = arg
        return found

    def numbers(self) -> MetricNumbers:
        """The metric's numbers; UnresolvedFieldError while one is still `{{args.name}}`."""
        templated = self.templated_fields()
        if templated:
            wire, arg = next(iter(templated.items()))
            raise UnresolvedFieldError(
                f"metric '{self.name}': {wire} is still '{{{{args.{arg}}}}}'; "
                "arguments in numeric fields are resolved when the run is created from its templates"
            )

        def seconds(value: int | str | None) -> float | None:
            return None if value is None else parse_duration(value)

        return MetricNumbers(
            count=None if self.count is None else int(self.count),
            interval=seconds(self.interval),
            initial_delay=seconds(self.initial_delay),
            failure_limit=int(self.failure_limit),
            inconclusive_limit=int(self.inconclusive_limit),
            consecutive_error_limit=int(self.consecutive_error_limit),
            consecutive_success_limit=int(self.consecutive_success_limit),
        )

    def with_arguments(self, values: Mapping[str, str]) -> Metric:
        """The metric with its numeric `{{args.name}}` fields replaced by the arguments' values.

        Raises ValueError naming the field, the argument and the fix when an argument is missing or
        its value is not a valid number (or duration) there.
        """
        templated = self.templated_fields()
        if not templated:
            return self
        wire = self.model_dump(by_alias=True, exclude_none=True)
        for field_wire, arg in templated.items():
            if arg not in values:
                raise ValueError(
                    f"metric '{self.name}': {field_wire} is '{{{{args.{arg}}}}}' but argument '{arg}' has no "
                    "literal value when the run is created (a secretKeyRef is read only when measuring); "
                    f"give '{arg}' a value in the template or in the Rollout's analysis args"
                )
            value = values[arg]
            wire[field_wire] = value
            try:
                Metric.model_validate(wire)
            except ValidationError as error:
                problems = [p for p in error.errors() if p["loc"] and p["loc"][0] == field_wire]
                if problems:
                    wanted = _WANTED.get(field_wire, "a whole number of at least 0")
                    raise ValueError(
                        f"metric '{self.name}': {field_wire} is '{{{{args.{arg}}}}}', and argument '{arg}' "
                        f"is '{value}', which is not {wanted}; pass such a value for '{arg}' in the "
                        "Rollout's analysis args (or as the template's default)"
                    ) from None
        try:
            return Metric.model_validate(wire)
        except ValidationError as error:
            args_used = ", ".join(f"{w}={{{{args.{a}}}}}" for w, a in templated.items())
            raise ValueError(
                f"metric '{self.name}' is invalid once its arguments ({args_used}) are resolved: "
                f"{_plain(error.errors()[0]['msg'])}; pass other values for them in the Rollout's analysis args"
            ) from None


_WANTED = {
    "interval": "a duration such as 30s, 5m or 1h30m",
    "initialDelay": "a duration such as 30s, 5m or 1h30m",
    "failureLimit": "a whole number of at least -1 (-1 disables the limit)",
}


def _plain(message: str) -> str:
    return message.removeprefix("Value error, ")


def _check_metric_pattern(value: str) -> str:
    if value != "*":
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(
                f"'{value}' is not a regular expression ({error}); write a metric name, or a pattern "
                "such as '.*' (every metric) or 'error-.*'"
            ) from None
    return value


MetricPattern = Annotated[str, Field(min_length=1), AfterValidator(_check_metric_pattern)]
"""A metricName rule: a regular expression searched in each metric's name, as Argo's (`.*` or `*` for all)."""


def pattern_matches(pattern: str, metric_name: str) -> bool:
    """Whether a dryRun / measurementRetention rule names `metric_name` (Go's regexp.MatchString: unanchored)."""
    return pattern == "*" or re.search(pattern, metric_name) is not None


class DryRun(CRDModel):
    metric_name: MetricPattern


class MeasurementRetention(CRDModel):
    metric_name: MetricPattern
    limit: int = Field(ge=1)


def check_metric_rules(
    metric_names: Sequence[str], dry_run: Sequence[DryRun], retention: Sequence[MeasurementRetention]
) -> None:
    """Every dryRun and measurementRetention rule must match some metric (Argo's rule)."""
    rules = [("dryRun", d.metric_name) for d in dry_run] + [
        ("measurementRetention", r.metric_name) for r in retention
    ]
    for where, pattern in rules:
        if not any(pattern_matches(pattern, name) for name in metric_names):
            raise ValueError(
                f"{where} metricName '{pattern}' names no metric (it is a regular expression matched "
                f"against the metric names; '.*' matches all); metrics: {', '.join(metric_names)}"
            )


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
        check_metric_rules(names, self.dry_run, self.measurement_retention)
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


RUN_KIND_LABEL = "canary.dev/analysis"
"""The label that says which analysis of a Rollout started a run: step, background, pre or post."""
INLINE_RUN_KINDS = ("step", "pre", "post")
"""Runs the rollout waits for (Argo's inline analyses), unlike the background run."""


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
    consecutive_success: int = 0
    dry_run: bool = False
    judge_state: dict[str, Any] | None = None


class RunSummary(CRDModel):
    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0


class TTLStrategy(CRDModel):
    """How long a completed run is kept before the controller deletes it (Argo's AnalysisRun ttlStrategy).

    The phase's own field wins (Successful: secondsAfterSuccess, Failed: secondsAfterFailure), else
    secondsAfterCompletion; with none of them that applies, the run is kept.
    """

    seconds_after_completion: int | None = Field(default=None, ge=0)
    seconds_after_failure: int | None = Field(default=None, ge=0)
    seconds_after_success: int | None = Field(default=None, ge=0)


class AnalysisRunSpec(CRDModel):
    args: list[Argument] = Field(default_factory=list)
    metrics: list[Metric] = Field(min_length=1)
    dry_run: list[DryRun] = Field(default_factory=list)
    measurement_retention: list[MeasurementRetention] = Field(default_factory=list)
    terminate: bool = False
    ttl_strategy: TTLStrategy | None = None

    @model_validator(mode="after")
    def _rules_match_metrics(self) -> AnalysisRunSpec:
        check_metric_rules([m.name for m in self.metrics], self.dry_run, self.measurement_retention)
        return self


class AnalysisRunStatus(CRDModel):
    phase: AnalysisPhase = AnalysisPhase.PENDING
    message: str = ""
    metric_results: list[MetricResult] = Field(default_factory=list)
    started_at: datetime | None = None
    completed_at: datetime | None = None
    run_summary: RunSummary = Field(default_factory=RunSummary)
    dry_run_summary: RunSummary | None = None


class AnalysisRun(CRDModel):
    api_version: Literal["canary.dev/v1alpha1"] = "canary.dev/v1alpha1"
    kind: Literal["AnalysisRun"] = "AnalysisRun"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: AnalysisRunSpec
    status: AnalysisRunStatus = Field(default_factory=AnalysisRunStatus)
