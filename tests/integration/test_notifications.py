"""Notifications over a real mosquitto and a real engine, read from the virtual panel's pixels.

Contract section 7: a banner over the animation and back; priorities, pre-emption and
resume; replace by id; hold and every dismiss form; power OFF with and without wake;
ttl; the 33rd notification; non-ASCII text; the fleet (`all/`) form. No timing asserts:
each waits for what must happen, however long a loaded machine takes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support import LightboxProcess, MQTTProbe, decode, wait_until

pytestmark = pytest.mark.integration

Probe = Callable[..., MQTTProbe]
Factory = Callable[..., LightboxProcess]
BASE = "lightbox/nt"
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
BAND_TOP = 22  # a 64x32 panel's banner: its bottom third (10 rows)


def solid_engine(engine_factory: Factory, probe: Probe) -> tuple[LightboxProcess, MQTTProbe]:
    eng = engine_factory("nt")
    p = probe().subscribe(f"{BASE}/#", wait_s=0.3)
    r = p.request(f"{BASE}/cmd/animation", {"name": "solid", "params": {"color": "#00ff00"}})
    assert r["ok"], r
    wait_until(lambda: _all(eng, GREEN), message="the green panel", timeout_s=15)
    return eng, p


def _all(eng: LightboxProcess, rgb: tuple[int, int, int], rows: slice = slice(None)) -> bool:
    frame = eng.panel()
    return frame is not None and bool((frame[rows] == rgb).all())


def _band_has(eng: LightboxProcess, rgb: tuple[int, int, int]) -> bool:
    frame = eng.panel()
    return frame is not None and bool((frame[BAND_TOP:] == rgb).all(axis=2).any()) \
        and bool((frame[:BAND_TOP] == GREEN).all())


def doc(p: MQTTProbe, pred: Callable[[dict[str, Any]], bool], since: int = 0) -> dict[str, Any]:
    return p.wait_for(f"{BASE}/notifications", pred, since=since, timeout_s=20)


def active_id(d: dict[str, Any]) -> str | None:
    return None if d["active"] is None else d["active"]["id"]


def events(p: MQTTProbe, since: int) -> list[dict[str, Any]]:
    out = [decode(m.payload) for m in p.messages[since:] if m.topic == f"{BASE}/events"]
    return [v for v in out if isinstance(v, dict)]


def test_a_banner_shows_over_the_animation_then_the_animation_returns(
        engine_factory: Factory, probe: Probe) -> None:
    eng, p = solid_engine(engine_factory, probe)
    started = p.last(f"{BASE}/state")["started_at"]
    mark = p.mark()
    r = p.request(f"{BASE}/cmd/notify", {"text": "21 °C → ✓ ♥ 中文", "background": "#0000ff",
                                         "duration_s": 2})
    assert r["ok"] is True and r["notification"]["id"]
    wait_until(lambda: _band_has(eng, BLUE), message="the blue banner", timeout_s=15)
    doc(p, lambda d: active_id(d) == r["notification"]["id"], since=mark)
    doc(p, lambda d: d["active"] is None, since=mark)
    wait_until(lambda: _all(eng, GREEN), message="the animation back", timeout_s=15)
    state = p.wait_for(f"{BASE}/state", lambda s: s["notification"] is None, since=mark)
    assert state["started_at"] == started  # covered, never restarted
    assert state["live"]["active"] is False and state["preset"] is None
    names = [e["event"] for e in events(p, mark)]
    assert "notification_shown" in names and "notification_ended" in names
    assert "command_rejected" not in names and "animation_failed" not in names


def test_priorities_preemption_resume_and_replace(engine_factory: Factory,
                                                  probe: Probe) -> None:
    _, p = solid_engine(engine_factory, probe)
    mark = p.mark()
    p.request(f"{BASE}/cmd/notify", {"text": "low", "id": "low", "priority": 10, "hold": True})
    p.request(f"{BASE}/cmd/notify", {"text": "also", "id": "also", "priority": 10})
    d = doc(p, lambda d: active_id(d) == "low" and len(d["queue"]) == 1, since=mark)
    p.request(f"{BASE}/cmd/notify", {"text": "high", "id": "high", "priority": 90,
                                     "duration_s": 60})
    d = doc(p, lambda d: active_id(d) == "high", since=mark)
    assert [q["id"] for q in d["queue"]] == ["low", "also"]  # pre-empted: back at the head
    ended = p.wait_for(f"{BASE}/events", lambda e: e.get("event") == "notification_ended",
                       since=mark)
    assert ended["id"] == "low" and ended["reason"] == "preempted"
    p.request(f"{BASE}/cmd/notify", {"text": "high again", "id": "high", "priority": 90,
                                     "duration_s": 1})
    d = doc(p, lambda d: active_id(d) == "high" and d["active"]["text"] == "high again",
            since=mark)
    assert len(d["queue"]) == 2
    d = doc(p, lambda d: active_id(d) == "low", since=mark)  # resumed after the high one
    assert d["active"]["ends_at"] is None  # held
    r = p.request(f"{BASE}/cmd/notify", {"text": "queued new", "id": "also", "priority": 10})
    assert r["notification"] == {"id": "also"}
    d = doc(p, lambda d: [q["text"] for q in d["queue"]] == ["queued new"], since=mark)


def test_hold_and_every_dismiss_form_and_the_fleet_form(engine_factory: Factory,
                                                        probe: Probe) -> None:
    eng, p = solid_engine(engine_factory, probe)
    mark = p.mark()
    for name in ("a", "b", "c", "d"):
        p.request(f"{BASE}/cmd/notify", {"text": name, "id": name, "hold": True,
                                         "background": "#0000ff"})
    doc(p, lambda d: active_id(d) == "a" and len(d["queue"]) == 3, since=mark)
    wait_until(lambda: _band_has(eng, BLUE), message="the held banner", timeout_s=15)
    r = p.request(f"{BASE}/cmd/notify/dismiss", "c")  # a bare id, a queued one
    assert r["ok"], r
    doc(p, lambda d: [q["id"] for q in d["queue"]] == ["b", "d"], since=mark)
    r = p.request(f"{BASE}/cmd/notify/dismiss", {"id": "a"})
    assert r["ok"], r
    doc(p, lambda d: active_id(d) == "b", since=mark)
    p.publish(f"{BASE}/cmd/notify/dismiss", b"")  # empty: the showing one
    doc(p, lambda d: active_id(d) == "d", since=mark)
    p.publish("lightbox/all/cmd/notify", {"text": "fleet", "id": "fleet", "hold": True})
    doc(p, lambda d: [q["id"] for q in d["queue"]] == ["fleet"], since=mark)
    p.publish("lightbox/all/cmd/notify/dismiss", b"all")
    doc(p, lambda d: d["active"] is None and d["queue"] == [], since=mark)
    wait_until(lambda: _all(eng, GREEN), message="the animation back", timeout_s=15)
    r = p.request(f"{BASE}/cmd/notify/dismiss", "nope")
    assert r["ok"] is False and r["error"]["code"] == "unknown_notification"


def test_power_off_with_and_without_wake(engine_factory: Factory, probe: Probe) -> None:
    eng, p = solid_engine(engine_factory, probe)
    assert p.request(f"{BASE}/cmd/power", "OFF")["ok"]
    wait_until(lambda: _all(eng, (0, 0, 0)), message="a dark panel", timeout_s=15)
    mark = p.mark()
    r = p.request(f"{BASE}/cmd/notify", {"text": "quiet", "id": "quiet"})
    assert r["ok"]
    dropped = p.wait_for(f"{BASE}/events", lambda e: e.get("event") == "notification_dropped",
                         since=mark)
    assert dropped["id"] == "quiet" and dropped["reason"] == "power_off"
    p.request(f"{BASE}/cmd/notify", {"text": "wake", "id": "wake", "wake": True,
                                     "duration_s": 2, "background": "#0000ff"})
    wait_until(lambda: (f := eng.panel()) is not None and bool((f == BLUE).all(axis=2).any()),
               message="the panel lit for the wake notification", timeout_s=15)
    doc(p, lambda d: d["active"] is None, since=mark)
    wait_until(lambda: _all(eng, (0, 0, 0)), message="dark again", timeout_s=15)
    assert p.last(f"{BASE}/state")["state"] == "OFF"


def test_ttl_and_the_33rd_notification(engine_factory: Factory, probe: Probe) -> None:
    _, p = solid_engine(engine_factory, probe)
    mark = p.mark()
    p.request(f"{BASE}/cmd/notify", {"text": "top", "id": "top", "priority": 100, "hold": True})
    p.request(f"{BASE}/cmd/notify", {"text": "stale", "id": "stale", "ttl_s": 1})
    dropped = p.wait_for(f"{BASE}/events", lambda e: e.get("event") == "notification_dropped",
                         since=mark, timeout_s=20)
    assert dropped == {**dropped, "id": "stale", "reason": "ttl"}
    for i in range(32):
        p.publish(f"{BASE}/cmd/notify", {"text": f"n{i}", "id": f"n{i}",
                                         "priority": 5 if i == 4 else 50})
    doc(p, lambda d: len(d["queue"]) == 32, since=mark)
    mark = p.mark()
    p.request(f"{BASE}/cmd/notify", {"text": "33rd", "id": "n32"})
    dropped = p.wait_for(f"{BASE}/events", lambda e: e.get("event") == "notification_dropped",
                         since=mark)
    assert dropped["id"] == "n4" and dropped["reason"] == "queue_full"
    d = doc(p, lambda d: any(q["id"] == "n32" for q in d["queue"]), since=mark)
    assert len(d["queue"]) == 32 and all(q["id"] != "n4" for q in d["queue"])
