"""canaryMetadata / stableMetadata: the pods of each side carry their role's labels and annotations,
replaced in place when the role changes, as Argo Rollouts' ephemeral metadata."""

from dataclasses import replace

import pytest
from builders import replica_set, revision
from pydantic import ValidationError

from canary.api.rollout import Rollout, RolloutStatus
from canary.engine import actions
from canary.engine.actions import (
    CreateReplicaSet,
    EphemeralMetadata,
    PodHash,
    SetEphemeralMetadata,
)
from canary.engine.clock import EPOCH
from canary.engine.hashing import pod_template_hash
from canary.engine.observed import Observed, ReplicaSetView
from canary.engine.rollout import Decision, decide
from canary.sim import scenarios

NOW = EPOCH
V1, V2, V3 = revision("web:1"), revision("web:2"), revision("web:3")
CANARY = EphemeralMetadata({"role": "canary"}, {"team/phase": "trial"})
STABLE = EphemeralMetadata({"role": "stable"}, {})
NONE = EphemeralMetadata()
METADATA = {
    "canaryMetadata": {"labels": {"role": "canary"}, "annotations": {"team/phase": "trial"}},
    "stableMetadata": {"labels": {"role": "stable"}},
}


def rs(
    pod_hash: str, replicas: int, revision: int, metadata: EphemeralMetadata | None = NONE
) -> ReplicaSetView:
    return replica_set(pod_hash, replicas=replicas, revision=revision, ephemeral_metadata=metadata)

def rollout(image: str = "web:2", *, metadata: bool = True, **status: object) -> Rollout:
    base = scenarios.rollout(image=image, routed=True, canary=METADATA if metadata else None)
    fields = {"stable_rs": V1, "current_pod_hash": V2, "current_step_index": 0} | status
    return base.model_copy(update={"status": RolloutStatus.model_validate(fields)})


def observed(*sets: ReplicaSetView) -> Observed:
    return Observed(replica_sets=sets, service_selectors={"web-stable": V1, "web-canary": V2})


def metadata_actions(decision: Decision) -> dict[PodHash, EphemeralMetadata]:
    return {a.pod_template_hash: a.metadata for a in decision.actions if isinstance(a, SetEphemeralMetadata)}


def test_during_a_rollout_the_canary_pods_get_canary_metadata_and_the_stable_pods_stable_metadata() -> None:
    decision = decide(rollout(), observed(rs(V1, 4, 1), rs(V2, 2, 2)), NOW)
    assert metadata_actions(decision) == {V1: STABLE, V2: CANARY}


def test_metadata_already_on_the_pods_asks_for_nothing() -> None:
    decision = decide(rollout(), observed(rs(V1, 4, 1, STABLE), rs(V2, 2, 2, CANARY)), NOW)
    assert metadata_actions(decision) == {}


def test_a_promoted_canary_gets_stable_metadata_in_place_and_the_old_stable_loses_its_own() -> None:
    promoted = rollout(stable_rs=V2, current_pod_hash=V2, current_step_index=2)
    decision = decide(promoted, observed(rs(V1, 4, 1, STABLE), rs(V2, 4, 2, CANARY)), NOW)
    assert metadata_actions(decision) == {V2: STABLE, V1: EphemeralMetadata()}
    assert not any(isinstance(a, CreateReplicaSet) for a in decision.actions), "no pod is replaced"


def test_the_step_that_promotes_switches_the_canary_to_stable_metadata() -> None:
    at_last_step = rollout(current_step_index=1)
    spec = at_last_step.spec.model_copy(
        update={
            "strategy": scenarios.rollout(
                routed=True, steps=[{"setWeight": 50}], canary=METADATA
            ).spec.strategy
        }
    )
    decision = decide(
        at_last_step.model_copy(update={"spec": spec}),
        observed(rs(V1, 4, 1, STABLE), rs(V2, 4, 2, CANARY)),
        NOW,
    )
    assert decision.status.stable_rs == V2
    assert metadata_actions(decision)[V2] == STABLE


