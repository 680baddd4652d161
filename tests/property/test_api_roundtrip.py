"""Any valid Rollout survives parse -> serialise -> parse unchanged, so what the controller writes back
is what GitOps tools wrote (no field lost, none invented)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from canary.api.rollout import Rollout

durations = st.one_of(
    st.integers(min_value=0, max_value=86_400),
    st.builds(lambda n, unit: f"{n}{unit}", st.integers(0, 999), st.sampled_from(["ms", "s", "m", "h"])),
)
steps = st.one_of(
    st.builds(lambda w: {"setWeight": w}, st.integers(0, 100)),
    st.just({"pause": {}}),
    st.builds(lambda d: {"pause": {"duration": d}}, durations),
    st.builds(
        lambda name, value: {
            "analysis": {"templates": [{"templateName": name}], "args": [{"name": "service", "value": value}]}
        },
        st.text("abcdefgh-", min_size=1, max_size=12),
        st.text(min_size=0, max_size=12),
    ),
)


def rollout_document(step_list: list[dict[str, Any]], replicas: int, surge: int | str) -> dict[str, Any]:
    return {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web"}]}},
            "strategy": {"canary": {"steps": step_list, "maxSurge": surge, "maxUnavailable": 1}},
        },
    }


@given(
    st.lists(steps, max_size=12),
    st.integers(0, 1000),
    st.one_of(st.integers(0, 50), st.builds(lambda p: f"{p}%", st.integers(0, 100))),
)
def test_rollout_round_trips_through_its_wire_form(
    step_list: list[dict[str, Any]], replicas: int, surge: int | str
) -> None:
    parsed = Rollout.model_validate(rollout_document(step_list, replicas, surge))
    assert Rollout.model_validate(parsed.to_wire()) == parsed
    wire_steps = parsed.to_wire()["spec"]["strategy"]["canary"]["steps"]
    assert [set(step) for step in wire_steps] == [set(step) for step in step_list]
