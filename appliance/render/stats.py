"""Frame timing and the counters the render loop keeps for metrics.

Owns ``FrameStats`` (a fixed ring, no allocation per frame) and ``Counters``.
Knows nothing of animations, displays, commands or MQTT.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_WINDOW = 512


class FrameStats:
    """Frame timing over a fixed window (no allocation per frame)."""

    def __init__(self, window: int = FRAME_WINDOW) -> None:
        self.frame_ms = np.zeros(window, np.float64)
        self.stamps = np.zeros(window, np.float64)
        self.index = 0
        self.frames_total = 0
        self.frames_dropped = 0
        #: Largest time between two frame starts since start-up, and how many were > 100 ms.
        self.gap_max_s = 0.0
        self.gaps_over_100ms = 0
        self.last_gap_s = 0.0
        self._last_stamp = 0.0

    def record(self, stamp: float, frame_ms: float) -> None:
        """Record one frame's start time and cost."""
        i = self.index
        self.frame_ms[i] = frame_ms
        self.stamps[i] = stamp
        self.index = (i + 1) % len(self.frame_ms)
        if self.frames_total:
            gap = stamp - self._last_stamp
            self.last_gap_s = gap
            if gap > self.gap_max_s:
                self.gap_max_s = gap
            if gap > 0.1:
                self.gaps_over_100ms += 1
        self._last_stamp = stamp
        self.frames_total += 1

    def recent_gap_ms(self) -> float:
        """Largest time between two frame starts within the window (copying)."""
        n = min(self.frames_total, len(self.stamps))
        if n < 2:
            return 0.0
        if self.frames_total > len(self.stamps):
            stamps = np.concatenate((self.stamps[self.index:], self.stamps[:self.index]))
        else:
            stamps = self.stamps[:n].copy()
        return round(float(np.diff(stamps).max()) * 1000.0, 1)

    def summary(self, now: float, window_s: float = 5.0) -> dict[str, float]:
        """Return fps over the last ``window_s`` and frame-time percentiles (copying)."""
        n = min(self.frames_total, len(self.frame_ms))
        if n == 0:
            return {"fps": 0.0, "frame_ms_p50": 0.0, "frame_ms_p99": 0.0}
        ms = self.frame_ms[:n].copy()
        stamps = self.stamps[:n].copy()
        recent = stamps[stamps >= now - window_s]
        if len(recent) >= 2:
            span = max(now - float(recent.min()), 1e-9)
            # A full ring spanning under 0.5 s is an uncapped loop, not a stalled one.
            fps = len(recent) / span if span >= 0.5 or len(recent) == len(ms) else 0.0
        else:
            fps = 0.0
        p50, p99 = np.percentile(ms, (50, 99))  # one sort for both (telemetry's pass)
        return {
            "fps": round(fps, 2),
            "frame_ms_p50": round(float(p50), 3),
            "frame_ms_p99": round(float(p99), 3),
        }


@dataclass
class Counters:
    """Everything the engine counts for metrics."""

    animation_errors_total: int = 0
    recoveries_total: int = 0
    commands_total: int = 0
    commands_rejected_total: int = 0
    display_errors_total: int = 0
    fallbacks_total: int = 0
    fallback_failures_total: int = 0
    quarantines_total: int = 0
    animation_hangs_total: int = 0
    animation_late_frames_total: int = 0
    animation_leaks_total: int = 0
