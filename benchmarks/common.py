"""Shared benchmark pieces: percentiles, target checks and the machine description.

Knows nothing of MQTT, HTTP or the engine.
"""

from __future__ import annotations

import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent


def pct(values: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile of ``values`` (NaN when empty)."""
    if len(values) == 0:
        return math.nan
    return float(np.percentile(np.asarray(values, np.float64), q))


def median(values: Sequence[float]) -> float:
    """Return the median (NaN when empty)."""
    return pct(values, 50)


def rnd(x: float | None, nd: int = 3) -> float | None:
    """Round for JSON, mapping NaN and None to None."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return round(float(x), nd)


@dataclass
class Check:
    """One target from the performance issue, measured."""

    section: str
    name: str
    value: float | None
    unit: str
    target: str
    met: bool | None  # None: not measured (skipped or failed)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        d = asdict(self)
        d["value"] = rnd(self.value)
        return d


def check(section: str, name: str, value: float | None, unit: str, op: str, limit: float,
          target: str | None = None, note: str = "") -> Check:
    """Compare ``value`` with ``limit`` using ``op`` ('<', '<=', '>', '>=')."""
    met: bool | None
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        met = None
    else:
        met = {"<": value < limit, "<=": value <= limit, ">": value > limit,
               ">=": value >= limit}[op]
    return Check(section, name, value, unit, target or f"{op} {limit:g} {unit}".strip(), met,
                 note)


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo (or platform's guess)."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip().lower(), value.strip())
    except OSError:
        pass
    # x86: "model name"; Raspberry Pi OS: "Model" (the board) and "Hardware" (the SoC).
    for key in ("model name", "model", "hardware"):
        if fields.get(key) and not fields[key].isdigit():
            return fields[key]
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    """Return the work tree's HEAD commit (None outside a git checkout)."""
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=False)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def machine() -> dict[str, Any]:
    """Describe the machine the run happens on."""
    import paho.mqtt
    import psutil

    mem = psutil.virtual_memory()
    try:
        freq = psutil.cpu_freq()
        mhz = round(freq.current) if freq else None
    except (OSError, NotImplementedError):
        mhz = None
    return {
        "cpu_model": cpu_model(),
        "cpu_mhz": mhz,
        "cores_logical": os.cpu_count(),
        "cores_physical": psutil.cpu_count(logical=False),
        "memory_mb": round(mem.total / 1_048_576),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "numpy": np.__version__,
        "paho_mqtt": getattr(paho.mqtt, "__version__", "?"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "executable": sys.executable,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "git_commit": git_commit(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
