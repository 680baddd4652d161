"""The Argo CD health check (manifests/argocd/health.lua), run by a real Lua interpreter.

Needs `lua5.4` or `lua5.3` (Debian packages; scripts/install-test-deps.sh installs lua5.4).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "manifests" / "argocd" / "health.lua"
LUA = shutil.which("lua5.4") or shutil.which("lua5.3") or shutil.which("lua")

pytestmark = pytest.mark.skipif(LUA is None, reason="no Lua interpreter; run scripts/install-test-deps.sh")


def _lua(value: Any) -> str:
    """A Python value as a Lua literal."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def health(rollout: dict[str, Any]) -> tuple[str, str]:
    driver = (
        f"obj = {_lua(rollout)}\n"
        f"local hs = dofile({_lua(str(SCRIPT))})\n"
        'io.write(hs.status, "\\n", hs.message or "")\n'
    )
    assert LUA is not None
    out = subprocess.run([LUA, "-"], input=driver, capture_output=True, text=True, check=True).stdout
    status, _, message = out.partition("\n")
    return status, message


def _rollout(generation: int, status: dict[str, Any] | None) -> dict[str, Any]:
    return {"metadata": {"name": "web", "generation": generation}, **({"status": status} if status else {})}


@pytest.mark.parametrize(
    ("rollout", "expected"),
    [
        (_rollout(1, None), ("Progressing", "Waiting for the rollout spec update to be observed")),
        (
            _rollout(3, {"observedGeneration": 2, "phase": "Healthy"}),
            ("Progressing", "Waiting for the rollout spec update to be observed"),
        ),
        (
            _rollout(2, {"observedGeneration": 2, "phase": "Paused", "message": "CanaryPauseStep"}),
            ("Suspended", "CanaryPauseStep"),
        ),
        (_rollout(2, {"observedGeneration": 2, "phase": "Paused"}), ("Suspended", "Rollout is paused")),
        (
            _rollout(
                2,
                {"observedGeneration": 2, "phase": "Degraded", "message": "RolloutAborted: analysis failed"},
            ),
            ("Degraded", "RolloutAborted: analysis failed"),
        ),
        (_rollout(2, {"observedGeneration": 2, "phase": "Healthy", "message": ""}), ("Healthy", "")),
        (
            _rollout(2, {"observedGeneration": 2, "phase": "Progressing", "message": "step 2/4"}),
            ("Progressing", "step 2/4"),
        ),
    ],
)
def test_health_follows_the_phase_once_the_generation_is_observed(
    rollout: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert health(rollout) == expected
