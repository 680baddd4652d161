"""The README's benchmark figures, rendered from the JSON results the benchmarks write.

Each results file in FIGURES comes with the phrases of the README that carry its figures, built
from the JSON. The README must contain every phrase (whitespace, such as a line break, is not
significant), so a figure cannot go stale: re-running a benchmark without updating the README, or
editing a figure by hand, fails ``tests/unit/benchmarks/test_readme_figures.py``.

``python benchmarks/readme_figures.py`` prints each phrase, marked ``ok`` or ``MISSING``, and exits 1
if one is missing: after a benchmark run, paste the missing phrases into the README.
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

Phrase = Callable[[dict[str, Any]], str]


def _judge_row(data: dict[str, Any]) -> dict[str, Any]:
    """The judge_speed row the README quotes: 1,000 metrics of 10,000 samples per arm."""
    return next(r for r in data["rows"] if r["metrics"] == 1000 and r["samples_per_arm"] == 10000)


FIGURES: dict[str, list[Phrase]] = {
    "controller_scale.json": [
        lambda d: f"drives {d['rollouts']:,} Rollouts concurrently",
        lambda d: f"all {d['promoted']:,} promoted, {d['reconciles_per_second']:,.0f} reconciles/s",
        lambda d: f"p99 delay from a step falling due to being acted on {d['delay_p99_ms'] / 1000:.1f} s",
        lambda d: f"{d['rss_per_rollout_kib']:.0f} KiB resident memory per Rollout",
    ],
    "controlplane_scale.json": [
        lambda d: f"runs {d['rollouts']:,} Rollouts at once on the real control plane",
        lambda d: f"all deployed in {d['deploy_seconds']:.1f} s and released",
        lambda d: (
            f"in {d['release_seconds']:.1f} s, "
            f"{d['api_requests_per_rollout']['release']['total']:.1f} controller API requests per Rollout"
        ),
        lambda d: f"{d['controller_peak_rss_mib']:.0f} MiB peak controller memory",
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


def normalized(text: str) -> str:
    """Runs of whitespace (line breaks of the wrapped README) as one space."""
    return re.sub(r"\s+", " ", text)


def phrases(results: Path = RESULTS) -> dict[str, list[str]]:
    """Each results file's README phrases, rendered from its current JSON."""
    rendered = {}
    for name, figures in FIGURES.items():
        data = json.loads((results / name).read_text(encoding="utf-8"))
        rendered[name] = [figure(data) for figure in figures]
    return rendered


def missing(readme: str, results: Path = RESULTS) -> list[str]:
    """The phrases the README text does not contain, as `file: phrase`."""
    text = normalized(readme)
    return [
        f"{name}: {phrase}"
        for name, rendered in phrases(results).items()
        for phrase in rendered
        if normalized(phrase) not in text
    ]


def main() -> int:
    absent = set(missing(README.read_text(encoding="utf-8")))
    for name, rendered in phrases().items():
        for phrase in rendered:
            print(f"{'MISSING' if f'{name}: {phrase}' in absent else 'ok':>7}  {name}: {phrase}")
    return 1 if absent else 0


if __name__ == "__main__":
    sys.exit(main())
