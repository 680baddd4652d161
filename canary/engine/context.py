"""The inputs of one decision, with the views of them that the step machine and convergence share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from canary.api.rollout import CanaryStep, Rollout
from canary.engine import steps as step_list
from canary.engine import targets
from canary.engine.observed import Observed
from canary.engine.progress import Progress


@dataclass(frozen=True)
class DecisionContext:
    """What one decision reads: the Rollout, the observed cluster, the time and the current template."""

    rollout: Rollout
    observed: Observed
    now: datetime
    template: Mapping[str, Any]

    @property
    def steps(self) -> Sequence[CanaryStep]:
        return step_list.of(self.rollout)

    def sides(self, progress: Progress) -> targets.Sides:
        others = [
            rs
            for rs in self.observed.replica_sets
            if rs.pod_template_hash not in (progress.canary, progress.stable)
        ]
        canary = None if progress.complete else self.observed.replica_set(progress.canary)
        strategy = self.rollout.spec.strategy.canary
        services = (strategy.canary_service, strategy.stable_service) if strategy else (None, None)
        return targets.Sides(
            canary,
            self.observed.replica_set(progress.stable),
            others,
            canary_endpoints=self._endpoints(services[0], progress.canary),
            stable_endpoints=self._endpoints(services[1], progress.stable),
        )

    def _endpoints(self, service: str | None, pod_hash: str | None) -> int | None:
        """The ready endpoints of a routed `service` that are pods of `pod_hash` (None: not observed)."""
        if self.rollout.spec.strategy.traffic_routing is None or not service or pod_hash is None:
            return None
        counts = self.observed.ready_endpoints.get(service)
        return None if counts is None else counts.get(pod_hash, 0)

    def applied_weight(self, progress: Progress) -> int:
        """The canary weight last routed, in units of maxTrafficWeight as the status stores it."""
        weights = self.rollout.status.canary.weights
        if weights is None:
            return self._routed_without_status(progress)
        if weights.canary.pod_template_hash != progress.canary or self._routes_elsewhere(progress):
            return 0
        max_weight = self.rollout.spec.strategy.max_weight
        if max_weight != 100 and weights.canary.weight + weights.stable.weight == 100:
            # Written before weights were in maxTrafficWeight units: percent, canary + stable = 100
            # (in units the two always add up to maxTrafficWeight, so 100 only when that is 100).
            return round(weights.canary.weight * max_weight / 100)
        return weights.canary.weight

    def _routes_elsewhere(self, progress: Progress) -> bool:
        # The canary Service still selects another revision (one that keeps its share until stable
        # can take it): none of the routed weight reaches this canary yet.
        service = step_list.canary_of(self.rollout).canary_service
        selected = self.observed.service_selectors.get(service) if service else None
        return selected is not None and selected not in (progress.canary, progress.stable)

    def _routed_without_status(self, progress: Progress) -> int:
        # A lost status lost the weight with it; the router still sends its weight to the canary
        # Service, and assuming 0 would move that share at once onto a stable that may lack the pods.
        service = step_list.canary_of(self.rollout).canary_service
        if service is None or self.observed.service_selectors.get(service) != progress.canary:
            return 0
        return self.observed.router_weight or 0

    def plan(self, progress: Progress, index: int) -> targets.Plan:
        return targets.plan_step(
            self.rollout,
            index,
            self.sides(progress),
            self.applied_weight(progress),
            self.observed.router_weight,
        )
