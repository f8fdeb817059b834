"""The host, as the engine and the operator tools read it: sensors and external programs.

Owns ``SystemProbe`` (CPU temperature, the Pi firmware's throttled word, this
process's CPU and memory, free disk; a missing sensor reads as None, never an
error) and the one way to run an external program with a timeout
(``run_command``), used by telemetry, diagnose, verify and the preflight; and
``trim_heap`` and ``native_memory``: the C allocator's free pages handed back to
the kernel, and its figures.
Knows nothing of MQTT, the render loop or displays.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psutil

#: Bits of the Pi firmware's get_throttled word.
THROTTLE_BITS = {
    0: "under-voltage now",
    1: "ARM frequency capped now",
    2: "throttled now",
    3: "soft temperature limit now",
    16: "under-voltage has occurred",
    17: "ARM frequency capping has occurred",
    18: "throttling has occurred",
    19: "soft temperature limit has occurred",
}



@dataclass(frozen=True)
class Completed:
    """What a finished program left: its exit code and its text output."""

    returncode: int
    stdout: str
    stderr: str


def run_command(argv: list[str], timeout_s: float = 5.0) -> Completed | None:
    """Run a program; None when it is not installed, cannot start or outlives ``timeout_s``."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return Completed(r.returncode, r.stdout, r.stderr)


def command_output(argv: list[str], timeout_s: float = 5.0) -> str | None:
    """Return a program's stdout, or None when it is missing or hangs (see ``run_command``)."""
    done = run_command(argv, timeout_s)
    return None if done is None else done.stdout



@dataclass
class SystemProbe:
    """Reads the machine's sensors; every missing sensor reads as None, never an error."""

    root: Path = Path("/")
    state_dir: Path = Path(".")
    run: Callable[[list[str]], str | None] | None = None
    cpu_window_s: float = 5.0
    _proc: psutil.Process | None = None
    _cpu: float = 0.0
    _cpu_at: float = 0.0

    def __post_init__(self) -> None:
        self._cpu_at = time.monotonic()

    def _process(self) -> psutil.Process:
        """This process, from the first reading on (the CPU window starts there).

        psutil is imported here, not with this module: the engine builds its probe
        before the first frame, and telemetry reads it only after.
        """
        if self._proc is None:
            import psutil

            self._proc = psutil.Process()
            self._proc.cpu_percent(None)  # prime: the first call always returns 0.0
            self._cpu_at = time.monotonic()
        return self._proc

    def cpu_temp_c(self) -> float | None:
        """CPU temperature from thermal_zone0, in degrees C."""
        try:
            raw = (self.root / "sys/class/thermal/thermal_zone0/temp").read_text().strip()
            return round(int(raw) / 1000.0, 1)
        except (OSError, ValueError):
            return None

    def throttled(self) -> int | None:
        """The firmware's throttled bit field (hwmon under-voltage alarm as a fallback)."""
        out = self._run(["vcgencmd", "get_throttled"])
        if out and "=" in out:
            try:
                return int(out.strip().split("=", 1)[1], 16)
            except ValueError:
                pass
        hwmon = self.root / "sys/class/hwmon"
        try:
            for d in hwmon.iterdir():
                if (d / "name").read_text().strip() == "rpi_volt":
                    alarm = int((d / "in0_lcrit_alarm").read_text().strip())
                    return 0x1 if alarm else 0
        except (OSError, ValueError):
            pass
        return None

    def _run(self, argv: list[str]) -> str | None:
        if self.run is not None:
            return self.run(argv)
        return command_output(argv, timeout_s=2.0)

    def cpu_percent(self) -> float:
        """Process CPU % of one core, averaged over at least ``cpu_window_s``."""
        now = time.monotonic()
        if now - self._cpu_at >= self.cpu_window_s:
            self._cpu = round(self._process().cpu_percent(None), 1)
            self._cpu_at = now
        return self._cpu

    def rss_mb(self) -> float:
        """Resident memory of this process in MB."""
        return round(self._process().memory_info().rss / 1_048_576, 1)

    def disk_free_mb(self) -> float | None:
        """Free space where the state lives, in MB."""
        try:
            return round(shutil.disk_usage(self.state_dir).free / 1_048_576, 1)
        except OSError:
            return None


def throttle_reasons(word: int | None) -> list[str]:
    """Describe the set bits of a get_throttled word."""
    if not word:
        return []
    return [text for bit, text in THROTTLE_BITS.items() if word & (1 << bit)]


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _glibc() -> ctypes.CDLL | None:
    """The C library when it has glibc's ``malloc_trim``, else None (musl, others)."""
    try:
        libc = ctypes.CDLL(None)
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    except (OSError, AttributeError):
        return None
    if hasattr(libc, "mallinfo2"):  # glibc 2.33 and later (bookworm has 2.36)
        libc.mallinfo2.restype = _MallInfo2
    return libc


_GLIBC = _glibc()
#: Seconds between heap trims in the engine (``LIGHTBOX_MALLOC_TRIM_S``; 0 turns them off).
TRIM_HEAP_DEFAULT_S = 60.0


def trim_heap_interval_s() -> float:
    """How often the engine trims its heap: ``LIGHTBOX_MALLOC_TRIM_S`` or 60 s (0: never)."""
    try:
        value = float(os.environ.get("LIGHTBOX_MALLOC_TRIM_S", TRIM_HEAP_DEFAULT_S))
    except ValueError:
        return TRIM_HEAP_DEFAULT_S
    return value if value >= 0 else TRIM_HEAP_DEFAULT_S


def trim_heap() -> bool:
    """Give the free pages inside glibc's heaps back to the kernel (``malloc_trim(0)``).

    glibc keeps memory a process has freed for its next allocations. A long-running
    process that allocates in many sizes from several threads (MQTT, telemetry, the
    render loop) ends up with free pages scattered through its heaps that stay
    resident: RSS creeps while the memory in use stays flat (docs/performance.md,
    "Long soak"). Returns True when pages were released; False off glibc.
    """
    return bool(_GLIBC.malloc_trim(0)) if _GLIBC is not None else False


def native_memory() -> dict[str, Any]:
    """glibc's allocator figures in MB (none off glibc), and Python's live block count.

    heap: obtained from the kernel by brk/mmap for small blocks (all arenas); in_use and
    free: of that heap; mmapped: large blocks, each its own mapping.
    """
    body: dict[str, Any] = {"python_blocks": sys.getallocatedblocks()}
    if _GLIBC is None or not hasattr(_GLIBC, "mallinfo2"):
        return body
    mi = _GLIBC.mallinfo2()
    mb = 1_048_576
    return {**body, "heap_mb": round(mi.arena / mb, 2), "in_use_mb": round(mi.uordblks / mb, 2),
            "free_mb": round(mi.fordblks / mb, 2), "mmapped_mb": round(mi.hblkhd / mb, 2),
            "mmapped_blocks": mi.hblks}
