"""Leader election on a coordination.k8s.io/v1 Lease: of several replicas, one reconciles.

The rules (client-go's, so mixed fleets agree):
- A replica holds the lease while it renews `renewTime` at least every `renew_deadline`.
- Another replica takes over only when it has seen the same lease record unchanged for a whole
  `lease_duration` of its *own* clock (the holder's clock is never compared with ours), or when the
  holder released it (empty holderIdentity) on shutdown, which hands over at once.
- Every write is a PUT carrying the resourceVersion that was read, so two candidates racing for an
  expired lease cannot both win: the second gets 409 and stays a follower.
- A leader that cannot renew within `renew_deadline` (< lease_duration) stops leading before anyone
  else may start; `is_leader()` turns false at that moment, which fences the cluster writes.

`next_record` is the pure decision; `LeaderElector` is the loop around it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import structlog
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from canary.cluster.kube_api import KubeApi, Obj
from canary.cluster.port import Conflict

log = structlog.get_logger(__name__)

LEASE_API = "coordination.k8s.io/v1"
_MICRO_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass(frozen=True)
class LeaseRecord:
    holder: str
    duration_seconds: int
    acquire_time: datetime | None
    renew_time: datetime | None
    transitions: int = 0


@dataclass(frozen=True)
class Observation:
    """The last lease record seen, and when (by our clock) it was first seen with that content."""

    record: LeaseRecord
    seen_at: datetime


def next_record(
    observed: Observation | None, identity: str, now: datetime, duration_seconds: int
) -> LeaseRecord | None:
    """The record to write to acquire or renew the lease, or None while another holder's lease is valid."""
    if observed is None:
        return LeaseRecord(identity, duration_seconds, now, now, 0)
    record = observed.record
    if record.holder == identity:
        return replace(record, renew_time=now, duration_seconds=duration_seconds)
    held_until = observed.seen_at + timedelta(seconds=record.duration_seconds)
    if record.holder and now < held_until:
        return None
    return LeaseRecord(identity, duration_seconds, now, now, record.transitions + 1)


def observe(previous: Observation | None, record: LeaseRecord, now: datetime) -> Observation:
    """Keep the first-seen time while the record is unchanged; a changed record restarts the clock."""
    if previous is not None and previous.record == record:
        return previous
    return Observation(record, now)


class LeaderElector:
    def __init__(
        self,
        api: KubeApi,
        *,
        namespace: str,
        name: str,
        identity: str,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not retry_period < renew_deadline < lease_duration:
            raise ValueError("leader election needs retry_period < renew_deadline < lease_duration")
        self.identity = identity
        self._api = api
        self._namespace = namespace
        self._name = name
        self._duration = lease_duration
        self._renew_deadline = renew_deadline
        self._retry = retry_period
        self._clock = clock
        self._observed: Observation | None = None
        self._renewed_at: datetime | None = None
        self._lock = threading.Lock()

    def is_leader(self) -> bool:
        """True only while our last successful renew is younger than the renew deadline."""
        with self._lock:
            renewed = self._renewed_at
        return renewed is not None and self._clock() - renewed < timedelta(seconds=self._renew_deadline)

    def try_acquire_or_renew(self) -> bool:
        now = self._clock()
        try:
            lease = self._api.get(LEASE_API, "leases", self._namespace, self._name)
            if lease is not None:
                self._observed = observe(self._observed, _record_of(lease), now)
            wanted = next_record(self._observed, self.identity, now, int(self._duration))
            if wanted is None:
                return False
            written = self._write(lease, wanted)
        except (Conflict, ApiException, HTTPError, OSError) as error:
            log.info("lease not acquired", lease=self._name, identity=self.identity, error=str(error))
            return False
        self._observed = Observation(_record_of(written), now)
        with self._lock:
            self._renewed_at = now
        return True

    def run(
        self, stop: threading.Event, on_started: Callable[[], None], on_stopped: Callable[[], None]
    ) -> None:
        """Campaign and renew until `stop`; calls back when leadership starts and when it is lost."""
        leading = False
        while not stop.is_set():
            self.try_acquire_or_renew()
            if self.is_leader() and not leading:
                leading = True
                log.info("became leader", lease=self._name, identity=self.identity)
                on_started()
            elif leading and not self.is_leader():
                leading = False
                log.warning("lost leadership", lease=self._name, identity=self.identity)
                on_stopped()
            stop.wait(self._retry)
        if leading:
            self.release()
            on_stopped()

    def release(self) -> None:
        """Give the lease up on shutdown so the other replica takes over without waiting it out."""
        with self._lock:
            self._renewed_at = None
        try:
            lease = self._api.get(LEASE_API, "leases", self._namespace, self._name)
            if lease is not None and _record_of(lease).holder == self.identity:
                released = replace(_record_of(lease), holder="", duration_seconds=1)
                self._write(lease, released)
        except (Conflict, ApiException, HTTPError, OSError) as error:
            log.info("lease not released", lease=self._name, error=str(error))

    def _write(self, lease: Obj | None, record: LeaseRecord) -> Obj:
        body: Obj = {
            "apiVersion": LEASE_API,
            "kind": "Lease",
            "metadata": {"name": self._name, "namespace": self._namespace},
            "spec": _spec_of(record),
        }
        if lease is None:
            return self._api.create(LEASE_API, "leases", self._namespace, body)
        body["metadata"]["resourceVersion"] = lease["metadata"]["resourceVersion"]
        return self._api.replace(LEASE_API, "leases", self._namespace, self._name, body)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _record_of(lease: Obj) -> LeaseRecord:
    spec = lease.get("spec") or {}
    return LeaseRecord(
        holder=spec.get("holderIdentity") or "",
        duration_seconds=int(spec.get("leaseDurationSeconds") or 15),
        acquire_time=_parse_time(spec.get("acquireTime")),
        renew_time=_parse_time(spec.get("renewTime")),
        transitions=int(spec.get("leaseTransitions") or 0),
    )


def _spec_of(record: LeaseRecord) -> Obj:
    def micro(value: datetime | None) -> str | None:
        return value.astimezone(UTC).strftime(_MICRO_TIME) if value else None

    spec = {
        "holderIdentity": record.holder,
        "leaseDurationSeconds": record.duration_seconds,
        "acquireTime": micro(record.acquire_time),
        "renewTime": micro(record.renew_time),
        "leaseTransitions": record.transitions,
    }
    return {key: value for key, value in spec.items() if value is not None}
