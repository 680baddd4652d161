"""Equal-weight mixtures of e-values over a grid of tuning parameters.

An average of nonnegative supermartingales that start at 1 is again one, so averaging the
e-values of tests tuned for different effect sizes keeps Ville's bound ``P(sup E >= 1/alpha)
<= alpha`` while detecting both small and large effects without choosing one tuning.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import special

FloatArray = npt.NDArray[np.float64]
Grid = float | tuple[float, ...]


def as_grid(value: Grid | Sequence[float]) -> tuple[float, ...]:
    """A tuning value or values as a tuple (one value is a one-component mixture)."""
    return (float(value),) if isinstance(value, int | float) else tuple(float(v) for v in value)


def check_grid(name: str, value: Grid | Sequence[float]) -> None:
    """Raise ``ValueError`` naming `name` unless every value is finite and > 0."""
    grid = as_grid(value)
    if not grid or not all(0.0 < v < np.inf for v in grid):
        raise ValueError(f"{name} must be a number > 0 or a non-empty list of them, got {value!r}")


def log_mean_exp(logs: Sequence[FloatArray]) -> FloatArray:
    """Log of the equal-weight average of values given by their logs (elementwise)."""
    stacked = np.stack(np.broadcast_arrays(*logs))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(special.logsumexp(stacked, axis=0) - np.log(len(logs)), dtype=np.float64)
