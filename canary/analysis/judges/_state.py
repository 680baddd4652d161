"""Running states of the sequential judges, kept in AnalysisRun status as JSON between checks."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, Self


class NumericState:
    """Mixin for a frozen dataclass whose fields are all ints and floats: JSON out, and back in with
    each field coerced to its declared type (JSON does not keep 3.0 apart from 3)."""

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]  # set by @dataclass on the subclass

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        hints = typing.get_type_hints(cls)
        fields = dataclasses.fields(cls)
        return cls(**{f.name: hints[f.name](data[f.name]) for f in fields})
