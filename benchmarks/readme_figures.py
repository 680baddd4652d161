"""The README's and docs/judges.md's benchmark figures, rendered from the JSON results the benchmarks write.

Each document in FIGURES comes with, per results file, the phrases that carry its figures, built
from the JSON rows (a phrase names the row it comes from where the prose does not: scenario,
requests/s per arm, split, judge). The document must contain every phrase (whitespace, such as a
line break, is not significant), so a figure cannot go stale: re-running a benchmark without
updating the documents, or editing a figure by hand, fails
``tests/unit/benchmarks/test_readme_figures.py``.

``python benchmarks/readme_figures.py`` prints each phrase, marked ``ok`` or ``MISSING``, and exits 1
if one is missing: after a benchmark run, paste the missing phrases into the document.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RESULTS = ROOT / "benchmarks" / "results"

# A figure's phrase, or several (one per row of a table whose rows come from the JSON).
Phrase = Callable[[dict[str, Any]], str | list[str]]


def _judge_row(data: dict[str, Any]) -> dict[str, Any]:
    """The judge_speed row the README quotes: 1,000 metrics of 10,000 samples per arm."""
    return next(r for r in data["rows"] if r["metrics"] == 1000 and r["samples_per_arm"] == 10000)


def _window(run: dict[str, Any]) -> str:
    """How a controller_scale run released its fleet, as the README words it."""
    seconds = run["release_window_seconds"]
    return "all due at the same instant:" if seconds == 0 else f"releases spread over {seconds:.0f} s:"


def _vs_argo_size(size: dict[str, Any]) -> str:
    """One fleet size of vs_argo.json as the README gives it: canary's figure over Argo's."""
    f = size["figures"]
    pairs = f"{size['pairs']} pair" + ("s" if size["pairs"] > 1 else "")
    return (
        f"at {size['rollouts']:,} Rollouts ({pairs}): controller CPU {f['controller CPU seconds']['ratio']:.2f}x, "
        f"peak memory {f['peak RSS MiB']['ratio']:.2f}x, API requests {f['API requests per Rollout']['ratio']:.2f}x, "
        f"image change to Healthy p99 {f['image change to Healthy p99 s']['ratio']:.2f}x; Events recorded "
        f"about each Rollout: canary {f['Rollout Events recorded per Rollout']['canary']:.1f}, "
        f"Argo {f['Rollout Events recorded per Rollout']['argo-rollouts']:.1f}"
    )


def _controlplane_size(size: dict[str, Any]) -> str:
    """One fleet size of controlplane_scale.json as the README gives it."""
    healthy, requests = size["release_to_healthy_seconds"], size["api_requests_per_rollout"]
    quiet = size["api_requests_after_healthy"] / size["rollouts"]  # a held status write still counts
    start, end = size["load_average_1m_at_start_and_end"]
    return (
        f"{size['rollouts']:,} Rollouts: all Healthy {size['deploy_seconds']:,.0f} s after creation and "
        f"{size['release_seconds']:,.0f} s after the image change (each Rollout's image change to Healthy "
        f"p50 {healthy['p50']:,.0f} s, p99 {healthy['p99']:,.0f} s, max {healthy['max']:,.0f} s), controller CPU "
        f"{size['controller_cpu_seconds']['total']:,.0f} s, peak memory {size['controller_peak_rss_mib']:,.0f} MiB, "
        f"{requests['deploy']['total'] + requests['release']['total'] + quiet:.1f} API requests per Rollout "
        f"(1-minute load average {start:.1f} at the start, {end:.1f} at the end)"
    )


SCALE_FIGURES: dict[str, list[Phrase]] = {
    "controller_scale.json": [
        lambda d: f"drives {d['rollouts']:,} Rollouts concurrently",
        lambda d: f"all {d['promoted']:,} promoted, {d['reconciles_per_second']:,.0f} reconciles/s",
        lambda d: f"p99 delay from a step falling due to being acted on {d['delay_p99_ms'] / 1000:.1f} s",
        lambda d: f"{d['rss_per_rollout_kib']:.0f} KiB resident memory per Rollout",
    ],
    "controlplane_scale.json": [
        lambda d: f"(replicas {d['workload']['replicas']}, steps {d['workload']['steps']}, kwok pods,",
        lambda d: f"{d['controller_workers']} workers)",
        lambda d: "; ".join(_controlplane_size(size) for size in d["sizes"]),
    ],
    "controller_scale_10k.json": [
        lambda d: f"drives {d['rollouts']:,} Rollouts in one controller",
        lambda d: "".join(
            f"{_window(r)} p99 {r['due_delay_p99_ms'] / 1000:.2f} s"
            + ("; " if i < len(d["runs"]) - 1 else "")
            for i, r in enumerate(d["runs"])
        ),
        lambda d: f"{max(r['rss_peak_mib'] for r in d['runs']):.0f} MiB peak resident memory",
    ],
    "vs_argo.json": [
        lambda d: f"(replicas {d['workload']['replicas']}, steps {d['workload']['steps']}, kwok pods;",
        lambda d: "; ".join(_vs_argo_size(size) for size in d["sizes"]),
    ],
    "judge_speed.json": [
        lambda d: (
            f"classifies {_judge_row(d)['metrics']:,} metrics x {_judge_row(d)['samples_per_arm']:,} "
            f"samples per arm in {_judge_row(d)['seconds_2_threads']:.2f} s on {d['meta']['cores']} cores"
        ),
        lambda d: (
            f"(best of {d['meta']['repeat']}; sorting alone is "
            f"{_judge_row(d)['sort_both_arms_seconds']:.2f} s)"
        ),
    ],
}


def _pct(v: float) -> str:
    """A share as the documents write it: one decimal, none for whole percents (100%, 87.4%)."""
    return f"{100 * v:.1f}".removesuffix(".0") + "%"


def _cell(r: dict[str, Any]) -> str:
    """The row a figure comes from: scenario, requests/s per arm and split."""
    return f"{r['scenario']}, {r['rate_per_arm']:.0f} req/s, {r['split']}"


def _rows(data: dict[str, Any], **match: Any) -> list[dict[str, Any]]:
    return [r for r in data["rows"] if all(r.get(k) == v for k, v in match.items())]


def _aa(data: dict[str, Any], judge: str) -> list[dict[str, Any]]:
    return [r for r in _rows(data, judge=judge) if "false_alarm_upper" in r]


def _worst(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return max(rows, key=lambda r: (r["rate_rejected"], r["false_alarm_upper"]))


def _detected(data: dict[str, Any], **match: Any) -> list[dict[str, Any]]:
    """Sequential detection rows that detected within the hour (they have ratios to the oracle)."""
    return [r for r in _rows(data, judge="sequential", **match) if "ratio_to_oracle" in r]


def _most(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return max(rows, key=lambda r: r[key])


def _aa_line(data: dict[str, Any], judge: str, label: str) -> str:
    worst = _worst(_aa(data, judge))
    return (
        f"| {label} | {worst['reps']:,} | {_cell(worst)} | {_pct(worst['rate_rejected'])} | "
        f"{_pct(worst['false_alarm_upper'])} |"
    )


def _mw_cell(data: dict[str, Any], scenario: str, rate: float, tolerance: float) -> str:
    r = _one(data, scenario=scenario, rate_per_arm=rate, split="1:1", tolerance=tolerance)
    return f"{_pct(r['rate_rejected'])} (≤ {_pct(r['false_alarm_upper'])})"


def _mw_line(data: dict[str, Any], tolerance: float, label: str) -> str:
    cells = [
        _mw_cell(data, scenario, rate, tolerance)
        for scenario in ("errors A/A 1%", "latency A/A sigma 0.5")
        for rate in (10.0, 100.0)
    ]
    return f"| {label} | " + " | ".join(cells) + " |"


def _mw_worst(data: dict[str, Any], tolerance: float, split: str = "1:1") -> dict[str, Any]:
    return _worst(_rows(data, tolerance=tolerance, split=split))


def _detection_line(data: dict[str, Any], scenario: str, label: str) -> str:
    """A regression's row of the README table: sequential judge, 10 req/s per arm, both splits."""
    one, nine = (
        _rows(data, scenario=scenario, judge="sequential", rate_per_arm=10.0, split=s)[0]
        for s in ("1:1", "1:9")
    )
    return (
        f"| {label} | {one['ratio_to_oracle']:.2f}x | {nine['ratio_to_oracle']:.2f}x | "
        f"{one['ratio_to_oracle_at_abort']:.2f}x, {nine['ratio_to_oracle_at_abort']:.2f}x | "
        f"{_pct(one['power'])}, {_pct(nine['power'])} |"
    )


