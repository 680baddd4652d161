"""Semantic checks that a schema cannot express: rules that span fields or documents.

`lint_documents` takes everything parsed from the files given to `canary lint` at once, so a Rollout
is checked against the AnalysisTemplates that sit beside it (e.g. an argument the template requires
and the Rollout never passes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from canary.api.analysis import ARG_REFERENCE, AnalysisTemplate, ClusterAnalysisTemplate
from canary.api.documents import Document
from canary.api.hooks import Webhook
from canary.api.problems import Problem
from canary.api.rollout import CanaryStrategy, Rollout, RolloutAnalysis

BUILT_IN_ARGS = frozenset({"stable-hash", "canary-hash", "rollout-name", "namespace"})
"""Arguments canary supplies to every run itself (see canary.analysis.args)."""


def lint_documents(documents: Sequence[Document]) -> dict[str, list[Problem]]:
    """Problems per document source: its own parse problems plus the semantic checks below."""
    templates = _templates_by_name(documents)
    report: dict[str, list[Problem]] = {}
    for document in documents:
        problems = list(document.problems)
        if isinstance(document.resource, Rollout):
            problems += list(_rollout_problems(document.resource, templates))
        if isinstance(document.resource, AnalysisTemplate | ClusterAnalysisTemplate):
            problems += list(_undeclared_arg_problems(document.resource))
        report[document.source] = sorted(problems, key=lambda p: (p.path, p.message))
    return report


def _templates_by_name(
    documents: Sequence[Document],
) -> dict[tuple[str, bool], AnalysisTemplate | ClusterAnalysisTemplate]:
    found: dict[tuple[str, bool], AnalysisTemplate | ClusterAnalysisTemplate] = {}
    for document in documents:
        resource = document.resource
        if isinstance(resource, AnalysisTemplate | ClusterAnalysisTemplate):
            found[(resource.metadata.name, isinstance(resource, ClusterAnalysisTemplate))] = resource
    return found


def _rollout_problems(
    rollout: Rollout, templates: dict[tuple[str, bool], AnalysisTemplate | ClusterAnalysisTemplate]
) -> Iterator[Problem]:
    blue_green = rollout.spec.strategy.blue_green
    if blue_green is not None:
        for field, analysis in (
            ("prePromotionAnalysis", blue_green.pre_promotion_analysis),
            ("postPromotionAnalysis", blue_green.post_promotion_analysis),
        ):
            if analysis is not None:
                path = f"spec.strategy.blueGreen.{field}"
                yield from _analysis_arg_problems(analysis, path, templates)
        yield from _webhook_problems(blue_green.webhooks, "spec.strategy.blueGreen", canary_service=None)
    canary = rollout.spec.strategy.canary
    if canary is None:
        return
    base = "spec.strategy.canary"
    yield from _step_problems(canary, base)
    yield from _webhook_problems(canary.webhooks, base, canary_service=canary.canary_service)
    if canary.analysis is not None:
        starting = canary.analysis.starting_step
        if starting is not None and starting > len(canary.steps):
            yield Problem(
                f"{base}.analysis.startingStep",
                f"{starting} is past the last step; there are {len(canary.steps)} steps",
            )
        yield from _analysis_arg_problems(canary.analysis, f"{base}.analysis", templates)
    for index, step in enumerate(canary.steps):
        if step.analysis is not None:
            yield from _analysis_arg_problems(step.analysis, f"{base}.steps[{index}].analysis", templates)


def _undeclared_arg_problems(template: AnalysisTemplate | ClusterAnalysisTemplate) -> Iterator[Problem]:
    """`{{args.x}}` used in a metric (query, URL, condition, ...) but not declared in spec.args."""
    declared = {arg.name for arg in template.spec.args} | BUILT_IN_ARGS
    for index, metric in enumerate(template.spec.metrics):
        used = sorted(set(ARG_REFERENCE.findall(json.dumps(metric.to_wire()))) - declared)
        for name in used:
            yield Problem(
                f"spec.metrics[{index}]",
                f"uses {{{{args.{name}}}}} but spec.args declares no '{name}'; add {{name: {name}}} to spec.args",
            )


def _step_problems(canary: CanaryStrategy, base: str) -> Iterator[Problem]:
    routing = canary.traffic_routing
    for index, step in enumerate(canary.steps):
        if step.set_canary_scale is not None and routing is None:
            yield Problem(
                f"{base}.steps[{index}].setCanaryScale",
                "needs trafficRouting: without a router the canary's share is set by replica counts",
            )


def _webhook_problems(
    webhooks: Sequence[Webhook], base: str, *, canary_service: str | None
) -> Iterator[Problem]:
    for index, hook in enumerate(webhooks):
        path = f"{base}.webhooks[{index}]"
        if hook.url is not None and not hook.url.startswith(("http://", "https://")):
            yield Problem(
                f"{path}.url", f"'{hook.url}' is not an http(s) URL; write it like http://tester.ns/"
            )
        if hook.load_test is not None and not canary_service:
            yield Problem(
                f"{path}.loadTest",
                "drives load at the canary Service, and there is none; set spec.strategy.canary.canaryService",
            )


def _analysis_arg_problems(
    analysis: RolloutAnalysis,
    path: str,
    templates: dict[tuple[str, bool], AnalysisTemplate | ClusterAnalysisTemplate],
) -> Iterator[Problem]:
    given = {arg.name for arg in analysis.args} | BUILT_IN_ARGS
    for index, ref in enumerate(analysis.templates):
        template = templates.get((ref.template_name, ref.cluster_scope))
        if template is None:
            continue
        for arg in template.spec.args:
            if arg.value is None and arg.value_from is None and arg.name not in given:
                yield Problem(
                    f"{path}.args",
                    f"template '{ref.template_name}' (templates[{index}]) requires argument '{arg.name}'; "
                    f"add {{name: {arg.name}, value: ...}} to args",
                )
        yield from _numeric_arg_problems(analysis, path, template, f"template '{ref.template_name}'")


def _numeric_arg_problems(
    analysis: RolloutAnalysis,
    path: str,
    template: AnalysisTemplate | ClusterAnalysisTemplate,
    where: str,
) -> Iterator[Problem]:
    """`{{args.x}}` in a metric's count, interval or limits whose value, known at lint time (the
    Rollout's literal arg or the template's default), is not a valid number there."""
    given = {arg.name: arg.value for arg in analysis.args}
    known: dict[str, str] = {}
    for arg in template.spec.args:
        if arg.name in given:
            value = given[arg.name]
            if value is None:
                return  # a valueFrom: known only against the live Rollout
            known[arg.name] = value
        elif arg.value is not None:
            known[arg.name] = arg.value
        elif arg.value_from is None:
            return  # a required argument nobody gives: reported above
        elif arg.value_from.secret_key_ref is None:
            return  # a fieldRef: known only against the live Rollout
    for metric in template.spec.metrics:
        if set(metric.templated_fields().values()) - set(known) - {a.name for a in template.spec.args}:
            continue  # an undeclared argument: reported on the template
        try:
            metric.with_arguments(known)
        except ValueError as error:
            yield Problem(f"{path}.args", f"{where}: {error}")
