"""Turn validation failures into problems a person can act on: the field's path as written in YAML
(`spec.strategy.canary.steps[2].setWeight`) and a message that says what is allowed.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from typing import Any

from annotated_types import Ge, Le
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def format_path(loc: typing.Sequence[int | str], prefix: str = "") -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def problems_from_validation_error(
    error: ValidationError, root: type[BaseModel], prefix: str = ""
) -> list[Problem]:
    """One Problem per pydantic error, with messages that name the allowed values or fields."""
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        problems.append(Problem(format_path(loc, prefix), _message(item, root, loc)))
    return sorted(set(problems), key=lambda p: (p.path, p.message))


def _message(item: Any, root: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    kind, ctx = item["type"], item.get("ctx") or {}
    if kind == "extra_forbidden":
        return _unknown_field_message(root, loc)
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return _range_message(root, loc, item["msg"])
    if kind == "missing":
        return "required field is missing"
    if kind == "value_error":
        return str(ctx.get("error", item["msg"]))
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be an integer"
    if kind == "finite_number":
        return "must be a finite number, not .inf or .nan"
    if kind in ("bool_type", "bool_parsing"):
        return "must be true or false"
    if kind in ("string_type",):
        return "must be a string"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a mapping of fields"
    if kind == "list_type":
        return "must be a list"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length', 1)} item(s)"
    if kind == "string_pattern_mismatch":
        return f"must match the pattern {ctx.get('pattern')}"
    return str(item["msg"])


def _unknown_field_message(root: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    model = _model_at(root, loc[:-1])
    unknown = str(loc[-1])
    if model is None:
        return f"unknown field '{unknown}'"
    allowed = sorted(field.alias or name for name, field in model.model_fields.items())
    close = difflib.get_close_matches(unknown, allowed, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown field '{unknown}'{hint}; allowed fields here: {', '.join(allowed)}"


def _range_message(root: type[BaseModel], loc: tuple[int | str, ...], fallback: str) -> str:
    field = _field_at(root, loc)
    if field is None:
        return fallback
    low = next((m.ge for m in field.metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in field.metadata if isinstance(m, Le)), None)
    if low is not None and high is not None:
        return f"must be between {low} and {high}"
    if low is not None:
        return f"must be at least {low}"
    if high is not None:
        return f"must be at most {high}"
    return fallback


def _field_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> FieldInfo | None:
    parent = _model_at(root, loc[:-1])
    return None if parent is None else _field_by_wire_name(parent, str(loc[-1]))


def _field_by_wire_name(model: type[BaseModel], key: str) -> FieldInfo | None:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _model_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class that validates the value at `loc`, following fields, lists and optionals."""
    current: Any = root
    for part in loc:
        current = _unwrap(current, list_item=isinstance(part, int))
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = _field_by_wire_name(current, part)
        if field is None:
            return None
        current = field.annotation
    current = _unwrap(current, list_item=False)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any, *, list_item: bool) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        models = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = models[0] if len(models) == 1 else annotation
        origin = typing.get_origin(annotation)
    if list_item and origin is list:
        return typing.get_args(annotation)[0]
    return annotation