def _range(rows: list[dict[str, Any]], key: str, fmt: Callable[[float], str]) -> str:
    """The rows' lowest to highest `key`, e.g. 87.4-100% or 1.82-2.01."""
    return f"{fmt(min(r[key] for r in rows))}-{fmt(max(r[key] for r in rows))}".replace("%-", "-", 1)


def _times(v: float) -> str:
    return f"{v:.2f}"


COUNTS = ("counts", "tail")
TIMES = "\u00d7"  # docs/judges.md writes ratios with the multiplication sign


def _one(data: dict[str, Any], **match: Any) -> dict[str, Any]:
    (row,) = _rows(data, **match)
    return row


def _grid_example(d: dict[str, Any]) -> str:
    r = _one(d, scenario="latency +10% sigma 0.5", judge="sequential", rate_per_arm=10.0, split="1:9")
    return (
        f"and the table's {r['ratio_to_oracle']:.2f}x ({r['ratio_to_oracle']:.3f}x unrounded) is "
        f"{r['ratio_to_oracle_on_grid']:.2f}x on that grid"
    )


def _latency_at_abort(d: dict[str, Any]) -> str:
    """The README table's latency rows (10 req/s per arm) counted where the rollout aborts."""
    r = _most(_detected(d, family="latency", rate_per_arm=10.0), "ratio_to_oracle_on_check_grid_at_abort")
    return (
        f"at most {r['ratio_to_oracle_on_check_grid_at_abort']:.2f}x the oracle's sample rounded up to "
        f"whole checks at 10 requests/s per arm ({_cell(r)})"
    )


