"""Vectorised Mann-Whitney U test and Hodges-Lehmann shift for many metrics at once.

Rows are metrics; each row holds one arm's samples, padded on the right with NaN when rows
have different lengths. Everything here is pure numpy/scipy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Metrics with at most this many (canary x stable) pairs get exact order statistics of the
#: pairwise differences; larger ones use the root-finding path (see `shift_test`).
EXACT_MAX_PAIRS = 250_000
#: Canary quantile points used by the root-finding path's pair count (midpoint rule).
COMPRESSED_POINTS = 256
#: Relative tolerance (of the row's data range) at which root finding stops.
ROOT_RTOL = 1e-12
#: Root finding also stops once its bracket holds at most this share of sigma_U pairs;
#: the interval's half-width is about z_q sigma_U pairs, so the end moves < 1e-4 of it.
COUNT_RTOL = 2e-4


@dataclass(frozen=True)
class ShiftTestResult:
    """Per-metric result of :func:`shift_test` (arrays of shape ``(n_metrics,)``).

    Attributes
    ----------
    statistic : U of the canary (experiment) arm: pairs with canary > stable, ties count 1/2.
    pvalue : two-sided p-value of the normal approximation (tie and continuity corrected).
    zstatistic : ``(|U - mn/2| - 1/2) / sigma`` signed by ``U - mn/2``.
    estimate : Hodges-Lehmann shift, the median of all differences canary - stable.
    ci_low, ci_high : confidence interval of the shift from inverting the U test.
    n_stable, n_canary : sample sizes after NaN handling.
    """

    statistic: FloatArray
    pvalue: FloatArray
    zstatistic: FloatArray
    estimate: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    n_stable: IntArray
    n_canary: IntArray


def _tie_term(values: FloatArray) -> float:
    """sum(t**3 - t) over groups of equal values."""
    _, counts = np.unique(values, return_counts=True)
    c = counts.astype(np.float64)
    return float(np.sum(c**3 - c))


def _u_and_ties(xs: FloatArray, ys: FloatArray, nx: IntArray, ny: IntArray) -> tuple[FloatArray, FloatArray]:
    """U of x over y and the combined tie term, for row-sorted, NaN-padded arrays."""
    rows = xs.shape[0]
    u = np.zeros(rows)
    tie = np.zeros(rows)
    # Within-arm ties are seen on the sorted rows (NaN pads never compare equal).
    x_tied = np.any(xs[:, 1:] == xs[:, :-1], axis=1) if xs.shape[1] > 1 else np.zeros(rows, bool)
    y_tied = np.any(ys[:, 1:] == ys[:, :-1], axis=1) if ys.shape[1] > 1 else np.zeros(rows, bool)
    for r in range(rows):
        m, n = int(nx[r]), int(ny[r])
        if m == 0 or n == 0:
            continue
        x, y = xs[r, :m], ys[r, :n]
        left = np.searchsorted(y, x, side="left")
        cross = bool(np.any(y[np.minimum(left, n - 1)] == x))
        if cross or x_tied[r] or y_tied[r]:
            right = np.searchsorted(y, x, side="right")
            u[r] = 0.5 * float(np.sum(left + right))
            tie[r] = _tie_term(np.concatenate([x, y]))
        else:
            u[r] = float(np.sum(left))
    return u, tie


def _order_stat_exact(xs: FloatArray, ys: FloatArray, m: int, n: int, ranks: list[int]) -> list[float]:
    """Exact order statistics (1-based ranks) of the m*n differences x_i - y_j."""
    d = (xs[:m, None] - ys[None, :n]).ravel()
    idx = [r - 1 for r in ranks]
    part = np.partition(d, idx)
    return [float(part[i]) for i in idx]


def _count_le(
    *,
    flat_y: FloatArray,
    row_start: IntArray,
    ny: IntArray,
    qx: FloatArray,
    wx: FloatArray,
    d: FloatArray,
    offset: FloatArray,
    scale: FloatArray,
) -> FloatArray:
    """Weighted count of pairs with x - y <= d, i.e. y >= x - d, for every row at once.

    ``flat_y`` is every row's sorted control mapped affinely into [row + 0.25, row + 0.75]
    (pads at row + 0.9), so one ``searchsorted`` serves all rows. The map is monotone, so
    counts are exact up to float rounding at about 1e-13 of the row's range.
    """
    rows = qx.shape[0]
    r = np.arange(rows, dtype=np.float64)[:, None]
    q = 0.25 + 0.5 * (qx - d[:, None] - offset[:, None]) / scale[:, None]
    q = np.clip(q, 0.0, 0.8) + r
    pos = np.searchsorted(flat_y, q.ravel(), side="left").reshape(q.shape)
    below = pos - row_start[:, None]  # number of y < x - d
    return np.asarray(np.sum(wx * (ny[:, None] - below), axis=1), dtype=np.float64)


def _compress(xs: FloatArray, nx: IntArray, p: int) -> tuple[FloatArray, FloatArray]:
    """``p`` quantile points of each sorted row and their weights (rows with <= p values exact)."""
    frac = (np.arange(p) + 0.5) / p
    pos = frac[None, :] * nx[:, None] - 0.5
    pos = np.clip(pos, 0, np.maximum(nx - 1, 0)[:, None])
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, np.maximum(nx - 1, 0)[:, None])
    g = pos - i0
    take = np.take_along_axis
    qx = (1 - g) * take(xs, i0, axis=1) + g * take(xs, i1, axis=1)
    wx = np.repeat((nx / p)[:, None], p, axis=1).astype(np.float64)
    small = nx <= p  # use every point exactly
    if np.any(small):
        cols = np.arange(p)[None, :]
        exact_q = np.where(cols < nx[:, None], xs[:, :p], 0.0)
        exact_w = (cols < nx[:, None]).astype(np.float64)
        qx = np.where(small[:, None], exact_q, qx)
        wx = np.where(small[:, None], exact_w, wx)
    return qx, wx


def _start_grid(
    *,
    xs: FloatArray,
    ys: FloatArray,
    nx: IntArray,
    ny: IntArray,
    qx: FloatArray,
    span: FloatArray,
    count: Callable[[FloatArray], FloatArray],
) -> tuple[FloatArray, FloatArray]:
    """Pair counts on a grid around the difference of medians, spaced by the arms' spread."""
    rows, p = qx.shape
    # Shared starting grid around the difference of medians, scaled by the spread of the
    # arms and the sample size; each target then starts from its tightest bracket.
    med_x = qx[np.arange(rows), (np.minimum(nx, p) - 1) // 2]
    med_y = ys[np.arange(rows), (ny - 1) // 2]
    ar = np.arange(rows)
    iqr_x = xs[ar, (3 * (nx - 1)) // 4] - xs[ar, (nx - 1) // 4]
    iqr_y = ys[ar, (3 * (ny - 1)) // 4] - ys[ar, (ny - 1) // 4]
    step = (iqr_x + iqr_y) / np.sqrt(np.minimum(nx, ny))
    step = np.maximum(step, 1e-6 * span)
    grid = [-16.0, -4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0, 16.0]
    g_d = np.stack([med_x - med_y + gi * step for gi in grid], axis=1)
    g_f = np.stack(
        [count(g_d[:, i]) for i in range(len(grid))],
        axis=1,
    )
    return g_d, g_f


def _order_stat_rootfind(
    *,
    xs: FloatArray,
    ys: FloatArray,
    nx: IntArray,
    ny: IntArray,
    targets: FloatArray,
    count_tol: FloatArray,
) -> FloatArray:
    """Approximate order statistics of x_i - y_j by vectorised bracketing root finding.

    ``targets`` has shape (rows, k) of 1-based ranks. The count of pairs uses at most
    ``COMPRESSED_POINTS`` quantiles of x, each weighted by its share of x (midpoint rule).
    A row stops when its bracket holds at most ``count_tol`` pairs (or is narrower than
    ``ROOT_RTOL`` of the range); the end is then interpolated linearly in the count.
    """
    rows, k = targets.shape
    width = ys.shape[1]
    lo_y = ys[:, 0]
    hi_y = ys[np.arange(rows), np.maximum(ny - 1, 0)]
    hi_x = xs[np.arange(rows), np.maximum(nx - 1, 0)]
    offset = lo_y
    scale = np.maximum(hi_y - lo_y, np.finfo(np.float64).tiny)
    yn = 0.25 + 0.5 * (ys - offset[:, None]) / scale[:, None]
    yn = np.where(np.isnan(yn), 0.9, yn) + np.arange(rows, dtype=np.float64)[:, None]
    flat_y = yn.ravel()
    row_start = np.arange(rows, dtype=np.int64) * width
    p = min(COMPRESSED_POINTS, xs.shape[1])
    qx, wx = _compress(xs, nx, p)

    def count(d: FloatArray) -> FloatArray:
        return _count_le(
            flat_y=flat_y, row_start=row_start, ny=ny, qx=qx, wx=wx, d=d, offset=offset, scale=scale
        )

    out = np.empty((rows, k))
    span = (hi_x - lo_y) - (xs[:, 0] - hi_y)
    tol = ROOT_RTOL * np.maximum(span, np.finfo(np.float64).tiny)
    g_d, g_f = _start_grid(xs=xs, ys=ys, nx=nx, ny=ny, qx=qx, span=span, count=count)
    for j in range(k):
        goal = targets[:, j] - 0.5  # F(d) - goal changes sign at the target order statistic
        a = xs[:, 0] - hi_y - tol  # no pair lies at or below a
        b = hi_x - lo_y  # every pair lies at or below b
        fa = -goal
        fb = nx * ny - goal
        for i in range(g_d.shape[1]):
            gf = g_f[:, i] - goal
            inside = (g_d[:, i] > a) & (g_d[:, i] < b)
            a, fa = np.where(inside & (gf < 0), g_d[:, i], a), np.where(inside & (gf < 0), gf, fa)
            b, fb = np.where(inside & (gf >= 0), g_d[:, i], b), np.where(inside & (gf >= 0), gf, fb)
        ta, tb = fa.copy(), fb.copy()  # true counts (fa, fb get Illinois-halved)
        side = np.zeros(rows)
        for _ in range(100):
            active = ((b - a) > tol) & ((tb - ta) > count_tol)
            if not np.any(active):
                break
            c = np.where(fb != fa, b - fb * (b - a) / (fb - fa), 0.5 * (a + b))
            # Safeguard: bisect when the secant step is not strictly inside the bracket.
            bad = ~((c > a) & (c < b))
            c = np.where(bad, 0.5 * (a + b), c)
            fc = count(c) - goal
            go_right = fc < 0
            # Illinois: halve the value kept at an end that survives twice in a row.
            fa_new = np.where(go_right, fc, np.where(side == 1, 0.5 * fa, fa))
            fb_new = np.where(go_right, np.where(side == -1, 0.5 * fb, fb), fc)
            fa = np.where(active, fa_new, fa)
            fb = np.where(active, fb_new, fb)
            ta = np.where(active & go_right, fc, ta)
            tb = np.where(active & ~go_right, fc, tb)
            a = np.where(active & go_right, c, a)
            b = np.where(active & ~go_right, c, b)
            side = np.where(active, np.where(go_right, -1.0, 1.0), side)
        # Linear interpolation of the count inside the final bracket.
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(tb > ta, -ta / (tb - ta), 0.5)
        out[:, j] = a + np.clip(t, 0.0, 1.0) * (b - a)
    return out


def _ci_ranks(n_pairs: FloatArray, sigma: FloatArray, confidence: float) -> tuple[FloatArray, FloatArray]:
    """1-based ranks of the differences bounding the interval (see `shift_test` Notes)."""
    zq = special.ndtri(0.5 + confidence / 2.0)
    c = 0.5 + zq * sigma
    r_low = np.floor(n_pairs / 2.0 - c) + 1.0
    r_high = np.floor(n_pairs / 2.0 + c) + 1.0
    return np.clip(r_low, 1, np.maximum(n_pairs, 1)), np.clip(r_high, 1, np.maximum(n_pairs, 1))


def _sorted_rows(a: FloatArray, in_place: bool) -> FloatArray:
    """Rows sorted ascending (NaN last), in place when allowed and already float64."""
    if in_place and isinstance(a, np.ndarray) and a.dtype == np.float64 and a.flags.writeable:
        a.sort(axis=1)
        return a
    return np.sort(np.asarray(a, dtype=np.float64), axis=1)


def shift_test(
    stable: FloatArray, canary: FloatArray, confidence: float = 0.98, *, overwrite_input: bool = False
) -> ShiftTestResult:
    """Mann-Whitney U test and Hodges-Lehmann shift of canary versus stable, row by row.

    The null hypothesis is that canary and stable samples of a row come from the same
    distribution; the shift is that of canary minus stable.

    Parameters
    ----------
    stable, canary : array, shape (n_metrics, n)
        Samples, NaN marking absent values (they are ignored here; the caller applies a
        NaN strategy first).
    confidence : float
        Confidence level of the interval for the shift.
    overwrite_input : bool
        Sort float64 inputs in place (saves a copy of each arm).

    Returns
    -------
    ShiftTestResult

    Notes
    -----
    With m canary and n stable samples, ``U = #{x_i > y_j} + #{x_i = y_j}/2``, mean
    ``mn/2`` and variance ``mn/12 (N + 1 - T / (N (N - 1)))`` with ``N = m + n`` and
    ``T = sum(t**3 - t)`` over tie groups; ``z = (|U - mn/2| - 1/2) / sigma``, two-sided
    ``p = min(1, 2 sf(z))``, as ``scipy.stats.mannwhitneyu(method="asymptotic")``.

    The interval inverts the same test: it holds the shifts ``d`` for which the U of
    ``x - d`` against ``y`` is not rejected. That U is a step function of ``d`` falling at
    the sorted differences ``D(1) <= ... <= D(mn)``, so with ``c = 1/2 + z_q sigma`` the
    ends are ``D(floor(mn/2 - c) + 1)`` and ``D(floor(mn/2 + c) + 1)`` (clipped to the
    data). ``sigma`` keeps the within-arm tie term only: ties across arms exist at
    isolated ``d`` and do not move the ends otherwise. For ``mn <= EXACT_MAX_PAIRS`` the
    differences are formed and partitioned (exact); above that, each order statistic is
    found by Illinois root finding on the pair count, with the canary arm summarised by
    ``COMPRESSED_POINTS`` quantiles (midpoint rule). The error of that path is far below the
    interval's width (checked against the exact path in the tests), like R's
    ``wilcox.test``, whose root finder stops at an absolute tolerance of 1e-4.
    """
    xs = _sorted_rows(canary, overwrite_input)
    ys = _sorted_rows(stable, overwrite_input)
    nx = np.sum(~np.isnan(xs), axis=1).astype(np.int64)
    ny = np.sum(~np.isnan(ys), axis=1).astype(np.int64)
    rows = xs.shape[0]
    u, tie = _u_and_ties(xs, ys, nx, ny)
    m = nx.astype(np.float64)
    n = ny.astype(np.float64)
    total = m + n
    mn = m * n
    with np.errstate(divide="ignore", invalid="ignore"):
        var = mn / 12.0 * ((total + 1.0) - tie / (total * (total - 1.0)))
        sigma = np.sqrt(np.maximum(var, 0.0))
        z = (np.abs(u - mn / 2.0) - 0.5) / sigma
        p = np.clip(2.0 * special.ndtr(-z), 0.0, 1.0)
        z = np.where(sigma > 0, np.sign(u - mn / 2.0) * z, 0.0)
    p = np.where(sigma > 0, p, 1.0)
    # Interval ranks use the within-arm tie term only (documented above).
    tie_within = np.zeros(rows)
    for r in np.nonzero(tie > 0)[0]:
        tie_within[r] = _tie_term(xs[r, : nx[r]]) + _tie_term(ys[r, : ny[r]])
    with np.errstate(divide="ignore", invalid="ignore"):
        var_ci = mn / 12.0 * ((total + 1.0) - tie_within / (total * (total - 1.0)))
    sigma_ci = np.sqrt(np.maximum(np.nan_to_num(var_ci), 0.0))
    r_low, r_high = _ci_ranks(mn, sigma_ci, confidence)
    r_med_lo = np.maximum(np.floor((mn + 1.0) / 2.0), 1.0)
    r_med_hi = np.maximum(np.floor(mn / 2.0) + 1.0, 1.0)
    est = np.full(rows, np.nan)
    lo = np.full(rows, np.nan)
    hi = np.full(rows, np.nan)
    has = (nx > 0) & (ny > 0)
    exact = has & (mn <= EXACT_MAX_PAIRS)
    for r in np.nonzero(exact)[0]:
        ranks = [int(r_low[r]), int(r_high[r]), int(r_med_lo[r]), int(r_med_hi[r])]
        a, b, c1, c2 = _order_stat_exact(xs[r], ys[r], int(nx[r]), int(ny[r]), ranks)
        lo[r], hi[r], est[r] = a, b, 0.5 * (c1 + c2)
    big = np.nonzero(has & ~exact)[0]
    if big.size:
        # One root for the median: at this size the two middle ranks are within tolerance.
        targets = np.stack([r_low[big], r_high[big], 0.5 * (r_med_lo[big] + r_med_hi[big])], axis=1)
        width_x = int(np.max(nx[big]))
        width_y = int(np.max(ny[big]))
        found = _order_stat_rootfind(
            xs=xs[big, :width_x],
            ys=ys[big, :width_y],
            nx=nx[big],
            ny=ny[big],
            targets=targets,
            count_tol=np.maximum(COUNT_RTOL * sigma_ci[big], 1.0),
        )
        lo[big], hi[big] = found[:, 0], found[:, 1]
        est[big] = found[:, 2]
    u = np.where(has, u, np.nan)
    return ShiftTestResult(
        statistic=u,
        pvalue=np.where(has, p, np.nan),
        zstatistic=np.where(has, z, np.nan),
        estimate=est,
        ci_low=lo,
        ci_high=hi,
        n_stable=ny,
        n_canary=nx,
    )
