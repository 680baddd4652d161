"""to_adopt(): which orphaned ReplicaSets a Rollout takes back as its own."""

from datetime import UTC, datetime
from typing import Any

from canary.api.base import LabelSelector
from canary.api.rollout import Rollout, WorkloadRef
from canary.engine.adoption import Candidate, to_adopt, workload_selector_of
from canary.engine.hashing import HASH_LABEL
from canary.sim import scenarios

LABELS = {"app": "web", HASH_LABEL: "abc"}


def rollout(**metadata: Any) -> Rollout:
    base = scenarios.rollout(namespace="shop")
    return base.model_copy(update={"metadata": base.metadata.model_copy(update={"uid": "u-1", **metadata})})


def orphan(name: str = "web-abc", **fields: Any) -> Candidate:
    return Candidate(**{"name": name, "namespace": "shop", "labels": LABELS, "controller": None, **fields})


def with_selector(selector: dict[str, Any]) -> Rollout:
    base = rollout()
    spec = base.spec.model_copy(update={"selector": LabelSelector.model_validate(selector)})
    return base.model_copy(update={"spec": spec})


def test_an_orphan_the_selector_selects_is_adopted() -> None:
    assert to_adopt(rollout(), [orphan()]) == ["web-abc"]


def test_a_replica_set_with_a_controller_owner_is_left_to_it() -> None:
    assert to_adopt(rollout(), [orphan(controller="someone-else")]) == []


def test_a_replica_set_the_rollout_already_controls_is_not_adopted_again() -> None:
    assert to_adopt(rollout(), [orphan(controller="u-1")]) == []


def test_an_orphan_whose_labels_the_selector_does_not_select_is_left_alone() -> None:
    assert to_adopt(rollout(), [orphan(labels={"app": "api", HASH_LABEL: "abc"})]) == []


def test_an_orphan_without_a_pod_template_hash_label_is_left_alone() -> None:
    assert to_adopt(rollout(), [orphan(labels={"app": "web"})]) == []


def test_an_orphan_in_another_namespace_is_left_alone() -> None:
    assert to_adopt(rollout(), [orphan(namespace="other")]) == []


def test_an_orphan_being_deleted_is_left_alone() -> None:
    assert to_adopt(rollout(), [orphan(deleting=True)]) == []


def test_a_rollout_being_deleted_adopts_nothing() -> None:
    deleting = rollout(deletion_timestamp=datetime(2024, 5, 1, tzinfo=UTC))
    assert to_adopt(deleting, [orphan()]) == []


def test_an_empty_selector_adopts_nothing_rather_than_every_replica_set() -> None:
    assert to_adopt(with_selector({}), [orphan()]) == []


def test_match_expressions_take_part_in_the_selection() -> None:
    selector = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "track", "operator": "DoesNotExist"}],
    }
    tracked = orphan("web-def", labels={**LABELS, "track": "canary"})
    assert to_adopt(with_selector(selector), [tracked, orphan()]) == ["web-abc"]


def test_every_matching_orphan_is_adopted_in_name_order() -> None:
    assert to_adopt(rollout(), [orphan("web-b"), orphan("web-a")]) == ["web-a", "web-b"]


def workload_ref_rollout() -> Rollout:
    base = rollout()
    spec = base.spec.model_copy(
        update={"selector": None, "template": None, "workload_ref": WorkloadRef(name="web")}
    )
    return base.model_copy(update={"spec": spec})


def test_a_workload_ref_rollout_adopts_with_the_selector_of_its_deployment() -> None:
    deployment = {"spec": {"selector": {"matchLabels": {"app": "web"}}}}
    selector = workload_selector_of(deployment)
    assert to_adopt(workload_ref_rollout(), [orphan()], selector) == ["web-abc"]


def test_a_workload_ref_deployment_without_a_selector_selects_by_its_template_labels() -> None:
    deployment = {"spec": {"template": {"metadata": {"labels": {"app": "api"}}}}}
    selector = workload_selector_of(deployment)
    api = orphan("api-abc", labels={"app": "api", HASH_LABEL: "abc"})
    assert to_adopt(workload_ref_rollout(), [orphan(), api], selector) == ["api-abc"]


def test_a_workload_ref_rollout_whose_deployment_is_missing_adopts_nothing() -> None:
    assert to_adopt(workload_ref_rollout(), [orphan()], workload_selector_of(None)) == []
