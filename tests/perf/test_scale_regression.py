"""The embedded scale benchmark, short form: per-reconcile cost must not grow with the fleet.

`benchmarks/controller_scale.py` run at two sizes in this process: the CPU time per reconcile at
LARGE Rollouts may be at most MAX_RATIO times that at SMALL Rollouts. A ratio measured in the same
run, never an absolute time, so a slow or busy machine does not fail it, while work per reconcile
that grows with the fleet (a reconcile reading every ReplicaSet of the cluster, as adoption once
did: about 5x here at these sizes) does. CPU time of this thread, not wall time: other processes on
a shared machine do not inflate it.

Sizes: the quadratic term must dominate the engine's constant cost at LARGE for a 3x bound to
catch it; at 300 Rollouts the old adoption path was only at 2.9x, at 500 it is near 5x.
"""

from __future__ import annotations

import time

import controller_scale

from canary import logs

SMALL, LARGE = 25, 500
MAX_RATIO = 3.0


def _cpu_per_reconcile(count: int) -> float:
    result = controller_scale.run(count, max_virtual_seconds=3600.0, timer=time.thread_time)
    assert result["promoted"] == count, result
    return 1.0 / result["reconciles_per_second"]


def test_cpu_per_reconcile_does_not_grow_with_the_fleet() -> None:
    logs.configure("warning")
    # The small fleet three times (the first also warms up imports and caches), the best kept:
    # its run is short, so one preemption or collection would move it most.
    small = min(_cpu_per_reconcile(SMALL) for _ in range(3))
    large = _cpu_per_reconcile(LARGE)
    ratio = large / small
    assert ratio <= MAX_RATIO, (
        f"a reconcile costs {ratio:.1f}x more CPU with {LARGE} Rollouts ({large * 1e3:.2f} ms) than "
        f"with {SMALL} ({small * 1e3:.2f} ms): some per-reconcile work grows with the fleet "
        f"(profile: python -m cProfile -s tottime benchmarks/controller_scale.py --rollouts {LARGE} --out /tmp)"
    )