def _mw_split(d: dict[str, Any]) -> str:
    r = _one(d, scenario="errors A/A 1%", rate_per_arm=10.0, split="1:9", tolerance=0.25)
    return f"fails {_pct(r['rate_rejected'])} of healthy canaries ({_cell(r)}, tolerance 0.25)"


def _location_100(d: dict[str, Any]) -> str:
    """The location judge's A/A rows at 100 req/s per arm, 1:1: 50 looks per interval, the most."""
    rows = [
        _one(d, scenario=f"latency A/A sigma {s}", judge="sequential", rate_per_arm=100.0, split="1:1")
        for s in (0.5, 1)
    ]
    return (
        f"{rows[0]['reps']:,} A/A runs per cell give {_pct(rows[0]['rate_rejected'])} (upper bound "
        f"{_pct(rows[0]['false_alarm_upper'])}) with sigma 0.5 and {_pct(rows[1]['rate_rejected'])} "
        f"({_pct(rows[1]['false_alarm_upper'])}) with sigma 1"
    )


def _threshold_docs(d: dict[str, Any]) -> str:
    r = _worst(_aa(d, "threshold"))
    return f"a fixed error-rate threshold up to {_pct(r['rate_rejected'])} at low traffic ({_cell(r)})"


def _tail_docs(d: dict[str, Any]) -> str:
    r = _one(d, scenario="p99 exceedance 1% -> 2%", judge="sequential", rate_per_arm=100.0, split="1:1")
    return f"1% → 2% p99 exceedance at 100 req/s 1:1, 300 needs {r['ratio_to_oracle']:.2f}{TIMES} the oracle's sample"


def _mw_docs(d: dict[str, Any]) -> str:
    default, zero = _mw_worst(d, 0.25), _mw_worst(d, 0.0)
    return (
        f"fails up to {_pct(default['rate_rejected'])} of healthy canaries "
        f"(upper bound {_pct(default['false_alarm_upper'])}, {_cell(default)}) at its "
        f"defaults and up to {_pct(zero['rate_rejected'])} with tolerance 0 ({_cell(zero)})"
    )


