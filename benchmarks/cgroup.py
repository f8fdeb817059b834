"""A CPU-limited cgroup for ``lightbox bench budget``: cgroup v2 ``cpu.max`` or v1 CFS quota.

Owns creating, limiting and removing one throwaway cgroup. A share is a percent of
one core (10 = 10 ms of CPU every 100 ms). Needs root (or a delegated subtree);
``CpuCgroup.problem()`` says in words why it cannot work on this machine.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
#: The shortest CFS period used. Short, so that a small share is spread over the frame
#: period as a slow CPU would be, instead of 100 ms bursts a frame loop sees as stalls;
#: the kernel's smallest quota is 1 ms, so shares under 10 % get a longer period.
PERIOD_US = 10_000
MIN_QUOTA_US = 1_000


def period_us(share_pct: float) -> int:
    """The CFS period for ``share_pct``: 10 ms, longer when the quota would be under 1 ms."""
    return max(PERIOD_US, -(-MIN_QUOTA_US * 100 // max(1, round(share_pct))))


class CpuCgroup:
    """One cgroup limited to ``share_pct`` of one core; ``procs`` is what a child joins."""

    def __init__(self, name: str = f"lightbox-bench-{os.getpid()}") -> None:
        self.v2 = (ROOT / "cgroup.controllers").exists()
        self.path = ROOT / name if self.v2 else ROOT / "cpu" / name

    @staticmethod
    def problem() -> str | None:
        """Why no CPU-limited cgroup can be made here, or None when one can."""
        if (ROOT / "cgroup.controllers").exists():
            if "cpu" not in (ROOT / "cgroup.controllers").read_text().split():
                return "cgroup v2 without the cpu controller"
            target = ROOT
        elif (ROOT / "cpu" / "cpu.cfs_quota_us").exists():
            target = ROOT / "cpu"
        else:
            return "no cgroup cpu controller mounted at /sys/fs/cgroup"
        if not os.access(target, os.W_OK):
            return f"{target} is not writable (run as root)"
        return None

    @property
    def procs(self) -> Path:
        """The file a process writes its pid into to join."""
        return self.path / "cgroup.procs"

    def create(self) -> None:
        """Make the cgroup (and enable the cpu controller for it on v2)."""
        if self.v2:
            control = ROOT / "cgroup.subtree_control"
            if "cpu" not in control.read_text().split():
                control.write_text("+cpu")
        self.path.mkdir(exist_ok=True)

    def set_share(self, share_pct: float) -> None:
        """Limit the cgroup to ``share_pct`` percent of one core."""
        period = period_us(share_pct)
        quota = max(MIN_QUOTA_US, round(period * share_pct / 100))
        if self.v2:
            (self.path / "cpu.max").write_text(f"{quota} {period}")
        else:
            (self.path / "cpu.cfs_quota_us").write_text("-1")  # so any period is accepted
            (self.path / "cpu.cfs_period_us").write_text(str(period))
            (self.path / "cpu.cfs_quota_us").write_text(str(quota))

    def throttled(self) -> tuple[int, int]:
        """Return (periods, throttled periods) so far."""
        stats = dict(line.split() for line in (self.path / "cpu.stat").read_text().splitlines())
        return int(stats.get("nr_periods", 0)), int(stats.get("nr_throttled", 0))

    def remove(self) -> None:
        """Remove the cgroup (its processes must have exited)."""
        if self.path.exists():
            self.path.rmdir()
