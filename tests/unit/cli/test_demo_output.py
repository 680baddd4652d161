"""`canary demo` as a person reads it: the README's figures are the demo's, the abort reason is said
once, the live table keeps one width, and output that is not a terminal is never hard-wrapped."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from canary.cli import commands_demo
from canary.cli.commands_demo import BAD, GOOD, TABLE_WIDTH, percent
from canary.cli.main import main

README = Path(__file__).resolve().parents[3] / "README.md"
EVIDENCE = "sequential-counts: fail (e_value="
"""The start of the failed analysis' verdict, the heart of the abort reason."""


def _demo_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## What you see in the demo")
    return " ".join(text[start : text.index("\n## ", start + 1)].split())  # unwrapped


def test_the_readme_gives_the_demos_own_error_rates() -> None:
    section = _demo_section()
    assert f"`checkout:1.2` ({percent(BAD.error_rate)} errors" in section
    assert set(re.findall(r"\d+(?:\.\d+)?% errors", section)) <= {
        f"{percent(GOOD.error_rate)} errors",
        f"{percent(BAD.error_rate)} errors",
    }


def test_the_abort_reason_is_printed_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--fast"]) == 0
    assert capsys.readouterr().out.count(EVIDENCE) == 1


def test_output_that_is_not_a_terminal_keeps_each_line_whole(capsys: pytest.CaptureFixture[str]) -> None:
    main(["demo", "--fast"])
    lines = capsys.readouterr().out.splitlines()
    reason = next(line for line in lines if EVIDENCE in line)
    assert reason.startswith("[") and "ci_high=" in reason  # stamp, event and the whole verdict
    assert max(map(len, lines)) > 80


class _RecordingLive:
    """Stands in for rich's Live: keeps every table the demo would have shown."""

    def __init__(self) -> None:
        self.tables: list[Any] = []

    def update(self, table: Any) -> None:
        self.tables.append(table)


def _render(table: Any) -> str:
    console = Console(record=True, width=200)
    console.print(table)
    return console.export_text()


@pytest.fixture(scope="module")
def shown_tables() -> list[str]:
    """The live table at every tick of a promotion and an abort, rendered on a wide console."""
    sim = commands_demo.build_simulation(7)
    show = commands_demo._Show(sim, Console(record=True, width=200), None)
    live = _RecordingLive()
    show.run_until(lambda r: r.status.phase == "Healthy", live, 120)  # type: ignore[arg-type]
    good = commands_demo.release(sim, "checkout:1.1", GOOD)
    show.run_until(lambda r: r.status.stable_rs == good and r.status.phase == "Healthy", live, 900)  # type: ignore[arg-type]
    commands_demo.release(sim, "checkout:1.2", BAD)
    show.run_until(lambda r: r.status.abort and r.status.phase == "Degraded", live, 900)  # type: ignore[arg-type]
    return [_render(table) for table in live.tables]


def test_the_live_table_keeps_one_width_from_deploy_to_abort(shown_tables: list[str]) -> None:
    widths = {max(len(line.rstrip()) for line in text.splitlines()[1:]) for text in shown_tables}
    assert widths == {TABLE_WIDTH}


def test_the_live_table_of_an_aborted_rollout_does_not_repeat_the_reason(shown_tables: list[str]) -> None:
    final = shown_tables[-1]
    assert "Degraded" in final and "aborted" in final
    assert "e_value=" not in final
