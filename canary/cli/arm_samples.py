"""CSV files of one arm's data, grouped into the intervals a judge sees one at a time.

Two shapes, chosen by the header:

    time,value            samples (latencies, ...): rows with the same `time` form one interval
    time,events,total     counts (errors of requests) per interval, for sequential-counts

`time` is any label (a number or a timestamp); intervals keep the order they first appear in. A
file with only a `value` column is one interval. Every bad row is reported as file:line with the fix.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

SAMPLE_COLUMNS = ("time", "value")
COUNT_COLUMNS = ("time", "events", "total")


class SampleFileError(ValueError):
    """A CSV file that cannot be read as arm data; the message names the file, the line and the fix."""


@dataclass(frozen=True)
class Interval:
    label: str
    samples: tuple[float, ...] = ()
    events: int = 0
    total: int = 0


@dataclass(frozen=True)
class ArmData:
    name: str
    counts: bool
    """True for events/total files, False for sample files."""
    intervals: tuple[Interval, ...] = field(default_factory=tuple)

    def by_label(self) -> dict[str, Interval]:
        return {interval.label: interval for interval in self.intervals}


def _number(text: str, where: str, column: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise SampleFileError(f"{where}: {column} '{text}' is not a number") from None


def _count(text: str, where: str, column: str) -> int:
    value = _number(text, where, column)
    if value < 0 or not value.is_integer():
        raise SampleFileError(f"{where}: {column} '{text}' must be a whole number ≥ 0")
    return int(value)


def parse(text: str, source: str) -> ArmData:
    """Read one arm's CSV text (`source` names it in errors)."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise SampleFileError(f"{source}: empty file; write a header `time,value` or `time,events,total`")
    header = tuple(cell.strip().lower() for cell in rows[0])
    counts = set(COUNT_COLUMNS) <= set(header)
    if not counts and "value" not in header:
        raise SampleFileError(
            f"{source}:1: header {','.join(header)!r} has no 'value' column; "
            "write `time,value` for samples or `time,events,total` for counts"
        )
    column = {name: header.index(name) for name in header}
    grouped: dict[str, list[tuple[float, ...] | tuple[int, int]]] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{source}:{number}"
        if len(row) != len(header):
            raise SampleFileError(f"{where}: {len(row)} fields, the header has {len(header)}")
        label = row[column["time"]].strip() if "time" in column else "all"
        if counts:
            events = _count(row[column["events"]], where, "events")
            total = _count(row[column["total"]], where, "total")
            if events > total:
                raise SampleFileError(f"{where}: events {events} exceed total {total}")
            grouped.setdefault(label, []).append((events, total))
        else:
            grouped.setdefault(label, []).append((_number(row[column["value"]], where, "value"),))
    if not grouped:
        raise SampleFileError(f"{source}: no data rows after the header")
    return ArmData(
        source, counts, tuple(_interval(label, entries, counts) for label, entries in grouped.items())
    )


def _interval(label: str, entries: Sequence[tuple[float, ...] | tuple[int, int]], counts: bool) -> Interval:
    if counts:
        return Interval(label, events=sum(int(e[0]) for e in entries), total=sum(int(e[1]) for e in entries))
    return Interval(label, samples=tuple(e[0] for e in entries))


def aligned_labels(stable: ArmData, canary: ArmData) -> list[str]:
    """Every interval label of either arm, stable's order first; an arm may lack some intervals."""
    labels = [i.label for i in stable.intervals]
    return labels + [i.label for i in canary.intervals if i.label not in set(labels)]


def summary_value(interval: Interval | None) -> float:
    """The interval as one number to plot: the mean sample, or the event rate."""
    if interval is None:
        return math.nan
    if interval.samples:
        return sum(interval.samples) / len(interval.samples)
    return interval.events / interval.total if interval.total else math.nan
