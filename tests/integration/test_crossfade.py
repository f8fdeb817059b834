"""A cross-fade over a real mosquitto and a real engine, read from the virtual panel and the
preview stream (contract section 6: ``set`` with ``transition`` and a new effect blends the
old animation into the new one). No timing asserts: it waits for what must be seen.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from tests.support import LightboxProcess, MQTTProbe, wait_until

pytestmark = pytest.mark.integration

Probe = Callable[..., MQTTProbe]
Factory = Callable[..., LightboxProcess]
BASE = "lightbox/xf"


def _mixed(frame: np.ndarray | None) -> bool:
    """Red and blue at once in every pixel (a blend), no green: neither end of the fade."""
    if frame is None:
        return False
    r, g, b = (frame[..., i].astype(int) for i in range(3))
    return bool(((r > 20) & (b > 20) & (g == 0)).all() and (frame == frame[0, 0]).all())


def _all(frame: np.ndarray | None, rgb: tuple[int, int, int]) -> bool:
    return frame is not None and bool((frame == rgb).all())


def _previews(p: MQTTProbe, since: int) -> list[np.ndarray]:
    out = []
    for m in p.messages[since:]:
        if m.topic == f"{BASE}/preview" and len(m.payload) == 64 * 32 * 3:
            out.append(np.frombuffer(m.payload, np.uint8).reshape(32, 64, 3))
    return out


def test_set_with_a_transition_cross_fades_blue_into_red(engine_factory: Factory,
                                                         probe: Probe) -> None:
    eng = engine_factory("xf")
    p = probe().subscribe(f"{BASE}/#", wait_s=0.3)
    r = p.request(f"{BASE}/cmd/animation", {"name": "solid", "params": {"color": "#0000ff"}})
    assert r["ok"], r
    wait_until(lambda: _all(eng.panel(), (0, 0, 255)), message="the blue panel", timeout_s=15)
    assert p.request(f"{BASE}/cmd/preview", {"fps": 10, "ttl_s": 30})["ok"]
    mark = p.mark()
    r = p.request(f"{BASE}/set", {"effect": "solid", "params": {"color": "#ff0000"},
                                  "transition": 2})
    assert r["ok"], r
    assert r["state"]["effect"] == "solid" and r["state"]["params"] == {"color": "#ff0000"}
    seen_on_panel = []

    def mid_fade_seen() -> bool:
        frame = eng.panel()
        if _mixed(frame):
            seen_on_panel.append(frame)
        return bool(seen_on_panel) or any(_mixed(f) for f in _previews(p, mark))

    wait_until(mid_fade_seen, message="a frame that mixes red and blue", timeout_s=15)
    wait_until(lambda: _all(eng.panel(), (255, 0, 0)), message="the red panel", timeout_s=15)
    # The preview stream ends red too (the old animation is gone), and red only ever rose.
    wait_until(lambda: _all((_previews(p, mark) or [None])[-1], (255, 0, 0)),
               message="a red preview", timeout_s=15)
    reds = [int(f[0, 0, 0]) for f in _previews(p, mark) if _mixed(f)]
    assert reds == sorted(reds)
