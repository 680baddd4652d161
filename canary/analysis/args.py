"""Template arguments: from a Rollout's analysis step to an AnalysisRun, and into its queries.

Two moments, two functions:

- `build_run_spec` (pure): when the rollout engine starts an analysis, it merges the templates'
  metrics and arguments with the Rollout's args and canary's built-ins into one AnalysisRunSpec.
  Literal values and fieldRefs are resolved here; `secretKeyRef`s stay references, so a secret's
  value is never written into the run.
- `resolve_metric` (through an injected secret reader): just before measuring, the runner reads the
  secrets and substitutes `{{args.name}}` into the metric's provider (queries, URLs, headers,
  bodies, Job specs) and conditions. Secret values come back with it so that everything the run
  records or logs can be `mask`ed as `*****`.

Precedence for a declared argument: the Rollout's arg, then the template's own value or valueFrom,
then canary's built-ins (`stable-hash`, `canary-hash`, `rollout-name`, `namespace`). A declared
argument with none of these is an ArgumentError naming the argument and the template.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, quote_plus

from pydantic import ValidationError

from canary.analysis import job_secrets
from canary.api.analysis import (
    ARG_REFERENCE,
    AnalysisRunSpec,
    AnalysisTemplate,
    Argument,
    ClusterAnalysisTemplate,
    DryRun,
    MeasurementRetention,
    Metric,
    SecretKeyRef,
)
from canary.api.lint import BUILT_IN_ARGS
from canary.api.rollout import AnalysisRunArgument, PodTemplateHashValue, Rollout, RolloutAnalysis

MASK = "*****"


class ArgumentError(ValueError):
    """An argument that cannot be resolved; the message names the argument and where it is needed."""


class SecretUnavailableError(ArgumentError):
    """A Secret or key that cannot be read now; unlike other ArgumentErrors it may resolve itself later."""


class SecretReader(Protocol):
    """Reads one key of a Secret; raises KeyError (with a readable message) when it is missing."""

    def __call__(self, namespace: str, name: str, key: str) -> str: ...


@dataclass(frozen=True)
class ResolvedArgs:
    values: Mapping[str, str]
    secret_names: frozenset[str] = frozenset()
    """The arguments whose values came from Secrets: never shown anywhere (see `mask`)."""
    secret_refs: Mapping[str, SecretKeyRef] = field(default_factory=dict)
    """The Secret key each of them came from: a Job is given that, never the value (job_secrets)."""

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self.values[name] for name in self.secret_names)


def built_in_args(rollout: Rollout, *, stable_hash: str, canary_hash: str) -> dict[str, str]:
    """The arguments canary gives every run (canary.api.lint.BUILT_IN_ARGS)."""
    values = {
        "stable-hash": stable_hash,
        "canary-hash": canary_hash,
        "rollout-name": rollout.metadata.name,
        "namespace": rollout.metadata.namespace or "default",
    }
    assert set(values) == BUILT_IN_ARGS
    return values


def build_run_spec(
    templates: Sequence[AnalysisTemplate | ClusterAnalysisTemplate],
    analysis: RolloutAnalysis,
    rollout: Rollout,
    *,
    stable_hash: str,
    canary_hash: str,
) -> AnalysisRunSpec:
    """The spec of the AnalysisRun that `analysis` (a step or background analysis) of `rollout` starts.

    `templates` are the ones `analysis.templates` names, in that order. Raises ArgumentError for a
    required argument nobody supplies, an argument the templates declare with different values, a
    `{{args.x}}` reference to an undeclared argument, or a metric name used by two templates.
    """
    built_ins = built_in_args(rollout, stable_hash=stable_hash, canary_hash=canary_hash)
    given = {
        arg.name: _rollout_arg_value(arg, rollout, stable_hash=stable_hash, canary_hash=canary_hash)
        for arg in analysis.args
    }
    args: dict[str, Argument] = {name: Argument(name=name, value=value) for name, value in built_ins.items()}
    declared_in: dict[str, str] = {}
    metrics: list[tuple[str, Metric]] = []
    dry_run = [DryRun(metric_name=d.metric_name) for d in analysis.dry_run]
    retention: list[MeasurementRetention] = []
    for template in templates:
        name = template.metadata.name
        for declared in template.spec.args:
            resolved = _template_arg(declared, given, built_ins, rollout, template_name=name)
            previous = declared_in.get(declared.name)
            if previous is not None and args[declared.name] != resolved:
                raise ArgumentError(
                    f"argument '{declared.name}' is declared by templates '{previous}' and '{name}' "
                    "with different values; pass it in the Rollout's analysis args to settle it"
                )
            args[declared.name] = resolved
            declared_in.setdefault(declared.name, name)
        metrics += [(name, metric) for metric in template.spec.metrics]
        dry_run += template.spec.dry_run
        retention += template.spec.measurement_retention
    _check_references(set(args), templates)
    metric_names = [m.name for _, m in metrics]
    repeated = sorted({n for n in metric_names if metric_names.count(n) > 1})
    if repeated:
        raise ArgumentError(
            f"metric names must be unique across the templates of one analysis; repeated: {', '.join(repeated)}"
        )
    try:
        return AnalysisRunSpec(
            args=list(args.values()),
            metrics=[_with_numbers(metric, args, template_name=owner) for owner, metric in metrics],
            dry_run=dry_run,
            measurement_retention=retention,
        )
    except ValidationError as error:
        template_names = ", ".join(t.metadata.name for t in templates)
        raise ArgumentError(
            f"templates {template_names} do not combine into one run: {error.errors()[0]['msg']}"
        ) from None


def _with_numbers(metric: Metric, args: Mapping[str, Argument], *, template_name: str) -> Metric:
    """The metric with `{{args.x}}` in count, interval, initialDelay and the limits resolved now, when
    the run is created (as Argo does), so that the run records plain numbers."""
    literal = {name: arg.value for name, arg in args.items() if arg.value is not None}
    try:
        return metric.with_arguments(literal)
    except ValueError as error:
        raise ArgumentError(f"template '{template_name}': {error}") from None


def _rollout_arg_value(
    arg: AnalysisRunArgument, rollout: Rollout, *, stable_hash: str, canary_hash: str
) -> str:
    if arg.value is not None:
        return arg.value
    source = arg.value_from
    if source is None:
        raise ArgumentError(f"Rollout analysis arg '{arg.name}' has neither value nor valueFrom")
    if source.pod_template_hash_value is not None:
        return stable_hash if source.pod_template_hash_value == PodTemplateHashValue.STABLE else canary_hash
    assert source.field_ref is not None
    return field_value(rollout, source.field_ref.field_path, arg_name=arg.name)


def _template_arg(
    declared: Argument,
    given: Mapping[str, str],
    built_ins: Mapping[str, str],
    rollout: Rollout,
    *,
    template_name: str,
) -> Argument:
    if declared.name in given:
        return Argument(name=declared.name, value=given[declared.name])
    if declared.value is not None:
        return declared
    if declared.value_from is not None and declared.value_from.secret_key_ref is not None:
        return declared
    if declared.value_from is not None and declared.value_from.field_ref is not None:
        path = declared.value_from.field_ref.field_path
        return Argument(name=declared.name, value=field_value(rollout, path, arg_name=declared.name))
    if declared.name in built_ins:
        return Argument(name=declared.name, value=built_ins[declared.name])
    raise ArgumentError(
        f"template '{template_name}' requires argument '{declared.name}'; "
        f"add {{name: {declared.name}, value: ...}} to the Rollout's analysis args"
    )


def _check_references(
    known: set[str], templates: Sequence[AnalysisTemplate | ClusterAnalysisTemplate]
) -> None:
    for template in templates:
        text = template.spec.model_dump_json(include={"metrics"})
        for referenced in ARG_REFERENCE.findall(text):
            if referenced not in known:
                raise ArgumentError(
                    f"template '{template.metadata.name}' uses {{{{args.{referenced}}}}} but declares no "
                    f"argument '{referenced}'; add {{name: {referenced}}} to its spec.args"
                )


_PATH_PART = re.compile(r"\.?([A-Za-z0-9_-]+)|\[['\"]([^'\"]+)['\"]\]")


def field_value(rollout: Rollout, field_path: str, *, arg_name: str) -> str:
    """The Rollout's field at `field_path` (`metadata.name`, `metadata.labels['app']`, ...) as text."""
    node: Any = rollout.to_wire()
    position = 0
    for match in _PATH_PART.finditer(field_path):
        if match.start() != position:
            break
        position = match.end()
        key = match.group(1) or match.group(2)
        node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            break
    if position != len(field_path) or node is None or isinstance(node, dict | list):
        raise ArgumentError(
            f"argument '{arg_name}': fieldRef '{field_path}' names no text field of the Rollout "
            "(write it like metadata.name or metadata.labels['app'])"
        )
    return str(node)