DETECTION_README: list[Phrase] = [
    lambda d: f"({d['meta']['reps_aa']:,} A/A replications per cell, a check every 10 s for 1 h, alpha 5%",
    lambda d: _aa_line(d, "sequential", "canary sequential judges"),
    lambda d: _aa_line(d, "threshold", "threshold condition"),
    *(
        (lambda d, s=scenario, lab=label: _detection_line(d, s, lab))
        for scenario, label in (
            ("errors 1% -> 1.5%", "errors 1% -> 1.5%"),
            ("errors 1% -> 2%", "errors 1% -> 2%"),
            ("latency +5% sigma 0.5", "latency +5%, sigma 0.5"),
            ("latency +10% sigma 0.5", "latency +10%, sigma 0.5"),
            ("latency +5% sigma 1", "latency +5%, sigma 1"),
            ("latency +10% sigma 1", "latency +10%, sigma 1"),
            ("p99 exceedance 1% -> 2%", "p99 exceedance 1% -> 2%"),
        )
    ),
    lambda d: (
        "(its sample rounded up to the judge's grid): at most "
        f"{max(r['ratio_to_oracle_on_grid'] for r in _detected(d) if r['family'] in COUNTS):.2f}x for counts "
        f"and p99, {max(r['ratio_to_oracle_on_grid'] for r in _detected(d, family='latency')):.2f}x for latency."
    ),
    lambda d: (
        "so there the raw ratio (up to "
        f"{max(r['ratio_to_oracle'] for r in _detected(d, rate_per_arm=1000.0) if r['family'] in COUNTS):.1f}x) "
        "measures"
    ),
    _grid_example,
    _latency_at_abort,
    _location_100,
]
MANN_WHITNEY_README: list[Phrase] = [
    lambda d: f"{d['meta']['reps']:,} A/A runs per cell",
    lambda d: _mw_line(d, 0.25, "defaults (tolerance 0.25)"),
    lambda d: _mw_line(d, 0.0, "tolerance 0"),
    _mw_split,
]
LOCATION_README: list[Phrase] = [
    lambda d: f"({d['rows'][0]['reps']:,} A/A runs each, 10 req/s per arm,",
    lambda d: (
        "skewed (ln of a Pareto latency) {}, heavy-tailed (t, 3 df) {}, tied (rounded to 0.2 sd) {}, "
        "normal control {}; upper bounds at most {}"
    ).format(
        *(
            _pct(_one(d, distribution=name)["rate"])
            for name in (
                "exponential (ln of Pareto latency)",
                "t, 3 df (heavy tails)",
                "normal rounded to 0.2 sd (ties)",
                "normal (control)",
            )
        ),
        _pct(max(r["upper_95"] for r in d["rows"])),
    ),
]
DETECTION_DOCS: list[Phrase] = [
    _threshold_docs,
    lambda d: (
        f"{_range(_aa(d, 'sequential'), 'rate_rejected', _pct)} against alpha = 5% over "
        f"{d['meta']['reps_aa']:,} such A/A runs per cell"
    ),
    lambda d: (
        "They still detect every regression of the benchmark within the hour (power "
        f"{_range([r for r in _rows(d, judge='sequential') if 'power' in r], 'power', _pct)})"
    ),
    lambda d: (
        f"an 80th-percentile sample size of {_range(_detected(d, rate_per_arm=10.0), 'ratio_to_oracle', _times)}"
        f"{TIMES} the fixed-sample oracle's at 10 requests/s per arm"
    ),
    lambda d: (
        f"at most {max(r['ratio_to_oracle_on_grid'] for r in _detected(d)):.2f}{TIMES} at every traffic level"
    ),
    _tail_docs,
]
MANN_WHITNEY_DOCS: list[Phrase] = [lambda d: f"{d['meta']['reps']:,} A/A runs per cell", _mw_docs]


LIVE_HEADER = "| analysis | req/s | release | checks of 5 s | aborted | release to 100% on stable, if aborted: median (range) |"


def _live_seconds(seconds: dict[str, float | None]) -> str:
    low, median, high = seconds["min"], seconds["median"], seconds["max"]
    if low is None or median is None or high is None:
        return "never"
    return f"{median:.0f} s" if round(low) == round(high) else f"{median:.0f} s ({low:.0f}-{high:.0f} s)"


