"""Replica math: pod counts that carry a weight, within the surge and availability budgets."""

import pytest

from canary.engine.replicas import (
    Counts,
    Current,
    rolling_step,
    routed_canary_count,
    routed_stable_count,
    weighted_counts,
)


@pytest.mark.parametrize(
    ("replicas", "weight", "surge", "expected"),
    [
        (1, 1, 1, Counts(1, 1)),  # Argo docs: 1 replica at 1% with maxSurge 1 -> canary 1 / stable 1
        (1, 50, 0, Counts(1, 0)),  # Argo docs: maxSurge 0 at 50% -> canary 1 / stable 0
        (10, 20, 3, Counts(2, 8)),
        (4, 10, 1, Counts(1, 4)),
        (5, 50, 0, Counts(3, 2)),  # a tie between 2/3 and 3/2 goes to the larger canary
        (3, 50, 0, Counts(2, 1)),  # 1/3 and 2/3 are exactly as far from 50% (no float rounding)
        (6, 50, 1, Counts(3, 3)),
        (7, 50, 0, Counts(4, 3)),
        (4, 50, 1, Counts(2, 2)),
        (3, 0, 1, Counts(0, 3)),
        (3, 100, 1, Counts(3, 0)),
        (0, 50, 1, Counts(0, 0)),
        (2, 99, 0, Counts(1, 1)),  # neither side is 0 for a weight strictly between 0 and 100
    ],
)
def test_weighted_counts_approximate_the_weight(
    replicas: int, weight: int, surge: int, expected: Counts
) -> None:
    assert weighted_counts(replicas, weight, surge) == expected


def test_rolling_step_grows_the_canary_within_max_surge() -> None:
    current = Current(canary_spec=0, canary_available=0, stable_spec=4, stable_available=4)
    assert rolling_step(Counts(2, 2), current, replicas=4, max_surge=1, max_unavailable=0) == Counts(1, 4)


def test_rolling_step_shrinks_stable_only_as_far_as_availability_allows() -> None:
    current = Current(canary_spec=1, canary_available=0, stable_spec=4, stable_available=4)
    assert rolling_step(Counts(2, 2), current, replicas=4, max_surge=1, max_unavailable=0).stable == 4
    ready = Current(canary_spec=1, canary_available=1, stable_spec=4, stable_available=4)
    assert rolling_step(Counts(2, 2), ready, replicas=4, max_surge=1, max_unavailable=0).stable == 3


def test_rolling_step_aborting_without_a_router_replaces_the_canary_only_as_stable_becomes_available() -> None:
    # the issue-13 reproduction: replicas 3, maxSurge 2, maxUnavailable 0, canary 3/3, stable 0/0
    start = Current(canary_spec=3, canary_available=3, stable_spec=0, stable_available=0)
    assert rolling_step(Counts(0, 3), start, replicas=3, max_surge=2, max_unavailable=0) == Counts(3, 2)
    two_up = Current(canary_spec=3, canary_available=3, stable_spec=2, stable_available=2)
    assert rolling_step(Counts(0, 3), two_up, replicas=3, max_surge=2, max_unavailable=0) == Counts(1, 3)


def test_rolling_step_shrinks_a_side_above_the_surge_cap_even_below_its_target() -> None:
    # scaled back from 8 to 4 while the new revision crash-loops: canary 6 (none available), stable 4
    over = Current(canary_spec=6, canary_available=0, stable_spec=4, stable_available=4)
    assert rolling_step(Counts(4, 0), over, replicas=4, max_surge=2, max_unavailable=0) == Counts(2, 4)


def test_rolling_step_lets_unavailable_pods_go_without_budget() -> None:
    crashing_stable = Current(canary_spec=0, canary_available=0, stable_spec=4, stable_available=0)
    assert rolling_step(Counts(2, 2), crashing_stable, replicas=4, max_surge=1, max_unavailable=0).stable == 2


def test_rolling_step_with_no_surge_frees_a_slot_first() -> None:
    current = Current(canary_spec=0, canary_available=0, stable_spec=4, stable_available=4)
    assert rolling_step(Counts(2, 2), current, replicas=4, max_surge=0, max_unavailable=1) == Counts(0, 3)


@pytest.mark.parametrize(
    ("replicas", "weight", "max_weight", "min_pods", "expected"),
    [
        (10, 15, 100, None, 2),
        (5, 1, 100, None, 1),
        (10, 50, 1000, None, 1),
        (10, 0, 100, None, 0),
        (10, 5, 100, 2, 2),
    ],
)
def test_routed_canary_count_is_the_ceiling_of_its_share(
    replicas: int, weight: int, max_weight: int, min_pods: int | None, expected: int
) -> None:
    assert routed_canary_count(replicas, weight, max_weight, min_pods) == expected


def test_routed_stable_stays_full_without_dynamic_stable_scale() -> None:
    assert routed_stable_count(10, 80, 80, 100, dynamic=False) == 10


def test_dynamic_stable_scale_keeps_the_share_the_router_still_sends_to_stable() -> None:
    assert routed_stable_count(10, 80, 20, 100, dynamic=True) == 8
    assert routed_stable_count(10, 80, 80, 100, dynamic=True) == 2
