"""Shared building blocks of the custom-resource models.

Every model is frozen (the engine returns new values instead of mutating), speaks camelCase on the
wire (the CRD field names users know from Argo Rollouts) and snake_case in Python, and rejects
unknown fields (`canary.api.problems` turns that into a message listing the fields allowed there): a
typo in a GitOps repo must fail loudly, not be dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

API_GROUP = "canary.dev"
API_VERSION = "v1alpha1"
GROUP_VERSION = f"{API_GROUP}/{API_VERSION}"


class CRDModel(BaseModel):
    """Base of every spec/status model: frozen, camelCase aliases, unknown fields are errors."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        alias_generator=to_camel,
        use_enum_values=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The object as Kubernetes stores it: camelCase keys, unset fields omitted."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: int | str) -> float:
    """Seconds in a duration given as int seconds or a Go-style string ("30s", "5m", "1h30m", "500ms")."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 30s, 5m, 1h30m or an integer number of seconds")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("must not be negative")
        return float(value)
    text = value.strip()
    if text.isdigit():
        return float(text)
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(
            f"'{value}' is not a duration; write it like 30s, 5m, 1h30m, 500ms or an integer number of seconds"
        )
    return total


def _check_duration(value: int | str) -> int | str:
    parse_duration(value)
    return value


Duration = Annotated[int | str, AfterValidator(_check_duration)]
"""A duration kept as the user wrote it (so specs round-trip) but validated when parsed."""


def _check_int_or_percent(value: int | str) -> int | str:
    if isinstance(value, bool):
        raise ValueError("must be an integer or a percentage such as '25%'")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("must not be negative")
        return value
    if not re.fullmatch(r"\d+%", value):
        raise ValueError(f"'{value}' must be an integer or a percentage such as '25%'")
    if int(value[:-1]) > 100:
        raise ValueError(f"'{value}' must be a percentage between 0% and 100%")
    return value


IntOrPercent = Annotated[int | str, AfterValidator(_check_int_or_percent)]


def resolve_int_or_percent(value: int | str, total: int, *, round_up: bool) -> int:
    """Absolute count for maxSurge/maxUnavailable: percentages of `total`, surge rounds up, unavailable down."""
    if isinstance(value, int):
        return value
    scaled = int(value[:-1]) * total
    return -(-scaled // 100) if round_up else scaled // 100


class ObjectMeta(BaseModel):
    """The subset of Kubernetes ObjectMeta canary reads; the apiserver's other fields pass through."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, alias_generator=to_camel)

    name: str = ""
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(CRDModel):
    """A status condition, shaped like the ones `kubectl describe` and Argo CD already understand."""

    type: str
    status: ConditionStatus
    reason: str = ""
    message: str = ""
    last_transition_time: datetime | None = None
    last_update_time: datetime | None = None


class LabelSelectorRequirement(CRDModel):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = Field(default_factory=list)

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "In":
            return present and labels[self.key] in self.values
        if self.operator == "NotIn":
            return not present or labels[self.key] not in self.values
        return present == (self.operator == "Exists")


class LabelSelector(CRDModel):
    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.match_labels and not self.match_expressions

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Kubernetes semantics: every matchLabels pair and every expression holds (so the empty
        selector matches everything; see `empty`)."""
        return all(labels.get(key) == value for key, value in self.match_labels.items()) and all(
            requirement.matches(labels) for requirement in self.match_expressions
        )