def resolve_values(args: Sequence[Argument], namespace: str, read_secret: SecretReader) -> ResolvedArgs:
    """The run's argument values, reading `secretKeyRef`s through `read_secret`.

    Raises SecretUnavailableError when a Secret or key is missing (it may be created later).
    """
    values: dict[str, str] = {}
    refs: dict[str, SecretKeyRef] = {}
    for arg in args:
        if arg.value is not None:
            values[arg.name] = arg.value
        elif arg.value_from is not None and arg.value_from.secret_key_ref is not None:
            values[arg.name] = _read(
                arg.value_from.secret_key_ref, namespace, read_secret, f"argument '{arg.name}'"
            )
            refs[arg.name] = arg.value_from.secret_key_ref
        else:
            raise ArgumentError(f"argument '{arg.name}' has no value in the run")
    return ResolvedArgs(values=values, secret_names=frozenset(refs), secret_refs=refs)


def _read(ref: SecretKeyRef, namespace: str, read_secret: SecretReader, user: str) -> str:
    try:
        return read_secret(namespace, ref.name, ref.key)
    except KeyError:
        raise SecretUnavailableError(
            f"{user}: key '{ref.key}' of Secret '{ref.name}' in namespace '{namespace}' cannot be read"
        ) from None


def substitute(text: str, values: Mapping[str, str]) -> str:
    """`text` with every `{{args.name}}` replaced; ArgumentError names an argument with no value."""

    def value_of(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ArgumentError(
                f"{{{{args.{name}}}}} names no argument of the run; known: {', '.join(sorted(values))}"
            )
        return values[name]

    return ARG_REFERENCE.sub(value_of, text)


def _substitute_all(node: Any, values: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return substitute(node, values)
    if isinstance(node, dict):
        return {key: _substitute_all(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_substitute_all(item, values) for item in node]
    return node


def resolve_metric(
    metric: Metric, args: ResolvedArgs, namespace: str, read_secret: SecretReader
) -> tuple[Metric, frozenset[str]]:
    """The metric ready to measure: arguments substituted, header secrets read into plain values.

    Returns it with every secret value it now holds. Raises SecretUnavailableError when a Secret is missing,
    ArgumentError when the substituted metric is invalid (e.g. a condition that no longer compiles).
    """
    wire = metric.model_dump(by_alias=True, exclude_none=True)
    for condition in (metric.success_condition, metric.failure_condition):
        in_condition = sorted(set(ARG_REFERENCE.findall(condition or "")) & args.secret_names)
        if in_condition:
            # A CEL error quotes the expression's tokens, which masking cannot always recognise.
            raise ArgumentError(
                f"metric '{metric.name}': conditions cannot use secret argument '{in_condition[0]}'; "
                "use secrets in queries, URLs or headers"
            )
    secrets = set(args.secrets)
    if "job" in wire["provider"]:
        try:
            wire["provider"]["job"] = job_secrets.by_reference(
                wire["provider"]["job"], args.secret_refs, args.secret_names
            )
        except ValueError as error:
            raise ArgumentError(f"metric '{metric.name}': {error}") from None
    for part in ("provider", "successCondition", "failureCondition"):
        if part in wire:
            wire[part] = _substitute_all(wire[part], args.values)
    for provider in wire["provider"].values():
        client_secret = _oauth2_client_secret(provider)
        if client_secret:  # a secret even when written literally: never shown
            secrets.add(client_secret)
        for header in provider.get("headers", []) if isinstance(provider, dict) else []:
            source = header.pop("valueFrom", None)
            if source is None:
                continue
            if "secretKeyRef" not in source:
                raise ArgumentError(
                    f"metric '{metric.name}': header '{header['key']}' takes valueFrom.secretKeyRef only"
                )
            ref = SecretKeyRef.model_validate(source["secretKeyRef"])
            header["value"] = _read(
                ref, namespace, read_secret, f"metric '{metric.name}' header '{header['key']}'"
            )
            secrets.add(header["value"])
    try:
        return Metric.model_validate(wire), frozenset(secrets)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise ArgumentError(
            f"metric '{metric.name}' is invalid once its arguments are substituted: {where}: {problem['msg']}"
        ) from None


def _oauth2_client_secret(provider: Any) -> str | None:
    if not isinstance(provider, dict):
        return None
    secret = ((provider.get("authentication") or {}).get("oauth2") or {}).get("clientSecret")
    return secret if isinstance(secret, str) else None


_FRAGMENT = re.compile(r"[A-Za-z0-9]{4,}")


def mask(text: str, secrets: frozenset[str]) -> str:
    """`text` with every secret value replaced by `*****`.

    Error messages often quote a token of a secret rather than all of it (a parser stopping at a
    `-`), so each alphanumeric run of 4+ characters of a secret is masked too; longest first.
    """
    # URLs carry secrets percent-encoded (`ab cd` -> `ab%20cd`), so those spellings are masked too.
    spelled = set(secrets) | {quote(s, safe="") for s in secrets} | {quote_plus(s) for s in secrets}
    pieces = spelled | {fragment for secret in secrets for fragment in _FRAGMENT.findall(secret)}
    for piece in sorted(pieces, key=len, reverse=True):
        if piece:
            text = text.replace(piece, MASK)
    return text
