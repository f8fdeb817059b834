"""The engine stopped or frozen: 503 at once, 504 after the bounded wait, never a hang."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest

from tests.bridge.conftest import Stack, timed
from tests.support import wait_until

pytestmark = pytest.mark.integration


def test_engine_stopped_gives_503_at_once(stack_factory: Callable[..., Stack]) -> None:
    s = stack_factory("off")
    s.engine.stop()
    wait_until(lambda: s.get("/api/health").status_code == 503, 10, message="health 503")
    body = s.get("/api/health").json()
    assert "engine_online" in body["failed"]
    assert body["checks"]["engine_online"]["status"] == "offline"
    r, took = timed(lambda: s.post("/api/animation", {"name": "plasma"}))
    assert r.status_code == 503 and r.json()["error"]["code"] == "engine_offline"
    assert "Retry-After" in r.headers
    # At once: well under the 2 s command timeout it would otherwise have waited.
    assert took < 2.0
    # Retained topics are still served, marked as from an offline engine.
    st = s.get("/api/state")
    assert st.status_code == 200 and st.headers["X-Engine-Status"] == "offline"
    assert s.get("/metrics").text.count("lightbox_engine_online 0.0") == 1


def test_engine_frozen_gives_504_within_the_timeout_then_stale_health(
        stack_factory: Callable[..., Stack]) -> None:
    s = stack_factory("frozen")  # command_timeout_s 2, health interval 2 s
    s.engine.signal(signal.SIGSTOP)
    try:
        r, took = timed(lambda: s.post("/api/brightness", {"brightness": 20}))
        assert r.status_code == 504 and r.json()["error"]["code"] == "engine_timeout"
        # Not before the 2 s command timeout; after it, with room for a slow machine.
        assert 1.9 < took < 8.0
        # Health goes stale after three intervals even though status says online.
        wait_until(lambda: s.get("/api/health").status_code == 503, 15, 0.2, "stale health")
        body = s.get("/api/health").json()
        assert body["failed"] == ["health_fresh"], body
    finally:
        s.engine.signal(signal.SIGCONT)
    s.wait_healthy(15)
    assert s.post("/api/brightness", {"brightness": 21}).status_code == 200
