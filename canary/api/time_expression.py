"""Times written as expressions, as Argo's `rangeQuery.start` and `end`: evaluated at measurement time.

Argo evaluates them with the expr language; canary reads the forms Argo documents and tests:

    now()                                                    the measurement's time
    date("2023-08-14T00:00:00Z")                             an ISO 8601 time (UTC if it names no zone)
    date("2023-08-14 00:00:00", "2006-01-02 15:04:05", "UTC") Go's layout, and an IANA zone name

each followed by any number of `+ duration("1h")` / `- duration("30m")` terms (Go durations).
Anything else is refused with the forms above named, so a spec never measures the wrong window.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from canary.api.base import parse_duration

FORMS = (
    'now(), date("2023-08-14T00:00:00Z") or date("...", "<Go layout>", "<zone>"), then + or - duration("1h")'
)

_STRING = r"""(?:"[^"]*"|'[^']*')"""
_CALL = re.compile(rf"\s*(now|date|duration)\(\s*({_STRING}(?:\s*,\s*{_STRING})*)?\s*\)\s*")
_OPERATOR = re.compile(r"\s*([+-])")
_ARGUMENT = re.compile(_STRING)
# Go's reference time (Mon Jan 2 15:04:05 MST 2006) in the tokens layouts are made of; longest first.
_GO_LAYOUT = {
    "2006": "%Y",
    "Jan": "%b",
    "01": "%m",
    "02": "%d",
    "15": "%H",
    "04": "%M",
    "05": "%S",
    "-07:00": "%z",
    "-0700": "%z",
    "Z07:00": "%z",
}
_GO_TOKEN = re.compile("|".join(re.escape(token) for token in sorted(_GO_LAYOUT, key=len, reverse=True)))


def evaluate(expression: str, now: datetime) -> datetime:
    """The time `expression` names when evaluated at `now`; ValueError naming the problem and the forms."""
    (_, first, first_args), *terms = _terms(expression)
    total = _time(first, first_args, now)
    for sign, name, args in terms:
        if name != "duration" or len(args) != 1:
            raise ValueError(
                f"'{expression}': only duration(\"...\") can be added or subtracted; write {FORMS}"
            )
        step = timedelta(seconds=parse_duration(args[0]))
        total = total + step if sign == "+" else total - step
    return total


def _terms(expression: str) -> list[tuple[str, str, list[str]]]:
    """(sign, function, arguments) of each call, the first with sign +; ValueError if not that shape."""
    terms: list[tuple[str, str, list[str]]] = []
    sign, position, parsed = "+", 0, 0
    while (call := _CALL.match(expression, position)) is not None:
        terms.append((sign, call.group(1), [a[1:-1] for a in _ARGUMENT.findall(call.group(2) or "")]))
        parsed = call.end()
        operator = _OPERATOR.match(expression, parsed)
        if operator is None:
            break
        sign, position = operator.group(1), operator.end()
    if parsed != len(expression) or not terms:
        raise ValueError(f"'{expression}' is not a time expression; write {FORMS}")
    return terms


def check(expression: str) -> None:
    """ValueError if `expression` cannot be evaluated (whatever the time it is evaluated at)."""
    evaluate(expression, datetime(2000, 1, 1, tzinfo=UTC))


def _time(name: str, args: list[str], now: datetime) -> datetime:
    if name == "now" and not args:
        return now
    if name == "date" and len(args) in (1, 2, 3):
        return _date(*args)
    raise ValueError(f"{name}({', '.join(repr(a) for a in args)}) is not a time; write {FORMS}")


def _date(text: str, layout: str | None = None, zone: str = "UTC") -> datetime:
    where = _zone(zone)
    try:
        parsed = (
            datetime.fromisoformat(text)
            if layout is None
            else datetime.strptime(
                text, _GO_TOKEN.sub(lambda m: _GO_LAYOUT[m.group(0)], layout.replace("%", "%%"))
            )
        )
    except ValueError:
        wanted = (
            "an ISO 8601 time such as 2023-08-14T00:00:00Z" if layout is None else f"the layout '{layout}'"
        )
        raise ValueError(f"date '{text}' does not match {wanted}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=where)


def _zone(name: str) -> tzinfo:
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"'{name}' is not a time zone; write an IANA name such as UTC or Europe/Paris"
        ) from None