def _undecided(runs: list[dict[str, Any]]) -> str:
    """The releases neither aborted nor promoted (e.g. paused on Inconclusive measurements, waiting
    for a person), as ``, 1 paused (inconclusive)``."""
    counts: dict[str, int] = {}
    for run in runs:
        if run["outcome"] not in ("aborted", "promoted"):
            counts[run["outcome"]] = counts.get(run["outcome"], 0) + 1
    return "".join(f", {n} {outcome}" for outcome, n in sorted(counts.items()))


def _live_row(cell: dict[str, Any]) -> str:
    """One cell (judge, rate, change) of benchmarks/live_detection.py, as its table and the README list it."""
    return (
        f"| {cell['template']} | {cell['rate']:.0f} | {cell['change']} | {cell['checks']} | "
        f"{cell['detected']}/{cell['releases']}{_undecided(cell['runs'])} | "
        f"{_live_seconds(cell['seconds_to_stable'])} |"
    )


def _live_false_aborts(good: dict[str, Any]) -> str:
    return (
        f"- {good['template']}: {good['aborted']} false aborts in {good['releases']} good releases "
        f"at {good['rate']:.0f} req/s ({good['checks']} checks){_undecided(good['runs'])}"
    )


def live_table(data: dict[str, Any]) -> str:
    """live_detection.json as its table (live_detection.md and the README)."""
    return "\n".join(
        [
            LIVE_HEADER,
            "|---|---|---|---|---|---|",
            *map(_live_row, data["cells"]),
            "",
            *map(_live_false_aborts, data["false_aborts"].values()),
        ]
    )


LIVE_README: list[Phrase] = [
    lambda d: [_live_row(cell) for cell in d["cells"]],
    lambda d: [_live_false_aborts(good) for good in d["false_aborts"].values()],
    lambda d: f"{d['meta']['repeats']} releases per cell",
    lambda d: f"about {d['meta']['canary_requests_sized_for']:,} canary requests",
]

FIGURES: dict[str, dict[str, list[Phrase]]] = {
    "README.md": {
        **SCALE_FIGURES,
        "live_detection.json": LIVE_README,
        "detection.json": DETECTION_README,
        "detection_mann_whitney.json": MANN_WHITNEY_README,
        "location_stress.json": LOCATION_README,
    },
    "docs/judges.md": {
        "detection.json": DETECTION_DOCS,
        "detection_mann_whitney.json": MANN_WHITNEY_DOCS,
    },
}


def normalized(text: str) -> str:
    """Runs of whitespace (line breaks of the wrapped README) as one space."""
    return re.sub(r"\s+", " ", text)


def _each(rendered: str | list[str]) -> list[str]:
    return [rendered] if isinstance(rendered, str) else rendered


def phrases(document: str, results: Path = RESULTS) -> dict[str, list[str]]:
    """Each results file's phrases for `document` (a key of FIGURES), rendered from its current JSON."""
    rendered = {}
    for name, figures in FIGURES[document].items():
        data = json.loads((results / name).read_text(encoding="utf-8"))
        rendered[name] = [phrase for figure in figures for phrase in _each(figure(data))]
    return rendered


def missing(document: str, text: str, results: Path = RESULTS) -> list[str]:
    """The phrases of `document` its `text` does not contain, as `file: phrase`."""
    normal = normalized(text)
    return [
        f"{name}: {phrase}"
        for name, rendered in phrases(document, results).items()
        for phrase in rendered
        if normalized(phrase) not in normal
    ]


def main() -> int:
    absent_any = False
    for document in FIGURES:
        absent = set(missing(document, (ROOT / document).read_text(encoding="utf-8")))
        absent_any = absent_any or bool(absent)
        for name, rendered in phrases(document).items():
            for phrase in rendered:
                mark = "MISSING" if f"{name}: {phrase}" in absent else "ok"
                print(f"{mark:>7}  {document}: {name}: {phrase}")
    return 1 if absent_any else 0


if __name__ == "__main__":
    sys.exit(main())
