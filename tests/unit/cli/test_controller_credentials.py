"""The controller's credential refresh: the client library's hook, at most once a second."""

from __future__ import annotations

from typing import Any

from canary.cli.commands_controller import at_most_every


def test_the_credential_refresh_runs_at_most_once_per_period_and_again_after_it() -> None:
    now = [100.0]
    calls: list[Any] = []
    refresh = at_most_every(1.0, calls.append, clock=lambda: now[0])
    refresh("first")
    now[0] = 100.5
    refresh("skipped")
    now[0] = 101.0
    refresh("after the period")
    assert calls == ["first", "after the period"]
