"""A few minutes of the engine's metrics, kept by the bridge for the dashboard's charts.

Owns a bounded ring buffer of the ``metrics`` documents the link receives (one
per metrics interval, numbers only) and the ``GET /api/metrics/history`` route,
so a freshly loaded page draws its "Last minutes" charts at once. Memory is
bounded by ``window_s / interval`` points of a few dozen numbers each. Knows
nothing of paho or the render loop.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Any

from flask import Blueprint, Flask, Response

from bridge.deps import Deps, Limits
from bridge.ports import EngineLink
from bridge.web import json_response

#: How much history is kept and served.
WINDOW_S = 600.0
#: Cap on points whatever the interval (a 1 s interval over 10 minutes).
MAX_POINTS = 600


class MetricsHistory:
    """The last ``window_s`` of metrics, at most ``max_points`` of them."""

    def __init__(self, interval_s: float, window_s: float = WINDOW_S,
                 max_points: int = MAX_POINTS) -> None:
        self.interval_s = interval_s
        self.window_s = window_s
        self.max_points = max(1, min(max_points, math.ceil(window_s / interval_s) + 1))
        self._points: deque[dict[str, float | None]] = deque(maxlen=self.max_points)
        self._lock = threading.Lock()

    def on_message(self, name: str, value: Any) -> None:
        """Link listener: keep each ``metrics`` document's numbers, stamped ``ts``."""
        if name == "metrics" and isinstance(value, dict):
            self.add(value, time.time())

    def add(self, metrics: dict[str, Any], ts: float) -> None:
        """Keep the numeric fields of ``metrics`` (null stays null) at wall time ``ts``."""
        point: dict[str, float | None] = {"ts": round(ts, 3)}
        for key, v in metrics.items():
            if v is None or (isinstance(v, int | float) and not isinstance(v, bool)
                             and math.isfinite(v)):
                point[key] = v
        with self._lock:
            self._points.append(point)

    def points(self, now: float) -> list[dict[str, float | None]]:
        """Return the points of the last ``window_s`` before ``now``, oldest first."""
        since = now - self.window_s
        with self._lock:
            return [p for p in self._points if (p["ts"] or 0.0) >= since]

    def document(self, now: float) -> dict[str, Any]:
        """Return the body of ``GET /api/metrics/history``."""
        return {"interval_s": self.interval_s, "window_s": self.window_s,
                "max_points": self.max_points, "points": self.points(now)}


def install(app: Flask, link: EngineLink, limits: Limits,
            history: MetricsHistory | None = None) -> MetricsHistory:
    """Keep metrics history from ``link`` and serve it; return the history."""
    deps: Deps = app.extensions["lightbox"]
    hist = history or MetricsHistory(deps.settings.health.metrics_interval_s)
    link.add_listener(hist.on_message)
    app.extensions["lightbox_history"] = hist
    bp = Blueprint("history", __name__)

    @bp.get("/api/metrics/history")
    @limits.reads
    def metrics_history() -> Response:
        return json_response(hist.document(time.time()))

    app.register_blueprint(bp)
    return hist
