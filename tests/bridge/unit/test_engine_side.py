"""What HTTP says when the engine is offline, silent, stale or failed (no broker needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.bridge.unit.conftest import Bridge, error_of


@pytest.mark.parametrize(("path", "body"), [
    ("/api/animation", {"name": "plasma"}), ("/api/brightness", {"brightness": 10}),
    ("/api/power", {"state": "OFF"}), ("/api/params", {"speed": 2}), ("/api/identify", {}),
])
def test_an_offline_engine_is_503_at_once(bridge: Bridge, path: str, body: object) -> None:
    bridge.engine.publish("status", "offline")
    r = bridge.post(path, body)
    assert r.status_code == 503
    assert error_of(r)["code"] == "engine_offline" and r.headers["Retry-After"] == "5"
    assert bridge.engine.requests == []


def test_an_unreachable_broker_is_503_and_status_unknown(bridge: Bridge) -> None:
    bridge.engine.disconnect()
    r = bridge.post("/api/brightness", {"brightness": 10})
    assert r.status_code == 503 and "unknown" in error_of(r)["message"]
    assert bridge.get("/api/state").headers["X-Engine-Status"] == "unknown"
    h = bridge.get("/api/health")
    assert h.status_code == 503 and h.headers["Retry-After"] == "5"
    body = h.get_json()
    assert "mqtt" in body["failed"] and "engine_online" in body["failed"]
    assert body["checks"]["mqtt"] == {"ok": False, "last_error": "broker unreachable"}


def test_a_silent_engine_is_504(bridge: Bridge) -> None:
    bridge.engine.silent = True
    r = bridge.post("/api/brightness", {"brightness": 10})
    assert r.status_code == 504 and error_of(r)["code"] == "engine_timeout"
    assert "0.5 s" in error_of(r)["message"]  # the bridge's command_timeout_s
    assert bridge.engine.requests == [("brightness", {"brightness": 10})]
    text = bridge.get("/metrics").get_data(as_text=True)
    assert ('lightbox_bridge_command_failures_total{action="brightness",reason="timeout"} 1.0'
            in text)


def test_stale_health_fails_the_health_check(bridge: Bridge) -> None:
    old = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    bridge.engine.publish("health", {**bridge.engine.value("health"), "ts": old})
    r = bridge.get("/api/health")
    assert r.status_code == 503
    body = r.get_json()
    assert body["failed"] == ["health_fresh"]
    assert body["checks"]["health_fresh"]["age_s"] > body["checks"]["health_fresh"]["max_age_s"]


def test_a_failed_engine_fails_the_health_check(bridge: Bridge) -> None:
    bridge.engine.publish("health", {**bridge.engine.value("health"), "status": "failed"})
    r = bridge.get("/api/health")
    assert r.status_code == 503 and r.get_json()["failed"] == ["health_not_failed"]


def test_health_never_published_is_503(bridge: Bridge) -> None:
    bridge.engine.forget("health")
    body = bridge.get("/api/health").get_json()
    assert body["engine"] is None
    assert set(body["failed"]) == {"health_fresh", "health_not_failed"}
