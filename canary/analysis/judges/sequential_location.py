"""Anytime-valid one-sided test of a location shift of a continuous metric (normal mixture).

Null hypothesis: ``mean(canary) - mean(stable) <= tolerance`` (for log latency, a tolerance of
``ln(1.02)`` allows a 2% slowdown). Only "canary larger" rejects. The test keeps running
means and variances per arm and may be checked after every interval.

Within an update the samples are judged at several looks, not only at the end: a boundary crossed
halfway through the interval is evidence even if the end of the interval falls back below it,
because Ville's inequality bounds the running maximum of the e-process, wherever it is read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

from canary.analysis.judges._mixture import log_mean_exp
from canary.analysis.judges._state import NumericState

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Verdict = Literal["pass", "fail", "inconclusive", "nodata"]

# The mixture's effects, in standard deviations of one sample: 16 log-spaced points from 0.03 to 0.3.
# Shifts below 0.03 sd need over 10^4 samples per arm at any test; above 0.3 sd every test decides
# in about min_samples. Log spacing weights every scale of shift alike, where a normal mixture is
# sharpest at one sample size; benchmarks/results/detection.md shows what this grid achieves.
DEFAULT_MIN_EFFECT = 0.03
DEFAULT_MAX_EFFECT = 0.3
EFFECT_POINTS = 16
# A look every 20 samples of the smaller arm keeps the grid fine against what any test needs (the
# benchmark's smallest oracle is 189 canary samples), and at most 50 looks bound the work of an update.
DEFAULT_SAMPLES_PER_LOOK = 20
MAX_LOOKS_PER_UPDATE = 50


@dataclass(frozen=True)
class LocationConfig:
    """Parameters of the location test.

    alpha : false-alarm bound.
    tolerance : allowed shift canary - stable in the metric's units (>= 0 shifts tolerated).
    min_effect, max_effect : the shifts the test is sharpest for, in standard deviations of one
        sample (``(mu_c - mu_s - tolerance) / sigma``): the e-value averages one test per
        effect on :data:`EFFECT_POINTS` log-spaced points between them (:func:`effect_grid`).
        Samples that are averages (e.g. one per pod and minute) have a small sigma, so a
        relevant shift is more standard deviations: raise both.
    min_samples : no rejection before each arm has this many samples (variance guard).
    min_variance : floor of each arm's variance estimate.
    samples_per_look : an update's samples, taken in arrival order, are judged after about this
        many samples of the smaller arm (:func:`looks_for`, :func:`look_sizes`), at least once
        and at most :data:`MAX_LOOKS_PER_UPDATE` times; a large value judges the end only.
    """

    alpha: float = 0.05
    tolerance: float = 0.0
    min_effect: float = DEFAULT_MIN_EFFECT
    max_effect: float = DEFAULT_MAX_EFFECT
    min_samples: int = 200
    min_variance: float = 1e-12
    samples_per_look: int = DEFAULT_SAMPLES_PER_LOOK


@dataclass(frozen=True)
class LocationState(NumericState):
    """Running count, mean and sum of squared deviations per arm, and the running-min p."""

    n_stable: int = 0
    mean_stable: float = 0.0
    m2_stable: float = 0.0
    n_canary: int = 0
    mean_canary: float = 0.0
    m2_canary: float = 0.0
    p_value: float = 1.0


@dataclass(frozen=True)
class LocationResult:
    """Evidence at one check: e-value, running-min p-value, shift estimate and its interval."""

    verdict: Verdict
    e_value: float
    p_value: float
    estimate: float
    ci_low: float
    ci_high: float


def effect_grid(min_effect: float, max_effect: float) -> FloatArray:
    """The mixture's effects: :data:`EFFECT_POINTS` log-spaced values (one if they are equal)."""
    points = 1 if min_effect == max_effect else EFFECT_POINTS
    return np.geomspace(min_effect, max_effect, points)


