"""Schedules at run time over a real mosquitto and a real engine (contract section 8).

Windows a few seconds from now (``HH:MM:SS`` in ``timezone: UTC``): a brightness cap,
power OFF and back, a window open at boot, pause and resume across a restart, and a
hand-made command that wins until the next boundary. No timing asserts: each step
waits for what must happen; the time from a window's boundary to the state that shows
it is recorded and printed (``-s``) for the closing note, never asserted.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from tests.support import LightboxProcess, MQTTProbe, decode, wait_until

pytestmark = pytest.mark.integration

Probe = Callable[..., MQTTProbe]
Factory = Callable[..., LightboxProcess]
DEVICE = "sched"
BASE = f"lightbox/{DEVICE}"
LATENCIES: list[float] = []


def hms(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S")


def window(name: str, start: float, end: float, action: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "start": hms(start), "end": hms(end), "action": action}


class Arrivals:
    """Every message the probe gets, with the wall time it arrived."""

    def __init__(self, p: MQTTProbe) -> None:
        self.seen: list[tuple[float, str, Any]] = []
        orig = p.client.on_message

        def record(client: Any, userdata: Any, msg: Any) -> None:
            self.seen.append((time.time(), msg.topic, decode(msg.payload)))
            orig(client, userdata, msg)

        p.client.on_message = record

    def first(self, name: str, pred: Callable[[Any], bool], after: float,
              timeout_s: float = 30.0) -> tuple[float, Any]:
        """The first ``<base>/<name>`` message at or after ``after`` matching ``pred``."""
        def find() -> tuple[float, Any] | None:
            for at, topic, body in list(self.seen):
                if at >= after and topic == f"{BASE}/{name}" and isinstance(body, dict) \
                        and pred(body):
                    return at, body
            return None

        return wait_until(find, timeout_s=timeout_s, message=f"{name} matching after {after}")

    def boundary(self, at: float, pred: Callable[[Any], bool]) -> Any:
        """Wait for the state that shows the boundary at ``at``; record how long it took."""
        seen_at, body = self.first("state", pred, after=at - 0.5)
        LATENCIES.append(seen_at - at)
        return body


def start(engine_factory: Factory, probe: Probe, **sections: Any
          ) -> tuple[LightboxProcess, MQTTProbe, Arrivals]:
    eng = engine_factory(DEVICE, timezone="UTC", **sections)
    p = probe()
    arrivals = Arrivals(p)
    p.subscribe(f"{BASE}/#", wait_s=0.3)
    return eng, p, arrivals


def dark(eng: LightboxProcess) -> bool:
    frame = eng.panel()
    return frame is not None and not np.asarray(frame).any()


def lit(eng: LightboxProcess) -> bool:
    frame = eng.panel()
    return frame is not None and bool(np.asarray(frame).any())


def metric(p: MQTTProbe, key: str, pred: Callable[[Any], bool], since: int) -> Any:
    return p.wait_for(f"{BASE}/metrics", lambda m: pred(m.get(key)), since=since,
                      timeout_s=20)[key]


def test_cap_and_power_off_windows_from_a_settings_change(engine_factory: Factory,
                                                          probe: Probe) -> None:
    eng, p, arr = start(engine_factory, probe, display={"brightness": 80})
    wait_until(lambda: lit(eng), message="the lit panel", timeout_s=20)
    t = float(int(time.time()) + 5)  # whole seconds: the windows' HH:MM:SS
    plan = [window("night", t, t + 4, {"brightness_max": 10}),
            window("off", t + 6, t + 9, {"power": "OFF"}),
            window("dim", t + 11, t + 13, {"brightness_max": 30}),
            window("dim2", t + 15, t + 17, {"brightness_max": 20})]
    r = p.request(f"{BASE}/cmd/config", {"schedule": plan})  # a settings change re-evaluates
    assert r["ok"], r
    _, doc = arr.first("schedule", lambda d: d["next"] is not None
                       and d["next"]["name"] == "night", after=0)
    assert doc == {**doc, "enabled": True, "active": [], "timezone": "UTC"}
    assert doc["next"] == {"name": "night", "at": datetime.fromtimestamp(t, UTC).isoformat(),
                           "change": "start"}
    state = arr.boundary(t, lambda s: s.get("brightness_max") == 10)
    assert state["brightness"] == 80 and state["state"] == "ON"  # the stored level stays
    mark = p.mark()
    assert metric(p, "display_brightness_pct", lambda v: v == 10, mark) == 10
    assert p.last(f"{BASE}/schedule")["active"] == ["night"]
    arr.boundary(t + 4, lambda s: "brightness_max" not in s)
    state = arr.boundary(t + 6, lambda s: s["state"] == "OFF")
    wait_until(lambda: dark(eng), message="the dark panel", timeout_s=20)
    assert p.last(f"{BASE}/schedule")["active"] == ["off"]
    arr.boundary(t + 9, lambda s: s["state"] == "ON")
    wait_until(lambda: lit(eng), message="the panel lit again", timeout_s=20)
    arr.boundary(t + 11, lambda s: s.get("brightness_max") == 30)
    arr.boundary(t + 13, lambda s: "brightness_max" not in s)
    arr.boundary(t + 15, lambda s: s.get("brightness_max") == 20)
    arr.boundary(t + 17, lambda s: "brightness_max" not in s)
    mark = p.mark()
    assert metric(p, "display_brightness_pct", lambda v: v == 80, mark) == 80
    report_latency()


def solid(eng: LightboxProcess, rgb: tuple[int, int, int]) -> bool:
    frame = eng.panel()
    return frame is not None and bool((np.asarray(frame) == rgb).all())


def test_a_preset_window_shows_it_and_its_end_returns_what_showed_before(
        engine_factory: Factory, probe: Probe) -> None:
    eng, p, arr = start(engine_factory, probe, display={"brightness": 80})
    r = p.request(f"{BASE}/cmd/preset", {"save": "calm", "animation": "solid",
                                         "params": {"color": "#ff0000"}, "brightness": 30})
    if not r["ok"] and r["error"]["code"] == "unknown_command":
        pytest.skip("presets are not on this branch yet")
    assert r["ok"], r
    assert p.request(f"{BASE}/cmd/animation", {"name": "solid",
                                               "params": {"color": "#00ff00"}})["ok"]
    wait_until(lambda: solid(eng, (0, 255, 0)), message="the green panel", timeout_s=20)
    t = float(int(time.time()) + 4)
    plan = [window("evening", t, t + 4, {"preset": "calm"})]
    assert p.request(f"{BASE}/cmd/config", {"schedule": plan})["ok"]
    state = arr.boundary(t, lambda s: s["preset"] == "calm")
    assert state["brightness"] == 30
    wait_until(lambda: solid(eng, (255, 0, 0)), message="the preset's red", timeout_s=20)
    state = arr.boundary(t + 4, lambda s: s["preset"] is None)
    assert state["params"] == {"color": "#00ff00"} and state["brightness"] == 80
    wait_until(lambda: solid(eng, (0, 255, 0)), message="the green panel back", timeout_s=20)


def test_a_window_open_at_boot_applies_before_the_first_frame(engine_factory: Factory,
                                                              probe: Probe) -> None:
    now = time.time()
    eng, p, arr = start(engine_factory, probe,
                        schedule=[window("night", now - 60, now + 600, {"power": "OFF"})])
    arr.first("state", lambda s: s["state"] == "OFF", after=0)
    doc = p.wait_for(f"{BASE}/schedule", lambda d: d["active"] == ["night"], timeout_s=20)
    assert doc["next"]["change"] == "end" and doc["enabled"] is True
    wait_until(lambda: dark(eng), message="the dark panel", timeout_s=20)
    names = [e.get("event") for e in eng.log_events()]
    assert "schedule_applied" in names and "engine_ready" in names
    assert names.index("schedule_applied") < names.index("engine_ready")


def test_pause_and_resume_survive_a_restart(engine_factory: Factory, probe: Probe) -> None:
    now = time.time()
    eng, p, _ = start(engine_factory, probe,
                      schedule=[window("night", now - 60, now + 900, {"power": "OFF"})])
    p.wait_for(f"{BASE}/state", lambda s: s["state"] == "OFF", timeout_s=20)
    mark = p.mark()
    r = p.request(f"{BASE}/cmd/schedule", {"enabled": False, "transaction": "p1"})
    assert r["ok"] is True and r["state"]["state"] == "ON", r  # answered once in force
    assert r["transaction"] == "p1"
    doc = p.wait_for(f"{BASE}/schedule", lambda d: d["enabled"] is False, since=mark)
    assert doc["active"] == [] and doc["next"] is None
    assert (eng.workdir / "state" / "schedule.json").exists()
    eng.stop()
    mark = p.mark()
    eng.start()
    p.wait_for(f"{BASE}/status", lambda v: v == "online", since=mark, timeout_s=20)
    doc = p.wait_for(f"{BASE}/schedule", lambda d: d["enabled"] is False, since=mark,
                     timeout_s=20)
    assert p.wait_for(f"{BASE}/state", since=mark, timeout_s=20)["state"] == "ON"
    mark = p.mark()
    r = p.request(f"{BASE}/cmd/schedule", {"enabled": True})
    assert r["ok"] is True and r["state"]["state"] == "OFF", r
    doc = p.wait_for(f"{BASE}/schedule", lambda d: d["enabled"] is True, since=mark)
    assert doc["active"] == ["night"]
    bad = p.request(f"{BASE}/cmd/schedule", {"enabled": "maybe"})
    assert bad["ok"] is False and bad["error"]["field"] == "enabled"


def test_a_restart_inside_a_power_off_window_comes_back_on_when_it_ends(
        engine_factory: Factory, probe: Probe) -> None:
    end = float(int(time.time()) + 15)
    eng, p, arr = start(engine_factory, probe,
                        schedule=[window("night", end - 600, end, {"power": "OFF"})])
    p.wait_for(f"{BASE}/state", lambda s: s["state"] == "OFF", timeout_s=20)
    saved = eng.workdir / "state" / "state.json"
    wait_until(saved.exists, message="state.json", timeout_s=20)  # saved under the window
    eng.stop()
    mark = p.mark()
    eng.start()
    p.wait_for(f"{BASE}/state", lambda s: s["state"] == "OFF", since=mark, timeout_s=20)
    assert time.time() < end, "the machine was too slow to restart inside the window"
    arr.boundary(end, lambda s: s["state"] == "ON")  # the power from before the window


def test_a_hand_made_command_wins_until_the_next_boundary(engine_factory: Factory,
                                                          probe: Probe) -> None:
    eng, p, arr = start(engine_factory, probe)
    wait_until(lambda: lit(eng), message="the lit panel", timeout_s=20)
    t = float(int(time.time()) + 5)
    plan = [window("off", t, t + 14, {"power": "OFF"}),
            window("night", t + 8, t + 18, {"brightness_max": 10})]
    assert p.request(f"{BASE}/cmd/config", {"schedule": plan})["ok"]
    arr.boundary(t, lambda s: s["state"] == "OFF")
    r = p.request(f"{BASE}/cmd/power", "ON")  # by hand, inside the window: it wins
    assert r["ok"] and r["state"]["state"] == "ON", r
    assert time.time() < t + 8, "the machine was too slow to send the command in time"
    wait_until(lambda: lit(eng), message="the panel on by hand", timeout_s=20)
    # the next boundary (another window opens): the OFF window is applied again
    state = arr.boundary(t + 8, lambda s: s.get("brightness_max") == 10)
    assert state["state"] == "OFF"
    # its end returns the person's choice from before it took over again: ON
    state = arr.boundary(t + 14, lambda s: s["state"] == "ON")
    assert state["brightness_max"] == 10
    arr.boundary(t + 18, lambda s: "brightness_max" not in s)
    report_latency()


def report_latency() -> None:
    if LATENCIES:
        ms = sorted(x * 1000 for x in LATENCIES)
        print(f"\nschedule boundary -> state seen: n={len(ms)} p50={statistics.median(ms):.0f} ms "
              f"max={ms[-1]:.0f} ms")
