"""Home Assistant's flash, identify button and effect list, over a real mosquitto.

The payloads are exactly what Home Assistant 2025.4's MQTT integration publishes
(user ``homeassistant``, qos 1 from the discovery document, no Response Topic):
``light.turn_on`` with ``flash: short`` sends ``{"state":"ON","flash":2}`` to
``<base>/set`` (2 is the discovery's ``flash_time_short``), and the identify button
sends its ``payload_press`` ``{}`` to ``<base>/cmd/identify``. What the panel shows is
read from the preview stream.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support import LightboxProcess, MQTTProbe, wait_until

pytestmark = pytest.mark.integration

Probe = Callable[..., MQTTProbe]
Factory = Callable[..., LightboxProcess]
DEVICE = "haflash"
BASE = f"lightbox/{DEVICE}"
DISCOVERY = f"homeassistant/device/lightbox_{DEVICE}/config"


def frames(p: MQTTProbe, since: int) -> list[bytes]:
    """The raw preview frames seen since ``since``."""
    return [bytes(m.payload) for m in list(p.messages[since:]) if m.topic == f"{BASE}/preview"]


def white(raw: bytes) -> bool:
    return set(raw) == {255}


def green(raw: bytes) -> bool:
    return set(raw[0::3]) == {0} and set(raw[1::3]) == {255} and set(raw[2::3]) == {0}


def test_home_assistants_flash_turns_the_light_on_and_flashes(engine_factory: Factory,
                                                              probe: Probe) -> None:
    eng = engine_factory(DEVICE)
    p = probe().subscribe(f"{BASE}/state", f"{BASE}/preview", f"{BASE}/events", DISCOVERY)
    light = p.wait_for(DISCOVERY, timeout_s=10)["cmps"]["light"]
    assert (light["flash_time_short"], light["flash_time_long"]) == (2, 10)
    assert p.request(f"{BASE}/cmd/animation",
                     {"name": "solid", "params": {"color": "#00ff00"}})["ok"] is True
    assert p.request(f"{BASE}/cmd/power", "OFF")["state"]["state"] == "OFF"
    assert p.request(f"{BASE}/cmd/preview", {"fps": 10, "ttl_s": 30})["ok"] is True
    mark = p.mark()
    p.publish(f"{BASE}/set", b'{"state":"ON","flash":2}')  # HA: flash short
    state = p.wait_for(f"{BASE}/state", lambda s: s["state"] == "ON", since=mark)
    assert state["effect"] == "solid"
    # The panel flashes (white frames), then shows the animation again.
    wait_until(lambda: any(white(f) for f in frames(p, mark)), 15, message="a flash frame")
    first_white = next(i for i, f in enumerate(frames(p, mark)) if white(f))
    wait_until(lambda: any(green(f) for f in frames(p, mark)[first_white:]), 15,
               message="the animation after the flash")
    events = [m for m in p.messages[mark:] if m.topic == f"{BASE}/events"]
    assert not [m for m in events if b"command_rejected" in m.payload]
    wait_until(lambda: "flash_started" in eng.log(), 10, message="the flash_started log line")


def test_the_identify_button_publishes_an_event_and_off_stays_off(engine_factory: Factory,
                                                                  probe: Probe) -> None:
    eng = engine_factory(DEVICE)
    p = probe().subscribe(f"{BASE}/state", f"{BASE}/events")
    p.wait_for(f"{BASE}/state")
    mark = p.mark()
    p.publish(f"{BASE}/cmd/identify", b"{}")  # HA's identify button: payload_press
    event = p.wait_for(f"{BASE}/events", lambda e: e.get("event") == "identify", since=mark)
    assert (event["seconds"], event["source"]) == (5.0, "mqtt")
    assert "ts" in event
    # A turn-off while identifying is in the state at once (the panel is dark once
    # identify ends).
    p.publish(f"{BASE}/set", b'{"state":"OFF"}')
    p.wait_for(f"{BASE}/state", lambda s: s["state"] == "OFF", since=mark)
    wait_until(lambda: "identify_started" in eng.log(), 10,
               message="the identify_started log line")


def test_the_effect_list_leaves_test_patterns_out_but_they_still_run(engine_factory: Factory,
                                                                     probe: Probe) -> None:
    engine_factory(DEVICE)
    p = probe().subscribe(f"{BASE}/state", DISCOVERY)
    doc = p.wait_for(DISCOVERY, timeout_s=10)
    effects = doc["cmps"]["light"]["effect_list"]
    assert "plasma" in effects and doc["cmps"]["animation"]["options"] == effects
    assert not {"blank", "image", "text", "test_red"} & set(effects)
    r = p.request(f"{BASE}/cmd/animation", "test_red")
    assert r["ok"] is True and r["state"]["effect"] == "test_red"
    # Home Assistant's light.turn_on does not check the effect against the list.
    r = p.request(f"{BASE}/set", {"state": "ON", "effect": "test_green"})
    assert r["ok"] is True and r["state"]["effect"] == "test_green"
