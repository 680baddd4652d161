"""What a verb changed, as one line: the fields that differ between the object before and after.

Pure: two wire documents in, `status.currentStepIndex: 1 → 2` out. Lists of named entries (containers)
are keyed by name so an image change reads `spec.template.spec.containers[app].image: a → b`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

SHOWN_CHANGES = 6
"""More changed fields than this are counted, not listed: the line must stay readable."""


def flatten(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from flatten(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list) and value and all(isinstance(v, Mapping) and "name" in v for v in value):
        for item in value:
            yield from flatten(item, f"{path}[{item['name']}]")
    else:
        yield path, value


def show(value: Any) -> str:
    if value is None:
        return "∅"
    return value if isinstance(value, str) else json.dumps(value)


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any], targets: set[str]) -> list[str]:
    """`path: old → new` for every leaf under `targets` (spec, status) that differs."""
    old = {p: v for p, v in flatten(before) if p.split(".")[0] in targets}
    new = {p: v for p, v in flatten(after) if p.split(".")[0] in targets}
    paths = sorted(set(old) | set(new))
    return [f"{p}: {show(old.get(p))} → {show(new.get(p))}" for p in paths if old.get(p) != new.get(p)]


def summarise(changes: list[str]) -> str:
    shown = ", ".join(changes[:SHOWN_CHANGES])
    hidden = len(changes) - SHOWN_CHANGES
    return shown + (f" and {hidden} more" if hidden > 0 else "")
