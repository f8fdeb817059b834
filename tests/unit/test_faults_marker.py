"""The fault tests that start brokers and engines carry the ``integration`` marker.

A ``pytestmark`` in a conftest has no effect, so ``-m "not integration"`` once
selected every fault test; this runs the real collection and checks the split.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _collected(marker: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-m", marker, "tests/faults"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    return [line for line in out.stdout.splitlines() if "::" in line]


def test_not_integration_selects_only_the_in_process_fault_tests() -> None:
    selected = _collected("not integration")
    assert selected, "the in-process fault tests must still run without a broker"
    assert {line.split("::")[0] for line in selected} == {"tests/faults/test_bounded.py"}


def test_the_broker_fault_tests_are_integration() -> None:
    files = {line.split("::")[0] for line in _collected("integration")}
    assert "tests/faults/test_broker_faults.py" in files
    assert "tests/faults/test_bounded.py" not in files
