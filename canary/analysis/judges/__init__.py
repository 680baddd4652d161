"""Statistical judges comparing a canary arm with the stable arm: one entry point, :func:`judge`.

Contract
--------
``judge(kind, config, observation, state) -> JudgeResult``

kind
    ``"mann-whitney"``, ``"sequential-counts"``, ``"sequential-location"`` or
    ``"sequential-tail"``.
config
    A mapping of the kind's keys (below); unknown keys and bad values raise
    :class:`JudgeConfigError` (a ``ValueError``) naming the key and the allowed values.
observation
    :class:`ArmObservation`: the samples (``stable``, ``canary``) or the counts
    (``stable_events``/``stable_total``, ``canary_events``/``canary_total``) of *this* interval
    only; sequential judges accumulate them in their state.
state
    ``None`` on the first call, then the ``state`` of the previous result (a JSON-serialisable
    dict, stored e.g. in the AnalysisRun status, so a controller restart resumes the test).

``JudgeResult.verdict`` is ``"pass"``, ``"fail"``, ``"inconclusive"`` or ``"nodata"``;
``evidence`` is a dict of floats (``p_value``, ``e_value`` for sequential kinds, ``estimate``,
``ci_low``, ``ci_high``, ``n_stable``, ``n_canary``, ...); ``state`` is ``None`` for
``mann-whitney``. A sequential ``"fail"`` is final: the running p-value never rises again.

Config keys (defaults)
----------------------
mann-whitney (stateless, one metric)
    direction ``"either"`` (``increase``/``decrease``/``either``: which change is bad),
    tolerance 0.25, confidence 0.98, nan_strategy ``"remove"`` (or ``"replace"``), outliers
    ``"keep"`` (or ``"remove"``), outlier_factor 3.0, effect_size_measure ``"meanRatio"``
    (or ``"cles"``), allowed_increase 1.0, allowed_decrease 1.0, must_have_data False.
    Verdict ``fail`` for High/Low (and NodataFailMetric), ``pass`` for Pass, ``nodata`` for
    Nodata. An empty arm is NaN as long as the other arm (Kayenta's rule): judged as zeros
    with nan_strategy ``replace``, Nodata with ``remove``. Many metrics, groups and the
    score (Kayenta's canary config): :mod:`canary.analysis.judges.kayenta`.
sequential-counts (observation: events = errors, total = requests, per arm)
    alpha 0.05, k 30.0, tolerance 0.0 (null: canary rate <= (1 + tolerance) x stable's),
    min_events 0.
sequential-location (observation: samples, e.g. log latency)
    alpha 0.05, tolerance 0.0 (allowed canary - stable shift), min_effect 0.03, max_effect 0.3
    (standard deviations), min_samples 200, min_variance 1e-12, samples_per_look 20.
sequential-tail (observation: samples, e.g. latency)
    quantile 0.99, warmup_samples 300, threshold None, alpha 0.05, k 30.0,
    tolerance 0.0, min_events 0.
``k`` also takes a list, e.g. ``[10, 30, 100]``: the test then averages
the e-values of one mixture per value with equal weights (still anytime-valid: an average of
test martingales is a test martingale).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from canary.analysis.judges import mann_whitney as mw
from canary.analysis.judges import sequential_counts as sc
from canary.analysis.judges import sequential_location as sl
from canary.analysis.judges import sequential_tail as st

__all__ = ["KINDS", "ArmObservation", "JudgeConfigError", "JudgeResult", "judge", "validate_config"]

Kind = Literal["mann-whitney", "sequential-counts", "sequential-location", "sequential-tail"]
KINDS: tuple[str, ...] = ("mann-whitney", "sequential-counts", "sequential-location", "sequential-tail")
Verdict = Literal["pass", "fail", "inconclusive", "nodata"]


class JudgeConfigError(ValueError):
    """Invalid judge kind or config; the message names the key and the allowed values."""


@dataclass(frozen=True)
class ArmObservation:
    """One interval's data for both arms: samples, or event/total counts."""

    stable: Sequence[float] | npt.NDArray[np.float64] = ()
    canary: Sequence[float] | npt.NDArray[np.float64] = ()
    stable_events: int = 0
    stable_total: int = 0
    canary_events: int = 0
    canary_total: int = 0


