"""The bridge keeps a few minutes of metrics and serves them at GET /api/metrics/history."""

from __future__ import annotations

import time

import pytest

from appliance.settings import Settings
from bridge.app import create_app
from bridge.history import MetricsHistory
from bridge.link import MqttEngineLink
from tests.bridge.conftest import Stack
from tests.support import wait_until


def test_history_is_bounded_by_points_and_by_its_window() -> None:
    h = MetricsHistory(interval_s=5.0, window_s=60.0)
    assert h.max_points == 13
    for i in range(100):
        h.add({"fps": float(i), "frames_total": i}, 1000.0 + 5 * i)
    pts = h.points(now=1000.0 + 5 * 99)
    assert len(pts) == 13
    assert [p["fps"] for p in pts] == [float(i) for i in range(87, 100)]
    # Ten minutes later nothing is recent any more.
    assert h.points(now=1000.0 + 5 * 99 + 61) == []


def test_history_keeps_numbers_and_nulls_only() -> None:
    h = MetricsHistory(interval_s=1.0)
    h.on_message("metrics", {"fps": 29.5, "cpu_temp_c": None, "boot_time": "2026-01-01T00:00Z",
                             "throttled": True, "frame_ms_p99": float("nan")})
    h.on_message("state", {"fps": 1})  # another topic: not metrics
    (point,) = h.points(now=time.time())
    assert set(point) == {"ts", "fps", "cpu_temp_c"}
    assert point["fps"] == 29.5 and point["cpu_temp_c"] is None


def test_route_serves_what_the_app_kept() -> None:
    settings = Settings(device_id="x")
    app = create_app(settings, link=MqttEngineLink(settings))
    hist = app.extensions["lightbox_history"]
    client = app.test_client()
    empty = client.get("/api/metrics/history")
    assert empty.status_code == 200
    body = empty.get_json()
    assert body["points"] == [] and body["interval_s"] == settings.health.metrics_interval_s
    assert body["window_s"] >= 300  # "a few minutes"
    hist.on_message("metrics", {"fps": 30.0, "cpu_percent": 12.5})
    hist.on_message("metrics", {"fps": 29.0, "cpu_percent": 13.0})
    pts = client.get("/api/metrics/history").get_json()["points"]
    assert [p["fps"] for p in pts] == [30.0, 29.0]
    assert pts[0]["ts"] <= pts[1]["ts"]


@pytest.mark.integration
def test_real_bridge_fills_history_from_the_engines_metrics(stack: Stack) -> None:
    def points() -> list[dict[str, float]]:
        r = stack.get("/api/metrics/history")
        assert r.status_code == 200, r.text
        pts: list[dict[str, float]] = r.json()["points"]
        return pts

    wait_until(lambda: len(points()) >= 3, 20, 0.2, "three metrics points")
    pts = points()
    assert all({"ts", "fps", "target_fps", "frame_ms_p99", "cpu_percent"} <= set(p) for p in pts)
    stamps = [p["ts"] for p in pts]
    assert stamps == sorted(stamps)
    uptimes = [p["uptime_s"] for p in pts]
    assert uptimes == sorted(uptimes) and uptimes[0] < uptimes[-1]
