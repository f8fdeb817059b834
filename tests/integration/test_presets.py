"""Presets over a real mosquitto and a real engine (contract section 8): save, apply and
delete with replies, the retained ``<base>/presets``, presets surviving a restart, and the
boot policies ``preset:NAME`` and ``off``. No timing asserts: it waits for what must be seen.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.lookhelp import all_of, restart
from tests.support import LightboxProcess, MQTTProbe, wait_until

pytestmark = pytest.mark.integration

Probe = Callable[..., MQTTProbe]
Factory = Callable[..., LightboxProcess]
BASE = "lightbox/pre"
RED = {"name": "Red", "animation": "solid", "params": {"color": "#ff0000"}, "brightness": 60}


def test_save_apply_delete_with_replies_and_the_retained_topic(engine_factory: Factory,
                                                               probe: Probe) -> None:
    eng = engine_factory("pre")
    p = probe().subscribe(f"{BASE}/#", wait_s=0.3)
    assert p.wait_for(f"{BASE}/presets") == []
    r = p.request(f"{BASE}/cmd/preset", {"save": "Red", "animation": "solid",
                                         "params": {"color": "#ff0000"}, "brightness": 60})
    assert r["ok"] and r["state"]["preset"] is None, r
    p.wait_for(f"{BASE}/presets", lambda v: v == [RED])
    r = p.request(f"{BASE}/cmd/preset", {"apply": "Red"})
    assert r["ok"] and r["state"]["preset"] == "Red" and r["state"]["brightness"] == 60, r
    wait_until(lambda: all_of(eng.panel(), (255, 0, 0)), message="a red panel", timeout_s=15)
    r = p.request(f"{BASE}/cmd/preset", {"save": "Now"})  # the current look
    assert r["ok"], r
    p.wait_for(f"{BASE}/presets", lambda v: [x["name"] for x in v] == ["Red", "Now"])
    r = p.request(f"{BASE}/cmd/preset", {"apply": "Ghost"})
    assert r == {"ok": False, "error": {"code": "unknown_preset", "field": "apply",
                                        "message": r["error"]["message"]}}
    r = p.request(f"{BASE}/cmd/preset", {"save": "x", "animation": "nope"})
    assert r["error"]["code"] == "unknown_animation" and r["error"]["field"] == "animation"
    r = p.request(f"{BASE}/cmd/preset", {"delete": "Now"})
    assert r["ok"], r
    p.wait_for(f"{BASE}/presets", lambda v: v == [RED])
    # A new subscriber gets the retained document.
    late = probe().subscribe(f"{BASE}/presets", wait_s=0.3)
    assert late.wait_for(f"{BASE}/presets") == [RED]


def test_presets_survive_a_restart_and_boot_preset_shows_one(engine_factory: Factory,
                                                             probe: Probe) -> None:
    eng = engine_factory("pre", animation={"default": "plasma"})
    p = probe().subscribe(f"{BASE}/#", wait_s=0.3)
    assert p.request(f"{BASE}/cmd/preset", {"save": "Red", "animation": "solid",
                                            "params": {"color": "#ff0000"},
                                            "brightness": 60})["ok"]
    mark = p.mark()
    restart(eng, p, BASE, boot="preset:Red")
    p.wait_for(f"{BASE}/presets", lambda v: v == [RED], since=mark)
    st = p.wait_for(f"{BASE}/state", lambda s: s["preset"] == "Red", since=mark)
    assert st["effect"] == "solid" and st["state"] == "ON"
    wait_until(lambda: all_of(eng.panel(), (255, 0, 0)), message="a red panel", timeout_s=15)


def test_boot_off_starts_dark_with_the_default_look(engine_factory: Factory,
                                                    probe: Probe) -> None:
    eng = engine_factory("pre", animation={"default": "solid", "boot": "off",
                                           "params": {"solid": {"color": "#00ff00"}}})
    p = probe().subscribe(f"{BASE}/#", wait_s=0.3)
    st = p.wait_for(f"{BASE}/state")
    assert st["state"] == "OFF" and st["effect"] == "solid"
    wait_until(lambda: all_of(eng.panel(), (0, 0, 0)), message="a dark panel", timeout_s=15)
    assert p.request(f"{BASE}/cmd/power", "ON")["ok"]
    wait_until(lambda: all_of(eng.panel(), (0, 255, 0)), message="a green panel",
               timeout_s=15)


def test_an_unknown_boot_preset_falls_back_to_the_default(engine_factory: Factory,
                                                          probe: Probe) -> None:
    eng = engine_factory("pre", animation={"default": "solid", "boot": "preset:Gone",
                                           "params": {"solid": {"color": "#0000ff"}}})
    wait_until(lambda: all_of(eng.panel(), (0, 0, 255)), message="a blue panel", timeout_s=15)
    assert "boot_look_unavailable" in eng.log()
