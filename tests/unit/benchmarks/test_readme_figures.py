"""The README's and docs/judges.md's benchmark figures agree with the JSON results the benchmarks
wrote (`benchmarks/readme_figures.py` renders them; after a run, `python benchmarks/readme_figures.py`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import readme_figures


def _results_copy(tmp_path: Path) -> Path:
    for figures in readme_figures.FIGURES.values():
        for name in figures:
            shutil.copy(readme_figures.RESULTS / name, tmp_path / name)
    return tmp_path


def _text(document: str) -> str:
    return (readme_figures.ROOT / document).read_text(encoding="utf-8")


@pytest.mark.parametrize("document", readme_figures.FIGURES)
def test_every_figure_of_the_document_agrees_with_its_json_result(document: str) -> None:
    absent = readme_figures.missing(document, _text(document))
    assert not absent, (
        f"{document} figures differ from benchmarks/results (rendered from the JSON):\n" + "\n".join(absent)
    )


def test_a_result_that_changed_without_the_readme_is_caught(tmp_path: Path) -> None:
    results = _results_copy(tmp_path)
    result = json.loads((results / "controller_scale.json").read_text())
    result["reconciles_per_second"] = 89.4
    (results / "controller_scale.json").write_text(json.dumps(result))
    assert readme_figures.missing("README.md", _text("README.md"), results) == [
        f"controller_scale.json: all {result['promoted']:,} promoted, 89 reconciles/s"
    ]


def test_a_mann_whitney_row_that_changed_is_caught_in_the_readme_and_in_the_judges_doc(
    tmp_path: Path,
) -> None:
    results = _results_copy(tmp_path)
    data = json.loads((results / "detection_mann_whitney.json").read_text())
    row = next(r for r in data["rows"] if r["split"] == "1:1" and r["tolerance"] == 0.0)
    row["rate_rejected"] = 0.987
    (results / "detection_mann_whitney.json").write_text(json.dumps(data))
    for document in ("README.md", "docs/judges.md"):
        absent = readme_figures.missing(document, _text(document), results)
        assert absent and all(line.startswith("detection_mann_whitney.json: ") for line in absent)
        assert any("98.7%" in line for line in absent)


def test_a_latency_detection_row_counted_at_the_abort_is_checked(tmp_path: Path) -> None:
    results = _results_copy(tmp_path)
    data = json.loads((results / "detection.json").read_text())
    row = next(
        r
        for r in data["rows"]
        if r["scenario"] == "latency +5% sigma 1"
        and r["rate_per_arm"] == 10.0
        and r["split"] == "1:1"
        and r["judge"] == "sequential"
    )
    row["ratio_to_oracle_at_abort"] = 9.99
    (results / "detection.json").write_text(json.dumps(data))
    absent = readme_figures.missing("README.md", _text("README.md"), results)
    assert len(absent) == 1 and "| latency +5%, sigma 1 |" in absent[0] and "9.99x" in absent[0]


def test_a_line_break_inside_a_figure_is_not_a_difference() -> None:
    for document in readme_figures.FIGURES:
        text = "\n".join(p for rendered in readme_figures.phrases(document).values() for p in rendered)
        assert readme_figures.missing(document, text.replace(" ", "\n  ")) == []


def test_a_live_detection_cell_that_changed_is_caught_as_its_table_row(tmp_path: Path) -> None:
    results = _results_copy(tmp_path)
    data = json.loads((results / "live_detection.json").read_text())
    cell = data["cells"][0]
    cell["detected"] = cell["releases"] + 1
    (results / "live_detection.json").write_text(json.dumps(data))
    absent = readme_figures.missing("README.md", _text("README.md"), results)
    assert len(absent) == 1
    assert absent[0].startswith(f"live_detection.json: | {cell['template']} | {cell['rate']:.0f} |")
