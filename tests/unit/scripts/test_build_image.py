"""scripts/build-image.sh (run by scripts/test.sh) builds the controller image with buildah and runs its
entry point; on a machine without buildah it must step aside at once, not fail the test command."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "build-image.sh"


def test_without_buildah_the_image_step_is_skipped_at_once(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", "sed"):
        found = shutil.which(tool)
        assert found is not None
        os.symlink(found, bin_dir / tool)
    started = time.monotonic()
    done = subprocess.run(
        [shutil.which("bash") or "bash", str(SCRIPT)],
        env={"PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "skipped: buildah is not installed" in done.stdout
    assert time.monotonic() - started < 5


def test_the_test_command_runs_it() -> None:
    assert "bash scripts/build-image.sh" in (ROOT / "scripts" / "test.sh").read_text()
