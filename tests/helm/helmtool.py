"""The real `helm` client for the chart tests: built from its Go module by scripts/build-helm.sh and
cached in ~/.cache/canary/helm (scripts/test.sh builds it; so does the first test needing it, when Go
is installed and CANARY_HELM_BUILD is not 0). Without it the tests are skipped, or fail in CI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "scripts" / "build-helm.sh"
CONTROLLER_CHART = ROOT / "charts" / "canary"
APP_CHART = ROOT / "examples" / "helm"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def helm_binary() -> Path:
    """The cached helm, built now if missing and possible; skips (fails in CI) otherwise."""
    return cached_binary(BUILD, "helm", "CANARY_HELM_BUILD")


def cached_binary(build: Path, name: str, switch: str) -> Path:
    """`name` as the cached build script `build` makes it (scripts/lib/cached-build.sh), built now if
    missing and possible (Go installed, `switch` not 0); skips (fails in CI) otherwise."""
    bin_dir = subprocess.run(
        ["bash", str(build), "--print-bin-dir"], check=True, capture_output=True, text=True
    ).stdout.strip()
    binary = Path(bin_dir) / name
    if subprocess.run(["bash", str(build), "--check"], check=False).returncode == 0:
        return binary
    reason = ""
    if os.environ.get(switch, "1") == "0":
        reason = f"{name} not built ({binary}) and {switch}=0; run {build}"
    elif shutil.which("go") is None:
        reason = f"{name} not built ({binary}) and no Go toolchain; run scripts/install-go.sh, then {build}"
    else:
        built = subprocess.run(["bash", str(build)], check=False, capture_output=True, text=True)
        if built.returncode == 0:
            return binary
        reason = f"{build} failed (exit {built.returncode}):\n{built.stderr[-3000:]}"
    if _in_ci():
        pytest.fail(f"{name} unavailable in CI: {reason}", pytrace=False)
    pytest.skip(f"{name} unavailable: {reason}")


class Helm:
    def __init__(self, binary: Path, home: Path, kubeconfig: Path | None = None) -> None:
        self.binary = binary
        self.kubeconfig = kubeconfig
        # Its own config, cache and data dirs: nothing read from or written to the user's ~/.config/helm.
        self.env = {
            **os.environ,
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_DATA_HOME": str(home / "data"),
        }
        if kubeconfig is not None:
            self.env["KUBECONFIG"] = str(kubeconfig)

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(self.binary), *args],
            check=False,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"helm {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
            )
        return done

    def template(self, release: str, chart: Path, *args: str) -> list[dict[str, Any]]:
        out = self("template", release, str(chart), *args).stdout
        return [doc for doc in yaml.safe_load_all(out) if doc]


def set_args(values: dict[str, Any]) -> list[str]:
    """`--set-json key=<json>` for each value (lists and dicts included)."""
    return [arg for key, value in values.items() for arg in ("--set-json", f"{key}={json.dumps(value)}")]
