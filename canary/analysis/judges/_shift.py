"""Vectorised Mann-Whitney U test and Hodges-Lehmann shift for many metrics at once.

Rows are metrics; each row holds one arm's samples, padded on the right with NaN when rows
have different lengths. Everything here is pure numpy/scipy.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: Per row: n_canary, n_stable, U, the combined and the within-arm tie terms.
_Ranks = tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray]

#: Metrics with at most this many (canary x stable) pairs get exact order statistics of the
#: pairwise differences; larger ones use the root-finding path (see `shift_test`).
EXACT_MAX_PAIRS = 250_000
#: Canary quantile points and control knots of the root-finding path's pair count.
COMPRESSED_POINTS = 256
#: Relative tolerance (of the row's data range) at which root finding stops.
ROOT_RTOL = 1e-12
#: Root finding also stops once its bracket holds at most this share of sigma_U pairs (or
#: a few steps of the count); the interval's half-width is about z_q sigma_U pairs.
COUNT_RTOL = 2e-4
#: Rows sorted and ranked together (their merge stays in cache), and threads doing so.
ROW_CHUNK = 32
SORT_THREADS = 2


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


def _merged(xs: FloatArray, ys: FloatArray) -> FloatArray:
    """Each row's x and y merged in ascending order, as complex ``value + arm * 1j``.

    numpy orders complex numbers by real part, then imaginary part, so a y equal to an x
    (arm 1 against 0) comes after it, and NaN pads go last. The stable sort is a merge of
    the two sorted runs (linear time), cheaper than any search of one arm in the other.
    """
    both = np.empty((xs.shape[0], xs.shape[1] + ys.shape[1]), dtype=np.complex128)
    both.real[:, : xs.shape[1]] = xs
    both.real[:, xs.shape[1] :] = ys
    both.imag[:, : xs.shape[1]] = 0.0
    both.imag[:, xs.shape[1] :] = np.where(np.isnan(ys), 0.0, 1.0)  # pads weigh nothing below
    return np.sort(both, axis=1, kind="stable")


def _tie_sums(merged: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per row: pairs x = y, the combined tie term and the within-arm tie term."""
    rows, width = merged.shape
    values = merged.real
    is_y = merged.imag
    new_group = np.ones((rows, width), dtype=bool)
    new_group[:, 1:] = values[:, 1:] != values[:, :-1]  # NaN pads are groups of one
    starts = np.flatnonzero(new_group)
    size = np.diff(np.append(starts, rows * width)).astype(np.float64)
    ny_g = np.add.reduceat(is_y.ravel(), starts)
    nx_g = size - ny_g
    first_group = np.searchsorted(starts, np.arange(rows) * width)

    def per_row(v: FloatArray) -> FloatArray:
        return np.asarray(np.add.reduceat(v, first_group), dtype=np.float64)

    cross = per_row(nx_g * ny_g)
    tie = per_row(size**3 - size)
    within = per_row(nx_g**3 - nx_g + ny_g**3 - ny_g)
    return cross, tie, within


