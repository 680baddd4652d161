"""The models accept what Argo Rollouts users write, default like Argo, and round-trip unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from canary.api.documents import KINDS
from canary.api.rollout import Rollout

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml")) + sorted((ROOT / "analysis-templates").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_survive_parse_and_serialise(path: Path) -> None:
    for data in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        model = KINDS[data["kind"]]
        first = model.model_validate(data)
        assert model.model_validate(first.to_wire()) == first


def test_defaults_match_argo_rollouts() -> None:
    rollout = Rollout.model_validate({"spec": {"workloadRef": {"name": "web"}, "strategy": {"canary": {}}}})
    canary = rollout.spec.strategy.canary
    assert rollout.spec.replicas == 1
    assert rollout.spec.revision_history_limit == 10
    assert rollout.spec.progress_deadline_seconds == 600
    assert (canary.max_surge, canary.max_unavailable) == ("25%", "25%")
    assert canary.scale_down_delay_seconds == 30
    assert rollout.spec.strategy.abort_scale_down_delay_seconds == 30


def test_an_unset_abort_delay_with_dynamic_stable_scale_lets_the_canary_follow_its_traffic() -> None:
    rollout = Rollout.model_validate(
        {"spec": {"workloadRef": {"name": "web"}, "strategy": {"canary": {"dynamicStableScale": True}}}}
    )
    assert rollout.spec.strategy.abort_scale_down_delay_seconds is None


def test_status_uses_the_crd_field_names() -> None:
    rollout = Rollout.model_validate(
        {
            "spec": {"workloadRef": {"name": "web"}, "strategy": {"canary": {}}},
            "status": {"stableRS": "abc", "currentStepIndex": 2, "canary": {}},
        }
    )
    wire = rollout.to_wire()["status"]
    assert wire["stableRS"] == "abc"
    assert wire["currentStepIndex"] == 2
