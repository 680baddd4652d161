"""controlplane_scale.json keeps one entry per fleet size: sizes measured in separate runs sit side by side."""

from __future__ import annotations

from typing import Any

from controlplane_scale import WORKLOAD, merged


def _size(rollouts: int, deploy_seconds: float) -> dict[str, Any]:
    return {"rollouts": rollouts, "deploy_seconds": deploy_seconds}


def _previous(*sizes: dict[str, Any], workers: int = 10) -> dict[str, Any]:
    workload = {"replicas": WORKLOAD.replicas, "steps": WORKLOAD.describe()}
    return {"workload": workload, "controller_workers": workers, "sizes": list(sizes)}


def test_a_run_replaces_the_sizes_it_ran_and_keeps_the_others_in_size_order() -> None:
    previous = _previous(_size(200, 10.0), _size(2000, 100.0))
    result = merged(previous, [_size(200, 12.0), _size(50, 3.0)], workers=10)
    assert result["sizes"] == [_size(50, 3.0), _size(200, 12.0), _size(2000, 100.0)]


def test_sizes_of_another_worker_count_are_not_kept() -> None:
    result = merged(_previous(_size(2000, 100.0), workers=4), [_size(200, 12.0)], workers=10)
    assert result["sizes"] == [_size(200, 12.0)]


def test_a_file_of_another_workload_or_format_is_not_mixed_in() -> None:
    older_format = {"rollouts": 200, "deploy_seconds": 12.5, "controller_workers": 10}
    result = merged(older_format, [_size(2000, 100.0)], workers=10)
    assert result["sizes"] == [_size(2000, 100.0)]
    assert result["workload"] == {"replicas": 2, "steps": "setWeight 50 -> pause 2s"}
