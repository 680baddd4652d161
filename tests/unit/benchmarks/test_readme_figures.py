"""The README's benchmark figures agree with the JSON results the benchmarks wrote
(`benchmarks/readme_figures.py` renders them; after a run, `python benchmarks/readme_figures.py`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import readme_figures


def test_every_readme_figure_agrees_with_its_json_result() -> None:
    absent = readme_figures.missing(readme_figures.README.read_text(encoding="utf-8"))
    assert not absent, (
        "README figures differ from benchmarks/results (rendered from the JSON):\n" + "\n".join(absent)
    )


def test_a_result_that_changed_without_the_readme_is_caught(tmp_path: Path) -> None:
    for name in readme_figures.FIGURES:
        shutil.copy(readme_figures.RESULTS / name, tmp_path / name)
    result = json.loads((tmp_path / "controller_scale.json").read_text())
    result["reconciles_per_second"] = 89.4
    (tmp_path / "controller_scale.json").write_text(json.dumps(result))
    readme = readme_figures.README.read_text(encoding="utf-8")
    assert readme_figures.missing(readme, tmp_path) == [
        f"controller_scale.json: all {result['promoted']:,} promoted, 89 reconciles/s"
    ]


def test_a_line_break_inside_a_figure_is_not_a_difference() -> None:
    readme = "\n".join(p for rendered in readme_figures.phrases().values() for p in rendered)
    assert readme_figures.missing(readme.replace(" ", "\n  ")) == []