@dataclass(frozen=True)
class JudgeResult:
    verdict: Verdict
    evidence: dict[str, float] = field(default_factory=dict)
    state: dict[str, Any] | None = None


MANN_WHITNEY_DEFAULTS = {
    "direction": "either",
    "tolerance": 0.25,
    "confidence": 0.98,
    "nan_strategy": "remove",
    "outliers": "keep",
    "outlier_factor": 3.0,
    "effect_size_measure": "meanRatio",
    "allowed_increase": 1.0,
    "allowed_decrease": 1.0,
    "must_have_data": False,
}


def _config(cls: type[Any], kind: str, config: Mapping[str, Any]) -> Any:
    allowed = {f.name: f.type for f in fields(cls)}
    return _build(cls, kind, config, tuple(allowed))


_REPLACED_KEYS = {
    "tuning_samples": "min_effect and max_effect (the shifts, in standard deviations of one sample, "
    "the test is sharpest for)",
}
"""Keys earlier versions took, and what replaced them, so an old template's error says what to write."""


def _build(cls: type[Any], kind: str, config: Mapping[str, Any], keys: Sequence[str]) -> Any:
    _build_check_unknown(kind, config, keys)
    values = {key: tuple(v) if key in _GRID_KEYS and isinstance(v, list) else v for key, v in config.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:  # pragma: no cover - dataclass init rarely fails
        raise JudgeConfigError(str(exc)) from exc


def _check(validator: Any, cfg: Any) -> None:
    try:
        validator(cfg)
    except ValueError as exc:
        raise JudgeConfigError(str(exc)) from exc


_GRID_KEYS = ("k",)
_TEXT_KEYS = ("direction", "nan_strategy", "outliers", "effect_size_measure", "must_have_data", "threshold")
"""Config keys whose values are not numbers."""


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _num(config: Mapping[str, Any], key: str) -> None:
    v = config.get(key)
    if key in _GRID_KEYS and isinstance(v, list | tuple):
        if not v or not all(_is_num(x) for x in v):
            raise JudgeConfigError(f"{key} must be a number or a non-empty list of numbers, got {v!r}")
        return
    if v is not None and not _is_num(v):
        raise JudgeConfigError(f"{key} must be a number, got {v!r}")


def _f(v: float) -> float:
    return float(v) if math.isfinite(v) else (math.inf if v > 0 else -math.inf if v < 0 else math.nan)


def validate_config(kind: str, config: Mapping[str, Any]) -> None:
    """Raise :class:`JudgeConfigError` if `config` is not a valid configuration of `kind`.

    Judging an empty interval with no state validates exactly what `judge` would, and has no effect.
    """
    judge(kind, config, ArmObservation(), None)


def judge(
    kind: str,
    config: Mapping[str, Any],
    observation: ArmObservation,
    state: Mapping[str, Any] | None = None,
) -> JudgeResult:
    """Judge one interval of one metric; see the module docstring for the contract."""
    if kind not in KINDS:
        raise JudgeConfigError(f"kind must be one of {KINDS}, got {kind!r}")
    _check_known_keys(kind, config)
    for key, value in config.items():
        numeric = key not in _TEXT_KEYS
        if numeric or (key == "threshold" and value is not None):
            _num(config, key)
    if kind == "mann-whitney":
        return _mann_whitney(config, observation)
    if kind == "sequential-counts":
        cfg_c: sc.CountsConfig = _config(sc.CountsConfig, kind, config)
        _check(sc.validate, cfg_c)
        prev = sc.CountsState() if state is None else sc.CountsState.from_dict(state)
        new, res = sc.update(
            prev,
            errors_stable=observation.stable_events,
            errors_canary=observation.canary_events,
            requests_stable=observation.stable_total,
            requests_canary=observation.canary_total,
            config=cfg_c,
        )
        ev = _counts_evidence(res, new)
        return JudgeResult(res.verdict, ev, new.to_dict())
    if kind == "sequential-location":
        cfg_l: sl.LocationConfig = _config(sl.LocationConfig, kind, config)
        _check(sl.validate, cfg_l)
        prev_l = sl.LocationState() if state is None else sl.LocationState.from_dict(state)
        new_l, res_l = sl.update(prev_l, observation.stable, observation.canary, cfg_l)
        ev = {
            "e_value": _f(res_l.e_value),
            "p_value": _f(res_l.p_value),
            "estimate": _f(res_l.estimate),
            "ci_low": _f(res_l.ci_low),
            "ci_high": _f(res_l.ci_high),
            "n_stable": float(new_l.n_stable),
            "n_canary": float(new_l.n_canary),
        }
        return JudgeResult(res_l.verdict, ev, new_l.to_dict())
    cfg_t: st.TailConfig = _config(st.TailConfig, kind, config)
    _check(st.validate, cfg_t)
    prev_t = st.TailState() if state is None else st.TailState.from_dict(state)
    new_t, res_t = st.update(prev_t, observation.stable, observation.canary, cfg_t)
    ev = _counts_evidence(res_t, new_t.counts)
    ev["threshold"] = _f(new_t.threshold) if new_t.threshold is not None else math.nan
    return JudgeResult(res_t.verdict, ev, new_t.to_dict())


def _counts_evidence(res: sc.CountsResult, new: sc.CountsState) -> dict[str, float]:
    return {
        "e_value": _f(res.e_value),
        "p_value": _f(res.p_value),
        "estimate": _f(res.estimate),
        "ci_low": _f(res.ci_low),
        "ci_high": _f(res.ci_high),
        "n_stable": float(new.requests_stable),
        "n_canary": float(new.requests_canary),
        "events_stable": float(new.errors_stable),
        "events_canary": float(new.errors_canary),
    }


_CONFIG_CLASSES: dict[str, type[Any]] = {
    "sequential-counts": sc.CountsConfig,
    "sequential-location": sl.LocationConfig,
    "sequential-tail": st.TailConfig,
}


def _check_known_keys(kind: str, config: Mapping[str, Any]) -> None:
    """An unknown key is refused as unknown (naming the allowed keys) before any value is checked, so
    that e.g. `critical: true` is not reported as a number that is not one."""
    cls = _CONFIG_CLASSES.get(kind)
    keys = tuple(MANN_WHITNEY_DEFAULTS) if cls is None else tuple(f.name for f in fields(cls))
    _build_check_unknown(kind, config, keys)


def _build_check_unknown(kind: str, config: Mapping[str, Any], keys: Sequence[str]) -> None:
    unknown = sorted(set(config) - set(keys))
    if unknown:
        replaced = (
            f"; it was replaced by {_REPLACED_KEYS[unknown[0]]}" if unknown[0] in _REPLACED_KEYS else ""
        )
        raise JudgeConfigError(
            f"unknown config key {unknown[0]!r} for kind {kind!r}{replaced}; allowed keys: {sorted(keys)}"
        )


def _mann_whitney(config: Mapping[str, Any], observation: ArmObservation) -> JudgeResult:
    merged = {**MANN_WHITNEY_DEFAULTS, **config}
    if not isinstance(merged["must_have_data"], bool):
        raise JudgeConfigError(f"must_have_data must be true or false, got {merged['must_have_data']!r}")
    tolerance = float(merged.pop("tolerance"))
    confidence = float(merged.pop("confidence"))
    spec = mw.MetricSpec(**merged)
    try:
        mw.validate_spec(spec)
        stable, canary = mw.pad_missing_arm(observation.stable, observation.canary)
        res = mw.classify([stable], [canary], [spec], tolerance=tolerance, confidence=confidence)
    except ValueError as exc:
        raise JudgeConfigError(str(exc)) from exc
    label = res.classification[0]
    verdict: Verdict = {"High": "fail", "Low": "fail", "NodataFailMetric": "fail", "Pass": "pass"}.get(
        label, "nodata"
    )  # type: ignore[assignment]
    ev = {
        "p_value": _f(float(res.pvalue[0])),
        "statistic": _f(float(res.statistic[0])),
        "estimate": _f(float(res.estimate[0])),
        "ci_low": _f(float(res.ci_low[0])),
        "ci_high": _f(float(res.ci_high[0])),
        "mean_ratio": _f(float(res.mean_ratio[0])),
        "n_stable": float(res.n_stable[0]),
        "n_canary": float(res.n_canary[0]),
    }
    return JudgeResult(verdict, ev, None)
