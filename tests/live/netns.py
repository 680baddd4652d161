"""Run a command inside a network namespace of its own, where the pod CIDR is routed to ``lo``.

    python tests/live/netns.py -- python -m pytest tests/live
    python tests/live/netns.py --check           # exit 0 if such a namespace can be made here

Inside, ``lo`` is up and every address of 10.244.0.0/16 is local: kwok's pod IPs can be bound (by the
pod runner) and reached (by Traefik), and no packet can leave, since the namespace has no other
interface. As root ``unshare --net``; otherwise ``--map-root-user`` as well (an unprivileged user
namespace, where the kernel allows it). CANARY_LIVE_NETNS=1 tells the command it is inside.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

POD_CIDR = "10.244.0.0/16"
INSIDE_ENV = "CANARY_LIVE_NETNS"


def inside() -> bool:
    return os.environ.get(INSIDE_ENV) == "1"


def command(argv: Sequence[str]) -> list[str]:
    """``argv`` wrapped so that it runs inside a fresh namespace set up as described above."""
    unshare = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--net", "--map-root-user"]
    setup = f'ip link set lo up && ip route add local {POD_CIDR} dev lo && {INSIDE_ENV}=1 exec "$@"'
    return [*unshare, "--", "bash", "-c", setup, "canary-live-netns", *argv]


def available() -> str | None:
    """None if a namespace can be made here, else why not."""
    try:
        probe = subprocess.run(command(["true"]), capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"cannot make a network namespace: {error}"
    if probe.returncode != 0:
        return f"cannot make a network namespace ({' '.join(command(['true']))}): {probe.stderr.strip()}"
    return None


def main(argv: list[str]) -> int:
    if argv[:1] == ["--check"]:
        reason = available()
        if reason:
            print(reason, file=sys.stderr)
        return 1 if reason else 0
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    return subprocess.call(command(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
