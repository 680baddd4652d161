"""`analyze`: offline verdicts from CSV samples or a template, exit codes for pipelines, and the report."""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from canary.cli.main import main


def write_samples(path: Path, shift: float, seed: int, intervals: int = 12) -> Path:
    rng = random.Random(seed)
    rows = [
        f"{t},{rng.lognormvariate(shift if t > 3 else 0, 0.3):.5f}"
        for t in range(intervals)
        for _ in range(50)
    ]
    path.write_text("time,value\n" + "\n".join(rows) + "\n")
    return path


def analyze(tmp_path: Path, shift: float, *extra: str) -> int:
    stable = write_samples(tmp_path / "stable.csv", 0.0, seed=1)
    canary = write_samples(tmp_path / "canary.csv", shift, seed=2)
    return main(
        [
            "analyze",
            "samples",
            "--judge",
            "sequential-location",
            "--config",
            "min_samples=50",
            "--stable",
            str(stable),
            "--canary",
            str(canary),
            *extra,
        ]
    )


def test_a_canary_like_stable_passes_with_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert analyze(tmp_path, 0.0) == 0
    assert capsys.readouterr().out.startswith("verdict: pass (sequential-location)")


def test_a_slower_canary_fails_with_exit_1_naming_the_deciding_interval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert analyze(tmp_path, 0.3) == 1
    out = capsys.readouterr().out
    assert out.startswith("verdict: fail (sequential-location)")
    assert re.search(r"Failed at interval \d+ of 12 \(time \d+\): p-value [0-9.e-]+ ≤ 0.05", out)


def test_json_output_carries_every_interval_with_its_evidence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    analyze(tmp_path, 0.3, "-o", "json")
    document = json.loads(capsys.readouterr().out)
    assert document["verdict"] == "fail"
    assert len(document["intervals"]) == 12
    assert {"p_value", "estimate"} <= set(document["intervals"][-1]["evidence"])


def test_the_report_is_one_self_contained_html_file_with_three_plots(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    analyze(tmp_path, 0.3, "--report", str(report))
    html = report.read_text()
    assert html.count('class="plotly-graph-div"') == 3
    assert "Plotly.newPlot" in html, "plotly.js is inlined"
    assert not re.search(r"""<script[^>]*\bsrc\s*=|<link\b|<img\b|@import""", html), "nothing is fetched"
    assert "Failed at interval" in html


def test_counts_files_are_judged_by_sequential_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "s.csv").write_text("time,events,total\n" + "".join(f"{t},10,1000\n" for t in range(10)))
    (tmp_path / "c.csv").write_text("time,events,total\n" + "".join(f"{t},60,1000\n" for t in range(10)))
    code = main(
        [
            "analyze",
            "samples",
            "--judge",
            "sequential-counts",
            "--stable",
            str(tmp_path / "s.csv"),
            "--canary",
            str(tmp_path / "c.csv"),
        ]
    )
    assert code == 1
    assert "verdict: fail" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file; write a header `time,value` or `time,events,total`"),
        ("time,latency\n1,2\n", "header 'time,latency' has no 'value' column"),
        ("time,value\n1,fast\n", ":2: value 'fast' is not a number"),
        ("time,events,total\n1,5,3\n", ":2: events 5 exceed total 3"),
        ("time,value\n", "no data rows after the header"),
    ],
)
def test_a_bad_csv_is_one_line_naming_file_line_and_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    good = write_samples(tmp_path / "good.csv", 0.0, seed=1)
    code = main(
        ["analyze", "samples", "--judge", "mann-whitney", "--stable", str(good), "--canary", str(bad)]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert message in err and err.count("\n") == 1


def test_a_binary_file_is_one_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00time")
    good = write_samples(tmp_path / "good.csv", 0.0, seed=1)
    code = main(
        ["analyze", "samples", "--judge", "mann-whitney", "--stable", str(good), "--canary", str(binary)]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "not a UTF-8 text file" in err and "Traceback" not in err


def test_a_csv_saved_with_a_byte_order_mark_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = write_samples(tmp_path / "plain.csv", 0.0, seed=1)
    marked = tmp_path / "marked.csv"
    marked.write_bytes(b"\xef\xbb\xbf" + write_samples(tmp_path / "c.csv", 0.0, seed=2).read_bytes())
    assert (
        main(
            ["analyze", "samples", "--judge", "mann-whitney", "--stable", str(plain), "--canary", str(marked)]
        )
        == 0
    )
    assert "verdict: pass" in capsys.readouterr().out


def test_an_unknown_judge_setting_names_the_allowed_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = analyze(tmp_path, 0.0, "--config", "alpah=0.1")
    assert code == 1
    assert "unknown config key 'alpah'" in capsys.readouterr().err


TEMPLATE = """
apiVersion: canary.dev/v1alpha1
kind: AnalysisTemplate
metadata: {name: error-rate}
spec:
  args: [{name: service}]
  metrics:
  - name: error-rate
    interval: 1m
    count: 3
    successCondition: result < 0.05
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: 'errors{service="{{args.service}}"}'
"""


@pytest.fixture
def prometheus_answering() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server answering Prometheus' instant-query API with 0.01 (queries recorded)."""
    queries: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            queries.append(self.path)
            self._answer()

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            queries.append(self.rfile.read(length).decode())
            self._answer()

        def _answer(self) -> None:
            body = json.dumps(
                {
                    "status": "success",
                    "data": {"resultType": "vector", "result": [{"metric": {}, "value": [0, "0.01"]}]},
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", queries
    server.shutdown()
    server.server_close()


def test_a_template_replays_its_window_against_the_given_prometheus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], prometheus_answering: tuple[str, list[str]]
) -> None:
    url, queries = prometheus_answering
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE)
    report = tmp_path / "report.html"
    code = main(
        [
            "analyze",
            "template",
            str(template),
            "--prometheus",
            url,
            "--arg",
            "service=web",
            "--end",
            "2024-01-01T12:00:00+00:00",
            "--report",
            str(report),
        ]
    )
    assert code == 0
    assert len(queries) == 3 and all("web" in q for q in queries)
    assert "error-rate" in capsys.readouterr().out
    assert report.read_text().count('class="plotly-graph-div"') == 1


def test_a_template_missing_an_argument_fails_the_run_with_its_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], prometheus_answering: tuple[str, list[str]]
) -> None:
    url, _ = prometheus_answering
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE)
    code = main(["analyze", "template", str(template), "--prometheus", url, "-o", "json"])
    run = json.loads(capsys.readouterr().out)
    assert code == 2
    assert "service" in json.dumps(run["status"])


def test_a_template_with_its_count_as_an_argument_replays_that_many_measurements(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], prometheus_answering: tuple[str, list[str]]
) -> None:
    url, queries = prometheus_answering
    template = tmp_path / "template.yaml"
    template.write_text(
        TEMPLATE.replace(
            "args: [{name: service}]", 'args: [{name: service}, {name: every}, {name: checks, value: "3"}]'
        )
        .replace("interval: 1m", 'interval: "{{args.every}}"')
        .replace("count: 3", 'count: "{{args.checks}}"')
    )
    argv = ["analyze", "template", str(template), "--prometheus", url, "--end", "2024-01-01T12:00:00+00:00"]
    code = main([*argv, "--arg", "service=web", "--arg", "every=2m", "--arg", "checks=4"])
    assert code == 0, capsys.readouterr().out
    assert len(queries) == 4
