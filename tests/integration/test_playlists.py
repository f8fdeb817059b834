"""Playlists over a real mosquitto and a real engine (contract section 8): two solid-colour
items of a few seconds, next/previous/stop, a hand-made change stopping it, resuming at its
item after a restart (boot ``last``), and the cross-fade between items seen mid-way on the
panel or the preview (neither colour). No timing asserts: it waits for what must be seen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tests.integration.lookhelp import all_of, previews, restart
from tests.support import LightboxProcess, MQTTProbe, wait_until

pytestmark = pytest.mark.integration

Probe = Callable[..., MQTTProbe]
Factory = Callable[..., LightboxProcess]
BASE = "lightbox/pl"
R, B = (255, 0, 0), (0, 0, 255)


def _save(p: MQTTProbe, seconds: float, transition_s: float = 0, **extra: Any) -> None:
    assert p.request(f"{BASE}/cmd/preset", {"save": "Red", "animation": "solid",
                                            "params": {"color": "#ff0000"}})["ok"]
    r = p.request(f"{BASE}/cmd/playlist", {"save": "RB", "transition_s": transition_s, "items": [
        {"preset": "Red", "duration_s": seconds},
        {"animation": "solid", "params": {"color": "#0000ff"}, "duration_s": seconds}],
        **extra})
    assert r["ok"], r


def test_items_advance_and_next_previous_stop_work(engine_factory: Factory,
                                                   probe: Probe) -> None:
    eng = engine_factory("pl")
    p = probe().subscribe(f"{BASE}/#", wait_s=0.3)
    _save(p, 3)
    p.wait_for(f"{BASE}/playlists", lambda v: len(v) == 1 and v[0]["name"] == "RB")
    r = p.request(f"{BASE}/cmd/playlist", {"play": "RB"})
    assert r["ok"], r
    pl = r["state"]["playlist"]
    assert pl["name"] == "RB" and pl["index"] == 0 and pl["item"] == "Red"
    assert isinstance(pl["next_at"], float)
    wait_until(lambda: all_of(eng.panel(), R), message="the red item", timeout_s=15)
    wait_until(lambda: all_of(eng.panel(), B), message="the blue item, by itself",
               timeout_s=15)
    wait_until(lambda: all_of(eng.panel(), R), message="red again (repeat)", timeout_s=15)
    r = p.request(f"{BASE}/cmd/playlist", "next")
    assert r["ok"] and r["state"]["playlist"]["index"] == 1, r
    r = p.request(f"{BASE}/cmd/playlist", "previous")
    assert r["ok"] and r["state"]["playlist"]["index"] == 0, r
    r = p.request(f"{BASE}/cmd/playlist", "stop")
    assert r["ok"] and r["state"]["playlist"] is None, r
    assert r["state"]["effect"] == "solid" and r["state"]["params"] == {"color": "#ff0000"}
    r = p.request(f"{BASE}/cmd/playlist", "next")
    assert r["error"]["code"] == "not_playing", r


def test_a_hand_made_change_stops_the_playlist(engine_factory: Factory, probe: Probe) -> None:
    engine_factory("pl")
    p = probe().subscribe(f"{BASE}/#", wait_s=0.3)
    _save(p, 3)
    assert p.request(f"{BASE}/cmd/playlist", {"play": "RB"})["ok"]
    mark = p.mark()
    r = p.request(f"{BASE}/cmd/animation", "plasma")
    assert r["ok"] and r["state"]["playlist"] is None and r["state"]["effect"] == "plasma"
    p.wait_for(f"{BASE}/events", lambda e: e.get("event") == "playlist_ended", since=mark)


def test_a_playlist_resumes_at_its_item_after_a_restart(engine_factory: Factory,
                                                        probe: Probe) -> None:
    eng = engine_factory("pl")
    p = probe().subscribe(f"{BASE}/#", wait_s=0.3)
    _save(p, 600)
    assert p.request(f"{BASE}/cmd/playlist", {"play": "RB"})["ok"]
    assert p.request(f"{BASE}/cmd/playlist", "next")["ok"]
    assert p.request(f"{BASE}/cmd/brightness", 35)["ok"]
    wait_until(lambda: all_of(eng.panel(), B), message="the blue item", timeout_s=15)
    mark = p.mark()
    restart(eng, p, BASE)
    st = p.wait_for(f"{BASE}/state", lambda s: s["playlist"] is not None, since=mark)
    assert st["playlist"]["name"] == "RB" and st["playlist"]["index"] == 1
    assert st["brightness"] == 35 and st["state"] == "ON"
    p.wait_for(f"{BASE}/playlists", lambda v: len(v) == 1, since=mark)
    wait_until(lambda: all_of(eng.panel(), B), message="blue again", timeout_s=15)


def _mixed(frame: np.ndarray | None) -> bool:
    """Red and blue at once in every pixel (a blend), no green: neither item's colour."""
    if frame is None:
        return False
    r, g, b = (frame[..., i].astype(int) for i in range(3))
    return bool(((r > 20) & (b > 20) & (g == 0)).all() and (frame == frame[0, 0]).all())


def test_items_cross_fade_the_preview_shows_neither_colour_mid_way(engine_factory: Factory,
                                                                   probe: Probe) -> None:
    eng = engine_factory("pl")
    p = probe().subscribe(f"{BASE}/#", wait_s=0.3)
    _save(p, 3, transition_s=2.5)
    assert p.request(f"{BASE}/cmd/preview", {"fps": 10, "ttl_s": 60})["ok"]
    mark = p.mark()
    assert p.request(f"{BASE}/cmd/playlist", {"play": "RB"})["ok"]
    seen: list[np.ndarray] = []

    def blend_seen() -> bool:
        frame = eng.panel()
        if _mixed(frame):
            seen.append(frame)  # type: ignore[arg-type]
        return bool(seen) or any(_mixed(f) for f in previews(p, BASE, mark))

    wait_until(blend_seen, message="a frame that mixes red and blue", timeout_s=30)
    wait_until(lambda: all_of(eng.panel(), B) or all_of(eng.panel(), R),
               message="one colour again after the blend", timeout_s=15)


def test_after_a_power_cut_it_resumes_where_the_last_save_left_it(engine_factory: Factory,
                                                                  probe: Probe) -> None:
    import json

    eng = engine_factory("pl")
    p = probe().subscribe(f"{BASE}/#", wait_s=0.3)
    _save(p, 600)
    assert p.request(f"{BASE}/cmd/playlist", {"play": "RB"})["ok"]
    assert p.request(f"{BASE}/cmd/playlist", "next")["ok"]
    state_file = eng.workdir / "state" / "state.json"

    def saved_at_item_1() -> bool:
        try:
            return json.loads(state_file.read_text())["playlist"] == {"name": "RB", "index": 1}
        except (OSError, ValueError, KeyError):
            return False

    wait_until(saved_at_item_1, message="the hand-made step saved", timeout_s=15)
    eng.kill()  # no clean stop: what a power cut leaves
    mark = p.mark()
    eng.start()
    st = p.wait_for(f"{BASE}/state", lambda s: s["playlist"] is not None, since=mark,
                    timeout_s=20)
    assert st["playlist"]["index"] == 1 and st["params"] == {"color": "#0000ff"}
