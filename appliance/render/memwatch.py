"""Memory watch: a public test hook that traces allocations and reports where memory grows.

Off unless ``LIGHTBOX_TRACEMALLOC=1``. Then the engine starts ``tracemalloc``,
takes a baseline after ``LIGHTBOX_TRACEMALLOC_WARMUP_S`` (default 20 s), and
every ``LIGHTBOX_TRACEMALLOC_INTERVAL_S`` (default 60 s) and at the clean stop
logs ``tracemalloc_top``: the ten source lines whose live allocations grew most
since the baseline, with glibc's own figures (``malloc``: bytes in use and free in
its heap, bytes in its mmapped blocks) for memory tracemalloc cannot see. Tracing
costs CPU and each report pauses the process for a moment, so this is for soak
runs, never for a box on the wall. Knows nothing of MQTT, animations or displays.
"""

from __future__ import annotations

import os
import threading
import tracemalloc
from typing import Any

import structlog

from appliance.system import native_memory

log = structlog.get_logger("engine")

ENV = "LIGHTBOX_TRACEMALLOC"
TOP_N = 10


def enabled() -> bool:
    """True when the environment asks for allocation tracing."""
    return os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


class MemWatch:
    """Baseline snapshot after warm-up, then periodic top-growth reports."""

    def __init__(self) -> None:
        self.warmup_s = _env_float("LIGHTBOX_TRACEMALLOC_WARMUP_S", 20.0)
        self.interval_s = _env_float("LIGHTBOX_TRACEMALLOC_INTERVAL_S", 60.0)
        self.frames = int(_env_float("LIGHTBOX_TRACEMALLOC_FRAMES", 4))
        self._baseline: tracemalloc.Snapshot | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start tracing and the reporting thread."""
        tracemalloc.start(self.frames)
        self._thread = threading.Thread(target=self._run, name="memwatch", daemon=True)
        self._thread.start()
        log.info("tracemalloc_started", warmup_s=self.warmup_s, interval_s=self.interval_s)

    def traced_mb(self) -> float:
        """Memory currently traced, in MB."""
        return round(tracemalloc.get_traced_memory()[0] / 1_048_576, 2)

    def _snapshot(self) -> tracemalloc.Snapshot:
        return tracemalloc.take_snapshot().filter_traces((
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
            tracemalloc.Filter(False, "<unknown>"),
        ))

    def report(self, final: bool = False) -> dict[str, Any] | None:
        """Log and return the top growth since the baseline (None before the baseline)."""
        with self._lock:
            if self._baseline is None:
                return None
            stats = self._snapshot().compare_to(self._baseline, "lineno")
        growth = sum(s.size_diff for s in stats)
        top = [
            {"where": f"{s.traceback[0].filename}:{s.traceback[0].lineno}",
             "size_diff_kb": round(s.size_diff / 1024, 1), "count_diff": s.count_diff}
            for s in sorted(stats, key=lambda s: s.size_diff, reverse=True)[:TOP_N]
        ]
        body = {"growth_kb": round(growth / 1024, 1), "traced_mb": self.traced_mb(),
                "malloc": native_memory(), "top": top}
        log.info("tracemalloc_top", final=final, **body)
        return body

    def stop(self) -> None:
        """Report one last time and stop the thread (tracing stays on until exit)."""
        self._stop.set()
        self.report(final=True)

    def _run(self) -> None:
        if self._stop.wait(self.warmup_s):
            return
        with self._lock:
            self._baseline = self._snapshot()
        log.info("tracemalloc_baseline", traced_mb=self.traced_mb())
        while not self._stop.wait(self.interval_s):
            try:
                self.report()
            except Exception as exc:  # diagnostics must never take the engine down
                log.error("tracemalloc_failed", error=str(exc))
