"""AnalysisTemplates whose `job` metric runs a Job that succeeds, fails or hangs, the same on both
clusters: a Job whose pod no node fits never runs (it hangs), and with `activeDeadlineSeconds` the
Job controller then fails it."""

from __future__ import annotations

from typing import Any

from scenario import UNSCHEDULABLE


def job_template(name: str, *, runs: bool, deadline: int | None = None) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "containers": [{"name": "check", "image": "busybox", "command": ["true"]}],
        "restartPolicy": "Never",
    }
    if not runs:
        pod["nodeSelector"] = dict(UNSCHEDULABLE)
    job: dict[str, Any] = {"backoffLimit": 0, "template": {"spec": pod}}
    if deadline is not None:
        job["activeDeadlineSeconds"] = deadline
    return {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": name},
        "spec": {"metrics": [{"name": "job", "provider": {"job": {"spec": job}}}]},
    }


JOB_TEMPLATES = [
    job_template("job-succeeds", runs=True),
    job_template("job-fails", runs=False, deadline=3),
    job_template("job-hangs", runs=False),
]
