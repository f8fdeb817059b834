"""`lightbox bench budget`: the share search, the cases option, and a real CPU-limited cgroup.

The cgroup test runs a busy loop in a cgroup capped at 10 % of a core and checks it
got well under half a core: a bound that holds on a slow or a fast machine.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest

from benchmarks.budget import SHARES, search
from benchmarks.cgroup import CpuCgroup, period_us
from benchmarks.cli import parse_cases
from tests.conftest import need


def _fake(lowest: float) -> tuple[list[float], Any]:
    asked: list[float] = []

    def run(share: float) -> dict[str, Any]:
        asked.append(share)
        return {"share_pct": share, "holds": share >= lowest}

    return asked, run


@pytest.mark.parametrize("lowest", [2, 3, 5, 7, 30])
def test_search_finds_the_lowest_share_that_holds(lowest: float) -> None:
    asked, run = _fake(lowest)
    best, trials = search(run)
    assert best == lowest and len(trials) == len(asked)
    assert len(set(asked)) == len(asked)  # no share measured twice


def test_search_says_none_when_even_the_largest_share_fails() -> None:
    asked, run = _fake(1000)
    best, _ = search(run)
    assert best is None and asked[-1] == SHARES[-1]


def test_small_shares_get_a_period_with_a_quota_of_at_least_1_ms() -> None:
    for share in SHARES:
        assert period_us(share) * share / 100 >= 1000 - 1
    assert period_us(10) == period_us(30) == 10_000


def test_cases_option() -> None:
    assert parse_cases("plasma:64x32, fire:128X64") == (("plasma", 64, 32), ("fire", 128, 64))
    assert parse_cases(None) is None
    with pytest.raises(SystemExit, match="ANIMATION:WIDTHxHEIGHT"):
        parse_cases("plasma-64x32")


def test_a_cgroup_caps_a_busy_process() -> None:
    problem = CpuCgroup.problem()
    need("a CPU-limited cgroup", problem is None, str(problem))
    cg = CpuCgroup(f"lightbox-test-{time.monotonic_ns()}")
    cg.create()
    try:
        cg.set_share(10)
        code = ("import time\nt=time.monotonic(); c=time.process_time()\n"
                "while time.monotonic()-t<1.5: pass\n"
                "print((time.process_time()-c)/(time.monotonic()-t))")
        out = subprocess.run([sys.executable, "-m", "benchmarks.cgexec", str(cg.procs),
                              sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60, check=True)
        assert float(out.stdout) < 0.5, out.stdout
        periods, throttled = cg.throttled()
        assert throttled > 0 and periods >= throttled
    finally:
        cg.remove()
