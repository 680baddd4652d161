"""The controller's credential refresh: the client library's hook, at most once a second."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from canary.cli.commands_controller import at_most_every


def test_the_credential_refresh_runs_at_most_once_per_period_and_again_after_it() -> None:
    now = [100.0]
    calls: list[Any] = []
    refresh = at_most_every(1.0, lambda configuration: calls.append(configuration.name), clock=lambda: now[0])
    refresh(SimpleNamespace(name="first"))
    now[0] = 100.5
    refresh(SimpleNamespace(name="skipped"))
    now[0] = 101.0
    refresh(SimpleNamespace(name="after the period"))
    assert calls == ["first", "after the period"]


def test_the_credential_refresh_stays_throttled_when_the_hook_installs_itself_again() -> None:
    # The kubeconfig loader's hook re-applies the configuration, setting itself as the hook again.
    now = [100.0]
    calls: list[float] = []
    configuration = SimpleNamespace()

    def loader_hook(config: Any) -> None:
        calls.append(now[0])
        config.refresh_api_key_hook = loader_hook

    configuration.refresh_api_key_hook = at_most_every(1.0, loader_hook, clock=lambda: now[0])
    for moment in (100.0, 100.2, 100.4, 101.0, 101.5):
        now[0] = moment
        configuration.refresh_api_key_hook(configuration)
    assert calls == [100.0, 101.0]