def test_a_new_canary_replica_set_gets_its_metadata_right_after_it_is_created() -> None:
    decision = decide(rollout(), observed(rs(V1, 4, 1, STABLE)), NOW)
    created = [a for a in decision.actions if isinstance(a, CreateReplicaSet)]
    assert [a.pod_template_hash for a in created] == [V2]
    kinds = [type(a) for a in decision.actions]
    assert kinds.index(SetEphemeralMetadata) == kinds.index(CreateReplicaSet) + 1
    assert metadata_actions(decision) == {V2: CANARY}


def test_the_metadata_never_enters_the_template_so_the_pod_template_hash_stays() -> None:
    decision = decide(rollout(), observed(rs(V1, 4, 1, STABLE)), NOW)
    (created,) = [a for a in decision.actions if isinstance(a, CreateReplicaSet)]
    assert "role" not in created.template["metadata"]["labels"]
    assert created.pod_template_hash == V2 == pod_template_hash(rollout().spec.template or {})


def test_older_revisions_lose_any_metadata_canary_left_on_them() -> None:
    decision = decide(
        rollout(), observed(rs(V1, 4, 1, STABLE), rs(V2, 2, 3, CANARY), rs(V3, 1, 2, CANARY)), NOW
    )
    assert metadata_actions(decision) == {V3: EphemeralMetadata()}


def test_removing_the_fields_removes_the_metadata_from_the_pods() -> None:
    decision = decide(rollout(metadata=False), observed(rs(V1, 4, 1, STABLE), rs(V2, 2, 2, CANARY)), NOW)
    assert metadata_actions(decision) == {V1: EphemeralMetadata(), V2: EphemeralMetadata()}


def test_without_metadata_nothing_is_asked() -> None:
    decision = decide(rollout(metadata=False), observed(rs(V1, 4, 1), rs(V2, 2, 2)), NOW)
    assert metadata_actions(decision) == {}


def test_a_write_that_did_not_reach_every_pod_is_made_again() -> None:
    decision = decide(rollout(), observed(rs(V1, 4, 1, STABLE), rs(V2, 2, 2, None)), NOW)
    assert metadata_actions(decision) == {V2: CANARY}


def test_metadata_is_applied_before_traffic_moves() -> None:
    order = actions.ORDER
    assert order.index(actions.CreateReplicaSet) < order.index(SetEphemeralMetadata)
    assert order.index(SetEphemeralMetadata) < order.index(actions.SetTrafficWeight)


def test_an_aborted_canary_keeps_canary_metadata() -> None:
    aborted = rollout(abort=True, aborted_at=NOW)
    decision = decide(aborted, observed(rs(V1, 4, 1, STABLE), rs(V2, 2, 2, CANARY)), NOW)
    assert metadata_actions(decision) == {}


def test_the_hash_label_cannot_be_ephemeral_metadata() -> None:
    with pytest.raises(ValidationError, match="rollouts-pod-template-hash"):
        scenarios.rollout(canary={"canaryMetadata": {"labels": {"rollouts-pod-template-hash": "x"}}})


def test_deciding_again_on_the_applied_metadata_is_a_fixed_point() -> None:
    seen = observed(rs(V1, 4, 1), rs(V2, 2, 2))
    first = decide(rollout(), seen, NOW)
    applied = metadata_actions(first)
    again = Observed(
        replica_sets=tuple(
            replace(view, ephemeral_metadata=applied[view.pod_template_hash]) for view in seen.replica_sets
        ),
        service_selectors=seen.service_selectors,
    )
    assert metadata_actions(decide(rollout(), again, NOW)) == {}


def test_ephemeral_labels_cannot_change_a_label_the_selector_matches() -> None:
    with pytest.raises(ValidationError, match="changes a label the selector matches"):
        scenarios.rollout(canary={"stableMetadata": {"labels": {"app": "other"}}})
    scenarios.rollout(canary={"stableMetadata": {"labels": {"app": "web"}}})
