"""LabelSelector.matches: Kubernetes label-selector semantics, one operator per case."""

from __future__ import annotations

from typing import Any

import pytest

from canary.api.base import LabelSelector

LABELS = {"app": "web", "tier": "front"}


@pytest.mark.parametrize(
    ("selector", "selected"),
    [
        ({"matchLabels": {"app": "web"}}, True),
        ({"matchLabels": {"app": "web", "tier": "back"}}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "edge"]}]}, True),
        ({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["back"]}]}, True),
        ({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}, False),
        ({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, False),
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}],
            },
            False,
        ),
        ({}, True),
    ],
)
def test_a_selector_selects_labels_when_every_term_holds(selector: dict[str, Any], selected: bool) -> None:
    assert LabelSelector.model_validate(selector).matches(LABELS) is selected


def test_only_a_selector_without_terms_is_empty() -> None:
    assert LabelSelector().empty
    assert not LabelSelector.model_validate({"matchExpressions": [{"key": "a", "operator": "Exists"}]}).empty
