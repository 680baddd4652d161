"""Why the mann-whitney judge decided as it did, in the words of the rule it applies.

The judge does not compare the p-value with a threshold: it fails an interval when the confidence
interval of the Hodges-Lehmann shift (canary minus stable, in the samples' units) lies entirely
beyond tolerance x |estimate| in a direction the config calls bad, and the mean ratio canary / stable
reaches allowed_increase (or allowed_decrease). This module says which of those held.

A rank test on few samples cannot reach the configured confidence at all
(`mann_whitney.interval_reachable`); the judge then has no data to judge, and the line says the
sample is too small instead of quoting the interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from canary.analysis import judges
from canary.analysis.judges import mann_whitney as mw
from canary.cli import offline_judge
from canary.cli.offline_judge import JudgedInterval, Judgement


@dataclass(frozen=True)
class Side:
    """One side of zero the shift can lie on, and how the judge's rule reads there."""

    change: str
    where: str
    sign: str
    reaches: str
    short_of: str

    def bound(self, margin: float) -> str:
        return f"{self.sign}{_fmt(margin)}" if margin else "0"

    def allows(self, ratio: float, allowed: float) -> bool:
        """Whether the mean ratio stays short of allowed_<change> (then the change passes)."""
        return ratio < allowed if self.change == "increase" else ratio > allowed


INCREASE = Side("increase", "above", "+", "≥", "<")
DECREASE = Side("decrease", "below", "-", "≤", ">")


def _fmt(value: float) -> str:
    return f"{value:.4g}"


@dataclass(frozen=True)
class Rule:
    """The judge's effective config: its defaults overridden by the judgement's config."""

    direction: str
    tolerance: float
    confidence: float
    allowed: Mapping[str, float]
    """allowed_increase and allowed_decrease, by side."""

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Rule:
        merged = {**judges.MANN_WHITNEY_DEFAULTS, **config}
        return cls(
            direction=str(merged["direction"]),
            tolerance=float(merged["tolerance"]),
            confidence=float(merged["confidence"]),
            allowed={side.change: float(merged[f"allowed_{side.change}"]) for side in (INCREASE, DECREASE)},
        )

    def bad(self, side: Side) -> bool:
        return self.direction in (side.change, "either")

    @property
    def level(self) -> str:
        return f"{self.confidence * 100:g}%"


def why(judgement: Judgement, deciding: JudgedInterval) -> str:
    """One sentence: the verdict, where it was decided, and the part of the rule that decided it."""
    rule = Rule.of(judgement.config)
    evidence = deciding.evidence
    n_stable, n_canary = int(evidence["n_stable"]), int(evidence["n_canary"])
    head = _head(judgement, deciding)
    if not n_stable or not n_canary:
        empty = " and ".join(arm for arm, n in (("stable", n_stable), ("canary", n_canary)) if not n)
        must = ", and must_have_data is set" if deciding.verdict == "fail" else ""
        return f"{head}: no {empty} samples to compare{must}."
    if not mw.interval_reachable(n_stable, n_canary, rule.confidence):
        return (
            f"{head}: the sample is too small to conclude; with {n_stable} stable and {n_canary} "
            f"canary samples no interval of the shift reaches {rule.level} confidence; give each arm at "
            f"least {mw.samples_needed(rule.confidence)} samples per interval."
        )
    low, high = evidence["ci_low"], evidence["ci_high"]
    return (
        f"{head}: the {rule.level} interval of the shift canary - stable is [{_fmt(low)}, {_fmt(high)}] "
        f"(estimate {_fmt(evidence['estimate'])}, {n_stable} stable and {n_canary} canary samples); "
        f"{_decision(rule, evidence)}."
    )


def _head(judgement: Judgement, deciding: JudgedInterval) -> str:
    """Mann-whitney judges each interval on its own: the first failing one decides, else the last."""
    where = offline_judge.position(judgement, deciding)
    return f"fail at {where}" if deciding.verdict == "fail" else f"{deciding.verdict} at {where}, the last"


def _decision(rule: Rule, evidence: Mapping[str, float]) -> str:
    margin = rule.tolerance * abs(evidence["estimate"])
    allowance = f"(tolerance {rule.tolerance:g} times |estimate|)"
    if evidence["ci_low"] > margin:
        side = INCREASE
    elif evidence["ci_high"] < -margin:
        side = DECREASE
    else:
        bad = [s for s in (INCREASE, DECREASE) if rule.bad(s)]
        bounds = " or ".join(f"{s.where} {s.bound(margin)}" for s in bad)
        change = "change" if len(bad) == 2 else bad[0].change
        return f"it does not lie entirely {bounds} {allowance}: no significant {change}"
    beyond = f"it lies {side.where} {side.bound(margin)} {allowance}"
    if not rule.bad(side):
        return f"{beyond}, a {side.change}, which direction {rule.direction} lets pass"
    return f"{beyond}: a significant {side.change}, {_ratio(side, evidence['mean_ratio'], rule)}"


def _ratio(side: Side, ratio: float, rule: Rule) -> str:
    """The mean-ratio half of the rule: a significant change fails only when the ratio reaches allowed_*."""
    allowed = rule.allowed[side.change]
    name = f"allowed_{side.change} {allowed:g}"
    if math.isnan(ratio):
        return f"and {name} is not checked as a mean is 0"
    if side.allows(ratio, allowed):
        return f"but the mean ratio canary / stable {_fmt(ratio)} {side.short_of} {name}, so it passes"
    return f"and the mean ratio canary / stable {_fmt(ratio)} {side.reaches} {name}"
