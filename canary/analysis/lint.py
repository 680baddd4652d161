"""Lint rules that need the analysis engine itself (the API layer cannot import it): a judge
metric's `config` is checked by the judge that will read it, so a misspelt key fails at lint time
instead of at the rollout's first measurement."""

from __future__ import annotations

from collections.abc import Iterator

from canary.analysis import judges
from canary.api.analysis import AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate
from canary.api.documents import Document
from canary.api.problems import Problem


def judge_config_problems(document: Document) -> Iterator[Problem]:
    resource = document.resource
    if not isinstance(resource, AnalysisTemplate | ClusterAnalysisTemplate | AnalysisRun):
        return
    for index, metric in enumerate(resource.spec.metrics):
        judge = metric.provider.judge
        if judge is None or judge.canary_config is not None:
            continue  # a canary config is checked field by field by its model
        try:
            judges.validate_config(judge.kind, judge.config)
        except judges.JudgeConfigError as error:
            yield Problem(f"spec.metrics[{index}].provider.judge.config", str(error))
