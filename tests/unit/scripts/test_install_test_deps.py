"""scripts/install-test-deps.sh never leaves a system-wide Prometheus running: while it installs the
prometheus package, service starts are forbidden (policy-rc.d answers 101), and afterwards the unit
is stopped and disabled. Run with stand-in commands on PATH; nothing is installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts/install-test-deps.sh"
# Every command the script checks (its `need COMMAND PACKAGE` lines), and those besides Prometheus's.
PROVIDED = re.findall(r"^need (\S+) \S+$", SCRIPT.read_text(), flags=re.MULTILINE)
OTHERS = [c for c in PROVIDED if c not in ("prometheus", "promtool")]

# What a package's maintainer script does before starting its service: ask policy-rc.d.
FAKE_APT_GET = r"""#!/usr/bin/env bash
echo "apt-get $*" >> "$FAKE_LOG"
if [[ "$1" == install ]]; then
  if [[ -x "$CANARY_POLICY_RC_D" ]]; then
    "$CANARY_POLICY_RC_D" prometheus start; echo "policy-rc.d said $?" >> "$FAKE_LOG"
  else
    echo "policy-rc.d absent: service started" >> "$FAKE_LOG"
  fi
fi
"""


class Machine:
    """A PATH holding only the tools the script needs, with the given test commands installed."""

    def __init__(self, tmp_path: Path, installed: list[str]) -> None:
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.log = tmp_path / "log"
        self.log.write_text("")
        self.policy = tmp_path / "policy-rc.d"
        for tool in ("id", "sort", "sh", "chmod", "rm", "bash"):
            found = shutil.which(tool)
            assert found, tool
            (self.bin / tool).symlink_to(found)
        for command in installed:
            self._stub(command, "#!/bin/sh\n")
        self._stub("apt-get", FAKE_APT_GET)
        self._stub("systemctl", '#!/bin/sh\necho "systemctl $*" >> "$FAKE_LOG"\n')

    def _stub(self, name: str, text: str) -> None:
        (self.bin / name).write_text(text)
        (self.bin / name).chmod(0o755)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": str(self.bin),
            "FAKE_LOG": str(self.log),
            "CANARY_POLICY_RC_D": str(self.policy),
            "HOME": os.environ.get("HOME", "/root"),
        }
        bash = shutil.which("bash")
        assert bash
        return subprocess.run(
            [bash, str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=30, check=False
        )


def test_installing_prometheus_forbids_service_starts_during_the_install(tmp_path: Path) -> None:
    machine = Machine(tmp_path, installed=OTHERS)
    result = machine.run()
    assert result.returncode == 0, result.stderr
    assert "policy-rc.d said 101" in machine.log.read_text()


def test_the_guard_is_gone_after_the_install(tmp_path: Path) -> None:
    machine = Machine(tmp_path, installed=OTHERS)
    machine.run()
    assert not machine.policy.exists()


def test_the_guard_is_gone_when_the_install_fails(tmp_path: Path) -> None:
    machine = Machine(tmp_path, installed=OTHERS)
    machine._stub("apt-get", '#!/bin/sh\n[ "$1" = install ] && exit 100\nexit 0\n')
    assert machine.run().returncode != 0
    assert not machine.policy.exists()


def test_a_policy_rc_d_already_there_is_left_as_it_was(tmp_path: Path) -> None:
    machine = Machine(tmp_path, installed=OTHERS)
    machine.policy.write_text("#!/bin/sh\nexit 101\n")
    machine.policy.chmod(0o755)
    machine.run()
    assert machine.policy.read_text() == "#!/bin/sh\nexit 101\n"


def test_dry_run_shows_the_guard_around_the_install_then_stops_and_disables_the_unit(
    tmp_path: Path,
) -> None:
    machine = Machine(tmp_path, installed=OTHERS)
    result = machine.run("--dry-run")
    steps = [line.split()[2] for line in result.stdout.splitlines() if line.startswith("would run:")]
    assert steps == ["apt-get", "sh", "apt-get", "rm", "systemctl"]
    assert "exit 101" in result.stdout
    assert "would run: systemctl disable --now prometheus.service" in result.stdout
    assert machine.log.read_text() == ""  # nothing ran


@pytest.mark.parametrize("missing", ["lua5.4", "chromium", "chromedriver", "graphite-manage"])
def test_no_guard_and_no_systemctl_when_prometheus_is_not_installed(tmp_path: Path, missing: str) -> None:
    machine = Machine(tmp_path, installed=[c for c in PROVIDED if c != missing])
    result = machine.run("--dry-run")
    assert "apt-get install" in result.stdout
    assert "policy-rc.d" not in result.stdout and "systemctl" not in result.stdout


def test_installing_influxdb_also_forbids_service_starts_then_stops_and_disables_its_unit(
    tmp_path: Path,
) -> None:
    machine = Machine(tmp_path, installed=[c for c in PROVIDED if c != "influxd"])
    result = machine.run("--dry-run")
    assert "exit 101" in result.stdout
    assert "would run: systemctl disable --now influxdb.service" in result.stdout
    assert "prometheus.service" not in result.stdout


def test_nothing_runs_when_everything_is_installed(tmp_path: Path) -> None:
    machine = Machine(tmp_path, installed=PROVIDED)
    result = machine.run("--dry-run")
    assert (result.returncode, result.stdout) == (0, "")
    assert "everything already installed" in result.stderr