def _standardised(
    n_s: FloatArray, var_s: FloatArray, n_c: FloatArray, var_c: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """(intrinsic time ``v = n_eff``, ``sqrt(v) / se``): a shift times the second is ``S``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        v = 1.0 / (1.0 / n_c + 1.0 / n_s)
        return v, np.sqrt(v / (var_c / n_c + var_s / n_s))


def location_log_evalue(
    *,
    n_s: FloatArray,
    mean_s: FloatArray,
    var_s: FloatArray,
    n_c: FloatArray,
    mean_c: FloatArray,
    var_c: FloatArray,
    tolerance: float,
    effects: FloatArray,
) -> FloatArray:
    """Log of the one-sided mixture e-value (vectorised over the running moments).

    Null hypothesis: ``mu_c - mu_s <= tolerance``.

    Parameters
    ----------
    n_s, mean_s, var_s, n_c, mean_c, var_c : running size, mean and variance per arm.
    tolerance : allowed shift.
    effects : the mixture's standardised effects ``lambda_k > 0`` (:func:`effect_grid`).

    Returns
    -------
    log_e : array
        ``ln E`` with ``E = mean_k exp(lambda_k S - lambda_k^2 v / 2)``, ``v = n_eff =
        1 / (1/n_c + 1/n_s)``, ``S = (mean_c - mean_s - tolerance) sqrt(v) / se`` and
        ``se^2 = var_c/n_c + var_s/n_s``.

    Notes
    -----
    ``S`` behaves as a Brownian motion in the intrinsic time ``v`` with drift ``delta`` per
    unit of ``v``, ``delta`` the standardised shift beyond the tolerance (<= 0 under the null).
    ``exp(l S - l^2 v / 2)`` is then a nonnegative supermartingale for every ``l > 0``, and an
    average of them is one too, starting at 1: ``P(sup E >= 1/alpha) <= alpha`` by Ville's
    inequality ([1]; Robbins' method of mixtures). Each component is the likelihood ratio of
    drift ``lambda_k`` against drift 0; log spacing gives every scale of shift in the range the
    same weight.

    Variance: the standard error uses the running variances, floored. This is the
    asymptotic confidence sequence of [2]: the guarantee holds as the sample grows, and a
    minimum sample size per arm (``min_samples``) keeps early, noisy variance estimates from
    rejecting. The benchmark checks the A/A false-alarm rate at 10 requests/s per arm.

    References
    ----------
    .. [1] Howard, S. R., Ramdas, A., McAuliffe, J., Sekhon, J. (2021). Time-uniform,
           nonparametric, nonasymptotic confidence sequences. Ann. Statist. 49(2).
    .. [2] Waudby-Smith, I., Arbour, D., Sinha, R., Kennedy, E. H., Ramdas, A. (2024).
           Time-uniform central limit theory and asymptotic confidence sequences.
           Ann. Statist. 52(6).
    """
    v, scale = _standardised(n_s, var_s, n_c, var_c)
    with np.errstate(invalid="ignore"):
        s = (mean_c - mean_s - tolerance) * scale
        out = log_mean_exp([lam * s - 0.5 * lam * lam * v for lam in effects])
    return np.asarray(np.where(np.isfinite(out), out, -np.inf), dtype=np.float64)


def _two_sided_log_evalue(s: float, v: float, effects: FloatArray) -> float:
    """``ln mean_k cosh(lambda_k s) exp(-lambda_k^2 v / 2)``: the mixture over +-lambda_k."""
    parts = np.logaddexp(effects * s, -effects * s) - np.log(2.0) - 0.5 * effects * effects * v
    return float(special.logsumexp(parts) - np.log(effects.size))


def half_width(
    *, n_s: float, var_s: float, n_c: float, var_c: float, effects: FloatArray, alpha: float
) -> float:
    """Half-width of the two-sided confidence sequence for the shift.

    The shifts whose two-sided mixture e-value stays below ``1/alpha`` (the mixture of
    :func:`location_log_evalue` over ``+-lambda_k``). The e-value grows with ``|S|``, so the
    bound ``S*`` is the one root between 0 (e-value below 1) and the ``S`` where one component
    alone reaches ``len(effects) / alpha``; the half-width is ``S* se / sqrt(v)``.
    """
    as_array = [np.asarray(x, dtype=np.float64) for x in (n_s, var_s, n_c, var_c)]
    v, scale = (float(x) for x in _standardised(*as_array))
    level = np.log(1.0 / alpha)
    hi = float(np.min((np.log(2 * effects.size / alpha) + 0.5 * effects * effects * v) / effects))
    root = optimize.brentq(lambda s: _two_sided_log_evalue(s, v, effects) - level, 0.0, hi, xtol=1e-12)
    return float(root) / scale


def validate(config: LocationConfig) -> None:
    if not 0.0 < config.alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {config.alpha!r}")
    if not 0.0 < config.min_effect <= config.max_effect < np.inf:
        raise ValueError(
            f"min_effect and max_effect must satisfy 0 < min_effect <= max_effect, "
            f"got {config.min_effect!r} and {config.max_effect!r}"
        )
    if config.min_samples < 2:
        raise ValueError(f"min_samples must be >= 2, got {config.min_samples!r}")
    if not config.min_variance >= 0:
        raise ValueError(f"min_variance must be >= 0, got {config.min_variance!r}")
    every = config.samples_per_look
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"samples_per_look must be a whole number >= 1, got {every!r}")


def looks_for(n_stable: int | IntArray, n_canary: int | IntArray, samples_per_look: int) -> IntArray:
    """Looks in an update of these sizes: one per ``samples_per_look`` of the smaller arm, rounded up,
    from 1 to :data:`MAX_LOOKS_PER_UPDATE`."""
    smaller = np.minimum(np.asarray(n_stable, dtype=np.int64), np.asarray(n_canary, dtype=np.int64))
    return np.asarray(np.clip(-(-smaller // samples_per_look), 1, MAX_LOOKS_PER_UPDATE), dtype=np.int64)


def look_sizes(n: int | IntArray, looks: int | IntArray, width: int | None = None) -> IntArray:
    """Samples of an ``n``-sample batch judged at each look: ``floor(j n / looks)``, ``j = 1..looks``,
    on a last, new axis; with ``width`` > ``looks`` the whole batch repeats to that length (so
    batches with different numbers of looks share one array).

    The slices depend on the counts only, never on the values, so the looks are a sequence of
    stopping points fixed in advance and Ville's bound covers them all.
    """
    per = np.asarray(looks, dtype=np.int64)[..., None]
    j = np.arange(1, (int(np.max(looks)) if width is None else width) + 1, dtype=np.int64)
    return np.asarray(np.asarray(n, dtype=np.int64)[..., None] * np.minimum(j, per) // per, dtype=np.int64)


def merged_moments(
    n: int, mean: float, m2: float, batch: FloatArray, sizes: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(count, mean, sum of squared deviations) of the running moments merged with ``batch[:k]``
    for each ``k`` in ``sizes`` (Chan et al.'s parallel update, vectorised over the prefixes)."""
    shift = float(np.mean(batch)) if batch.size else 0.0  # centring keeps the prefix sums exact
    d = batch - shift
    s1 = np.concatenate(([0.0], np.cumsum(d)))[sizes]
    s2 = np.concatenate(([0.0], np.cumsum(d * d)))[sizes]
    nb = sizes.astype(np.float64)
    tot = n + nb
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_b = np.where(nb > 0, s1 / nb, 0.0) + shift
        m2_b = np.where(nb > 0, s2 - s1 * s1 / nb, 0.0)
        delta = mean_b - mean
        frac = np.where(tot > 0, nb / tot, 0.0)
    return tot, mean + delta * frac, m2 + m2_b + delta * delta * n * frac


def _clean(samples: npt.ArrayLike) -> FloatArray:
    x = np.asarray(samples, dtype=np.float64).ravel()
    return x[~np.isnan(x)]


def look_evidence(
    *,
    n_s: FloatArray,
    mean_s: FloatArray,
    var_s: FloatArray,
    n_c: FloatArray,
    mean_c: FloatArray,
    var_c: FloatArray,
    config: LocationConfig,
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """The log e-value of `config`'s test at each look, and where it may reject (each arm has
    ``min_samples``): what :func:`update` judges, for callers that simulate many looks at once."""
    log_e = location_log_evalue(
        n_s=n_s,
        mean_s=mean_s,
        var_s=var_s,
        n_c=n_c,
        mean_c=mean_c,
        var_c=var_c,
        tolerance=config.tolerance,
        effects=effect_grid(config.min_effect, config.max_effect),
    )
    return log_e, (n_s >= config.min_samples) & (n_c >= config.min_samples)


def update(
    state: LocationState, stable: npt.ArrayLike, canary: npt.ArrayLike, config: LocationConfig
) -> tuple[LocationState, LocationResult]:
    """Add one interval's samples (in arrival order, NaN dropped) and judge.

    ``verdict``: ``"fail"`` once the running p-value, the minimum of ``1/E`` over every look so
    far, is <= alpha; ``"nodata"`` while an arm has no sample; ``"inconclusive"`` before
    ``min_samples`` per arm; else ``"pass"``. ``e_value`` is the e-value at the end of the update.
    """
    validate(config)
    s, c = _clean(stable), _clean(canary)
    looks = looks_for(s.size, c.size, config.samples_per_look)
    ns, ms, qs = merged_moments(
        state.n_stable, state.mean_stable, state.m2_stable, s, look_sizes(s.size, looks)
    )
    nc, mc, qc = merged_moments(
        state.n_canary, state.mean_canary, state.m2_canary, c, look_sizes(c.size, looks)
    )
    end = LocationState(
        int(ns[-1]), float(ms[-1]), float(qs[-1]), int(nc[-1]), float(mc[-1]), float(qc[-1]), state.p_value
    )
    if end.n_stable == 0 or end.n_canary == 0:
        return end, LocationResult("nodata", 1.0, state.p_value, float("nan"), -np.inf, np.inf)
    estimate = end.mean_canary - end.mean_stable
    if min(end.n_stable, end.n_canary) < config.min_samples:
        return end, LocationResult("inconclusive", 1.0, state.p_value, estimate, -np.inf, np.inf)
    vs = np.maximum(qs / np.maximum(ns - 1, 1), config.min_variance)
    vc = np.maximum(qc / np.maximum(nc - 1, 1), config.min_variance)
    log_e, judged = look_evidence(n_s=ns, mean_s=ms, var_s=vs, n_c=nc, mean_c=mc, var_c=vc, config=config)
    effects = effect_grid(config.min_effect, config.max_effect)
    e = float(np.exp(min(float(log_e[-1]), 700.0)))
    peak = float(np.exp(min(float(np.max(log_e[judged])), 700.0)))
    p = min(state.p_value, 1.0 / peak if peak > 0 else 1.0, 1.0)
    hw = half_width(n_s=ns[-1], var_s=vs[-1], n_c=nc[-1], var_c=vc[-1], effects=effects, alpha=config.alpha)
    new = dataclasses.replace(end, p_value=p)
    verdict: Verdict = "fail" if p <= config.alpha else "pass"
    return new, LocationResult(verdict, e, p, estimate, estimate - hw, estimate + hw)
