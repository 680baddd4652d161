"""Leader election on a Lease: one leader, failover after the lease duration, instant handover on release."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from canary.cluster.kube import KubeCluster, NotLeader
from canary.cluster.kube_api import KubeApi
from canary.controller.leader import LeaderElector, LeaseRecord, Observation, next_record

T0 = datetime(2024, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _seen(holder: str, seconds_ago: float) -> Observation:
    record = LeaseRecord(holder, 15, T0, T0, 3)
    return Observation(record, T0 - timedelta(seconds=seconds_ago))


@pytest.mark.parametrize(
    ("observed", "expected_holder", "expected_transitions"),
    [
        (None, "me", 0),  # no lease yet: create it
        (_seen("me", 10), "me", 3),  # ours: renew
        (_seen("other", 14.9), None, None),  # theirs and fresh: wait
        (_seen("other", 15), "me", 4),  # theirs, unchanged for a whole lease duration: take over
        (_seen("", 0), "me", 4),  # released: take over at once
    ],
)
def test_next_record(
    observed: Observation | None, expected_holder: str | None, expected_transitions: int | None
) -> None:
    record = next_record(observed, "me", T0, 15)
    assert (record.holder if record else None) == expected_holder
    assert (record.transitions if record else None) == expected_transitions


def _elector(api: KubeApi, identity: str, clock: Clock) -> LeaderElector:
    return LeaderElector(
        api,
        namespace="kube-system",
        name="canary",
        identity=identity,
        lease_duration=15,
        renew_deadline=10,
        retry_period=2,
        clock=clock,
    )


def test_only_one_of_two_replicas_leads(api: KubeApi) -> None:
    clock = Clock()
    a, b = _elector(api, "a", clock), _elector(api, "b", clock)
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    assert a.is_leader() and not b.is_leader()


def test_the_follower_takes_over_once_the_leader_stops_renewing(api: KubeApi) -> None:
    clock = Clock()
    a, b = _elector(api, "a", clock), _elector(api, "b", clock)
    a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()  # b starts counting from what it saw now
    clock.advance(10)
    assert not a.is_leader()  # a missed its renew deadline: it stops first
    assert not b.try_acquire_or_renew()
    clock.advance(5)
    assert b.try_acquire_or_renew()
    assert b.is_leader()


def test_a_released_lease_is_taken_over_at_once(api: KubeApi) -> None:
    clock = Clock()
    a, b = _elector(api, "a", clock), _elector(api, "b", clock)
    a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    a.release()
    assert b.try_acquire_or_renew()
    assert not a.is_leader()


def test_a_renewing_leader_keeps_the_lease(api: KubeApi) -> None:
    clock = Clock()
    a, b = _elector(api, "a", clock), _elector(api, "b", clock)
    for _ in range(10):
        assert a.try_acquire_or_renew()
        assert not b.try_acquire_or_renew()
        clock.advance(5)


def test_a_replica_that_is_not_leader_never_writes(api: KubeApi) -> None:
    clock = Clock()
    a, b = _elector(api, "a", clock), _elector(api, "b", clock)
    a.try_acquire_or_renew()
    b.try_acquire_or_renew()
    cluster = KubeCluster(api, may_write=b.is_leader)
    with pytest.raises(NotLeader):
        cluster.create_job("ns", "j", {}, {}, owner_run="r")