def _u_and_ties(
    xs: FloatArray, ys: FloatArray, nx: IntArray, ny: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """U of x over y, the combined and the within-arm tie terms, for row-sorted, NaN-padded arrays.

    Exact: from the merged order, ``U = sum_i #{y < x_i} + #{x_i = y_j} / 2``.
    """
    merged = _merged(xs, ys)
    total = (nx + ny).astype(np.float64)
    y_pos = merged.imag @ np.arange(merged.shape[1], dtype=np.float64)  # sum of positions of y
    x_pos = total * (total - 1.0) / 2.0 - y_pos
    m = nx.astype(np.float64)
    u = x_pos - m * (m - 1.0) / 2.0  # position of the i-th x is i + #{y < x_i}
    values = merged.real
    tied = np.nonzero(np.any(values[:, 1:] == values[:, :-1], axis=1))[0]
    tie = np.zeros(xs.shape[0])
    within = np.zeros(xs.shape[0])
    if tied.size:
        cross, tie[tied], within[tied] = _tie_sums(merged[tied])
        u[tied] += 0.5 * cross
    return u, tie, within


def _sort_and_rank(xs: FloatArray, ys: FloatArray) -> _Ranks:
    """Sort both arms' rows in place; n_canary, n_stable, U and the two tie terms per row."""
    xs.sort(axis=1)
    ys.sort(axis=1)
    nx = np.count_nonzero(~np.isnan(xs), axis=1).astype(np.int64)
    ny = np.count_nonzero(~np.isnan(ys), axis=1).astype(np.int64)
    return (nx, ny, *_u_and_ties(xs, ys, nx, ny))


def _sorted_and_ranked(xs: FloatArray, ys: FloatArray) -> _Ranks:
    """:func:`_sort_and_rank` over chunks of rows, in a small pool of threads.

    numpy releases the GIL while it sorts and merges, so the chunks run in parallel, and a
    chunk's merge finds its rows still in cache. The results do not depend on either.
    """
    starts = range(0, max(xs.shape[0], 1), ROW_CHUNK)
    with ThreadPoolExecutor(SORT_THREADS) as pool:
        parts = list(pool.map(lambda s: _sort_and_rank(xs[s : s + ROW_CHUNK], ys[s : s + ROW_CHUNK]), starts))
    nx, ny, u, tie, within = (np.concatenate(column) for column in zip(*parts, strict=True))
    return nx, ny, u, tie, within


def _order_stat_exact(xs: FloatArray, ys: FloatArray, m: int, n: int, ranks: list[int]) -> list[float]:
    """Exact order statistics (1-based ranks) of the m*n differences x_i - y_j."""
    d = (xs[:m, None] - ys[None, :n]).ravel()
    idx = [r - 1 for r in ranks]
    part = np.partition(d, idx)
    return [float(part[i]) for i in idx]


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


def _rank_knots(ys: FloatArray, ny: IntArray, p: int) -> tuple[FloatArray, FloatArray]:
    """Knots of ``t -> #{y < t}`` for sorted rows: ``p + 1`` order statistics spread evenly,
    each twice, with the counts of values below and at-or-below it.

    Interpolating linearly between the knots is exact wherever no value lies between two
    knots, so discrete data keep their steps (and the interval ends their lattice values).
    """
    top = np.maximum(ny - 1, 0)[:, None]
    idx = np.rint(np.linspace(0.0, 1.0, p + 1)[None, :] * top).astype(np.int64)
    values = np.take_along_axis(ys, idx, axis=1)
    below = idx.astype(np.float64)
    at_or_below = below + 1.0
    tied = np.nonzero(np.any(ys[:, 1:] == ys[:, :-1], axis=1))[0]
    for r in tied:  # only rows with ties in the control arm need searching
        row = ys[r, : ny[r]]
        below[r] = np.searchsorted(row, values[r], side="left")
        at_or_below[r] = np.searchsorted(row, values[r], side="right")
    return np.repeat(values, 2, axis=1), np.stack([below, at_or_below], axis=2).reshape(values.shape[0], -1)


class _PairCount:
    """Approximate count of pairs with ``x - y <= d`` for every row and many ``d`` at once.

    Canary is summarised by ``p`` weighted midpoint quantiles, control by the knots of
    :func:`_rank_knots`, between which ranks are interpolated linearly. Every row is mapped affinely into
    ``[row + 0.2, row + 0.8]`` so one ``np.interp`` over sorted keys serves all rows.
    """

    def __init__(self, xs: FloatArray, ys: FloatArray, nx: IntArray, ny: IntArray, p: int) -> None:
        rows = xs.shape[0]
        self.qx, self.wx = _compress(xs, nx, min(p, xs.shape[1]))
        knots, ranks = _rank_knots(ys, ny, p)
        self.row = np.arange(rows, dtype=np.float64)
        self.offset = knots[:, 0]
        self.scale = np.maximum(knots[:, -1] - knots[:, 0], np.finfo(np.float64).tiny)
        self.ny = ny.astype(np.float64)
        # Sentinels hold rank 0 below and ny above the row's data.
        lo = np.zeros((rows, 1))
        self.xp = np.hstack([lo + 0.2, self._map(knots), lo + 0.8]) + self.row[:, None]
        self.fp = np.hstack([lo, ranks, self.ny[:, None]])

    def _map(self, v: FloatArray) -> FloatArray:
        return 0.25 + 0.5 * (v - self.offset[:, None]) / self.scale[:, None]

    def __call__(self, d: FloatArray) -> FloatArray:
        """Counts for ``d`` of shape (rows, k)."""
        keys = self.qx[:, None, :] - d[:, :, None]
        mapped = 0.25 + 0.5 * (keys - self.offset[:, None, None]) / self.scale[:, None, None]
        mapped = np.clip(mapped, 0.2, 0.8) + self.row[:, None, None]
        below = np.interp(mapped.ravel(), self.xp.ravel(), self.fp.ravel()).reshape(mapped.shape)
        return np.asarray(np.sum(self.wx[:, None, :] * (self.ny[:, None, None] - below), axis=2))


def _order_stats_approx(
    *,
    xs: FloatArray,
    ys: FloatArray,
    nx: IntArray,
    ny: IntArray,
    targets: FloatArray,
    count_tol: FloatArray,
) -> FloatArray:
    """Approximate order statistics of x_i - y_j (``targets``: 1-based ranks, shape (rows, k)).

    Solves ``count(d) = rank - 1/2`` for all rows and targets at once, ``count`` being the
    continuous, monotone :class:`_PairCount`: a shared grid around the difference of medians
    brackets each root, then Illinois steps shrink the brackets until they hold at most
    ``count_tol`` pairs (or are narrower than ``ROOT_RTOL`` of the data range); the root
    is interpolated linearly in the count.
    """
    rows, k = targets.shape
    ar = np.arange(rows)
    count = _PairCount(xs, ys, nx, ny, COMPRESSED_POINTS)
    lo_x, hi_x = xs[:, 0], xs[ar, np.maximum(nx - 1, 0)]
    lo_y, hi_y = ys[:, 0], ys[ar, np.maximum(ny - 1, 0)]
    span = (hi_x - lo_y) - (lo_x - hi_y)
    tol = ROOT_RTOL * np.maximum(span, np.finfo(np.float64).tiny)
    goal = targets - 0.5
    a = np.repeat((lo_x - hi_y - tol)[:, None], k, axis=1)  # no pair lies at or below a
    b = np.repeat((hi_x - lo_y)[:, None], k, axis=1)  # every pair lies at or below b
    fa = -goal
    fb = (nx * ny)[:, None] - goal
    # Grid steps: the spread of the arms over the square root of the smaller sample.
    iqr_x = xs[ar, (3 * (nx - 1)) // 4] - xs[ar, (nx - 1) // 4]
    iqr_y = ys[ar, (3 * (ny - 1)) // 4] - ys[ar, (ny - 1) // 4]
    step = np.maximum((iqr_x + iqr_y) / np.sqrt(np.minimum(nx, ny)), 1e-6 * span)
    centre = xs[ar, (nx - 1) // 2] - ys[ar, (ny - 1) // 2]
    grid = centre[:, None] + step[:, None] * np.array([-16.0, -4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0, 16.0])
    grid_f = count(grid)
    for i in range(grid.shape[1]):
        g_d, g_f = grid[:, i : i + 1], grid_f[:, i : i + 1] - goal
        left = (g_d > a) & (g_d < b) & (g_f < 0)
        right = (g_d > a) & (g_d < b) & (g_f >= 0)
        a, fa = np.where(left, g_d, a), np.where(left, g_f, fa)
        b, fb = np.where(right, g_d, b), np.where(right, g_f, fb)
    ta, tb = fa.copy(), fb.copy()  # true counts (fa, fb get Illinois-halved)
    side = np.zeros((rows, k))
    tol_k = tol[:, None]
    for _ in range(100):
        active = ((b - a) > tol_k) & ((tb - ta) > count_tol[:, None])
        if not np.any(active):
            break
        c = np.where(fb != fa, b - fb * (b - a) / (fb - fa), 0.5 * (a + b))
        # Safeguard: bisect when the secant step is not strictly inside the bracket.
        c = np.where((c > a) & (c < b), c, 0.5 * (a + b))
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
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(tb > ta, -ta / (tb - ta), 0.5)
    return np.asarray(a + np.clip(t, 0.0, 1.0) * (b - a))


def _ci_ranks(n_pairs: FloatArray, sigma: FloatArray, confidence: float) -> tuple[FloatArray, FloatArray]:
    """1-based ranks of the differences bounding the interval (see `shift_test` Notes)."""
    zq = special.ndtri(0.5 + confidence / 2.0)
    c = 0.5 + zq * sigma
    r_low = np.floor(n_pairs / 2.0 - c) + 1.0
    r_high = np.floor(n_pairs / 2.0 + c) + 1.0
    return np.clip(r_low, 1, np.maximum(n_pairs, 1)), np.clip(r_high, 1, np.maximum(n_pairs, 1))


def _own_rows(a: FloatArray, in_place: bool) -> FloatArray:
    """The rows to sort: ``a`` itself when allowed and already float64, else a copy."""
    if in_place and isinstance(a, np.ndarray) and a.dtype == np.float64 and a.flags.writeable:
        return a
    return np.array(a, dtype=np.float64)


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
    found by Illinois root finding on an approximate pair count (canary summarised by
    ``COMPRESSED_POINTS`` weighted quantiles, control by as many knots of its rank function,
    see :class:`_PairCount`). Its error is within 0.5% of the interval's width (about 0.2%
    seen at 10,000 per arm; tested against the exact order statistics), and discrete data,
    whose ends sit on a lattice, get the exact lattice values (tested). R's
    ``wilcox.test`` likewise root-finds, to an absolute tolerance of 1e-4.

    U, the p-value and the tie terms are exact at every size: both arms are sorted and
    merged in linear time. Rows are processed in chunks on ``SORT_THREADS`` threads.
    """
    xs = _own_rows(canary, overwrite_input)
    ys = _own_rows(stable, overwrite_input)
    nx, ny, u, tie, tie_within = _sorted_and_ranked(xs, ys)
    rows = xs.shape[0]
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
        sel: slice | IntArray = slice(None) if big.size == rows else big  # a view, not a copy
        found = _order_stats_approx(
            xs=xs[sel, : int(np.max(nx[big]))],
            ys=ys[sel, : int(np.max(ny[big]))],
            nx=nx[big],
            ny=ny[big],
            targets=targets,
            # A few of the count's smallest steps (a canary point's weight) at least.
            count_tol=np.maximum(
                COUNT_RTOL * sigma_ci[big], 4.0 * np.maximum(m[big] / COMPRESSED_POINTS, 1.0)
            ),
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
