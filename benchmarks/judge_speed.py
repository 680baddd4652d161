"""Speed of the Mann-Whitney (Kayenta-style) judge: metrics x samples per arm, best of N runs.

Run ``python benchmarks/judge_speed.py`` (writes ``judge_speed.json`` into ``--out DIR``, default
``benchmarks/results``) or ``--quick`` (writes nothing). The target (issue 5) is 1,000 metrics x
10,000 samples per arm in under 1 s.
Each size is timed with the judge's thread pool at 1 and at ``SORT_THREADS`` threads, next to
the cost of sorting both arms once (the floor of any exact U test). The machine is shared, so
the load average is recorded with the timings.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time

import numpy as np
from out_dir import add_out_argument

from canary.analysis.judges import _shift
from canary.analysis.judges import mann_whitney as mw

SIZES = ((100, 10_000), (1000, 1000), (1000, 10_000))


def best_of(repeat: int, run: object) -> float:
    """Best wall-clock seconds of ``repeat`` calls of ``run``."""
    assert callable(run)
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best


def time_size(n_metrics: int, n: int, repeat: int, seed: int = 7) -> dict[str, float]:
    """One table row: judge seconds at 1 and SORT_THREADS threads, and the sort of both arms."""
    rng = np.random.default_rng(seed)
    stable = rng.lognormal(0.0, 0.5, size=(n_metrics, n))
    canary = rng.lognormal(0.02, 0.5, size=(n_metrics, n))
    specs = [mw.MetricSpec(name=f"m{i}") for i in range(n_metrics)]
    threads = _shift.SORT_THREADS
    row: dict[str, float] = {"metrics": n_metrics, "samples_per_arm": n}
    try:
        _shift.SORT_THREADS = 1
        row["seconds_1_thread"] = best_of(repeat, lambda: mw.classify(stable, canary, specs))
    finally:
        _shift.SORT_THREADS = threads
    row[f"seconds_{threads}_threads"] = best_of(repeat, lambda: mw.classify(stable, canary, specs))
    row["sort_both_arms_seconds"] = best_of(
        repeat, lambda: (np.sort(stable, axis=1), np.sort(canary, axis=1))
    )
    return row


def markdown(rows: list[dict[str, float]], load: tuple[float, float, float]) -> str:
    threads = _shift.SORT_THREADS
    lines = [
        f"Mann-Whitney judge, best of runs (load average {load[0]:.1f} on {os.cpu_count()} cores)",
        "",
        f"| metrics | samples per arm | 1 thread (s) | {threads} threads (s) | sort both arms (s) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['metrics']:.0f} | {r['samples_per_arm']:.0f} | {r['seconds_1_thread']:.3f} | "
            f"{r[f'seconds_{threads}_threads']:.3f} | {r['sort_both_arms_seconds']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one run of the largest size only")
    ap.add_argument("--repeat", type=int, default=5, help="runs per size (best is kept)")
    add_out_argument(ap, ["judge_speed.json"])
    args = ap.parse_args(argv)
    sizes = SIZES[-1:] if args.quick else SIZES
    repeat = 1 if args.quick else args.repeat
    load_before = os.getloadavg()
    rows = [time_size(m, n, repeat) for m, n in sizes]
    load = os.getloadavg()
    print(markdown(rows, load))
    if not args.quick:
        args.out.mkdir(parents=True, exist_ok=True)
        meta = {
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "machine": platform.machine(),
            "cores": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": load,
            "repeat": repeat,
        }
        (args.out / "judge_speed.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
