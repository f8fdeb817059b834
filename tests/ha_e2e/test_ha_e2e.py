"""LightBox driven by a real Home Assistant: entities, every service, availability, HA restart.

One stack for the module (tests/ha_e2e/conftest.py); the cases run in file order
and the availability and restart ones come last. Each case records what HA sent
(read on LightBox's own topics as the bridge user) and what LightBox answered, and
the time from the HA call to LightBox's state, printed at the end. No timing is
asserted: everything waits with deadlines.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from appliance.testing import wait_until
from tests.ha_e2e.conftest import BASE, DEVICE, Stack, record

pytestmark = pytest.mark.ha_e2e

UNAVAILABLE = "unavailable"


def ha_state(stack: Stack, key: str, pred: Callable[[dict[str, Any]], bool],
             timeout_s: float = 30.0) -> dict[str, Any]:
    """Wait until HA's state of component ``key`` matches ``pred``; that state."""
    entity_id = stack.entity(key)
    seen: list[dict[str, Any] | None] = []

    def check() -> bool:
        s = stack.ha.state(entity_id)
        seen.append(s)
        return s is not None and pred(s)

    try:
        wait_until(check, timeout_s, interval_s=0.2)
    except (TimeoutError, AssertionError):
        raise AssertionError(f"{entity_id} never matched; last {seen[-1:]}") from None
    assert seen[-1] is not None
    return seen[-1]


def drive(stack: Stack, service: str, data: dict[str, Any], sent_topic: str,
          answered_topic: str, answered: Callable[[Any], bool]) -> tuple[Any, Any, float]:
    """Call an HA service; what it sent LightBox, what LightBox answered, the time between."""
    mark = stack.bus.mark()
    domain, name = service.split()[0].split(".")
    started = time.monotonic()
    stack.ha.call(domain, name, data)
    try:
        reply = stack.bus.wait_for(answered_topic, answered, timeout_s=20, since=mark)
    except TimeoutError:
        seen = [(m.topic, m.payload[:300]) for m in stack.bus.messages[mark:]
                if not m.topic.endswith(("/metrics", "/health"))]
        raise AssertionError(f"{service} {data}: no answer on {answered_topic}; saw {seen}"
                             ) from None
    took = time.monotonic() - started
    sent = stack.bus.wait_for(sent_topic, timeout_s=5, since=mark)
    record(f"{service} {data}", sent, reply, took)
    return sent, reply, took


def effects(stack: Stack) -> list[str]:
    """The light's effect list as LightBox's discovery offers it."""
    return list(stack.discovery["cmps"]["light"]["effect_list"])


def test_entities_appear_with_their_attributes(stack: Stack) -> None:
    cmps = {k: c for k, c in stack.discovery["cmps"].items() if "unique_id" in c}
    assert set(stack.entities) == set(cmps)
    withdrawn = {c["platform"] for c in stack.discovery["cmps"].values() if "unique_id" not in c}
    assert len(stack.registry()) == len(cmps), withdrawn
    for key in cmps:
        ha_state(stack, key, lambda s: s["state"] != UNAVAILABLE)
    light = ha_state(stack, "light", lambda s: True)["attributes"]
    assert light["effect_list"] == effects(stack)
    assert light["supported_color_modes"] == ["brightness"]
    select = ha_state(stack, "animation", lambda s: True)["attributes"]
    assert select["options"] == cmps["animation"]["options"]
    record("entities", f"{len(cmps)} discovery components",
           {k: stack.entity(k) for k in sorted(cmps)})


def test_light_turn_on_with_brightness_and_effect(stack: Stack) -> None:
    effect = effects(stack)[-1]
    light = stack.entity("light")
    sent, reply, _ = drive(
        stack, "light.turn_on", {"entity_id": light, "brightness_pct": 40, "effect": effect},
        f"{BASE}/set", f"{BASE}/state",
        lambda v: isinstance(v, dict) and v.get("state") == "ON" and v.get("effect") == effect)
    assert sent["state"] == "ON" and sent["effect"] == effect
    assert reply["brightness"] == 40
    s = ha_state(stack, "light", lambda s: s["state"] == "on"
                 and s["attributes"].get("effect") == effect)
    assert s["attributes"]["brightness"] in (101, 102)  # 40 % of 255, rounded either way


def test_light_turn_off(stack: Stack) -> None:
    sent, _, _ = drive(stack, "light.turn_off", {"entity_id": stack.entity("light")},
                       f"{BASE}/set", f"{BASE}/state",
                       lambda v: isinstance(v, dict) and v.get("state") == "OFF")
    assert sent["state"] == "OFF"
    ha_state(stack, "light", lambda s: s["state"] == "off")


def test_light_flash_turns_on_and_flashes(stack: Stack) -> None:
    since = len(stack.engine.log_events())
    sent, _, _ = drive(stack, "light.turn_on", {"entity_id": stack.entity("light"),
                                                "flash": "short"},
                       f"{BASE}/set", f"{BASE}/state",
                       lambda v: isinstance(v, dict) and v.get("state") == "ON")
    assert "flash" in sent
    wait_until(lambda: any(e.get("event") == "flash_started"
                           for e in stack.engine.log_events()[since:]), 10, interval_s=0.2)
    ha_state(stack, "light", lambda s: s["state"] == "on")


def test_select_animation(stack: Stack) -> None:
    current = stack.bus.last(f"{BASE}/state")["effect"]
    option = next(e for e in effects(stack) if e != current)
    select = stack.entity("animation")
    sent, _, _ = drive(stack, "select.select_option", {"entity_id": select, "option": option},
                       f"{BASE}/cmd/animation", f"{BASE}/state",
                       lambda v: isinstance(v, dict) and v.get("effect") == option)
    assert sent is not None
    ha_state(stack, "animation", lambda s: s["state"] == option)


def test_identify_button_publishes_identify_event(stack: Stack) -> None:
    _, event, _ = drive(stack, "button.press", {"entity_id": stack.entity("identify")},
                        f"{BASE}/cmd/identify", f"{BASE}/events",
                        lambda v: isinstance(v, dict) and v.get("event") == "identify")
    assert event["seconds"] > 0


def test_notify_send_message(stack: Stack) -> None:
    text = "Hello from Home Assistant"
    sent, event, _ = drive(stack, "notify.send_message",
                           {"entity_id": stack.entity("notify"), "message": text},
                           f"{BASE}/cmd/notify", f"{BASE}/events",
                           lambda v: isinstance(v, dict)
                           and str(v.get("event", "")).startswith("notification_"))
    assert sent == {"text": text}
    assert event["event"] == "notification_shown", event


def test_notification_dismiss_button(stack: Stack) -> None:
    stack.ha.call("notify", "send_message", {"entity_id": stack.entity("notify"),
                                             "message": "to be dismissed"})
    showing = stack.bus.wait_for(f"{BASE}/state", lambda v: isinstance(v, dict)
                                 and v.get("notification") is not None,
                                 timeout_s=20)["notification"]
    mark = stack.bus.mark()
    _, event, _ = drive(stack, "button.press", {"entity_id": stack.entity("dismiss")},
                        f"{BASE}/cmd/notify/dismiss", f"{BASE}/events",
                        lambda v: isinstance(v, dict) and v.get("event") == "notification_ended")
    assert event.get("reason") == "dismissed", event
    assert event.get("id") == showing, event
    # What was queued behind it (the earlier case's message, when not yet expired) goes too.
    ended = {showing}
    for _ in range(5):
        nid = stack.bus.wait_for(f"{BASE}/state", lambda v: isinstance(v, dict)
                                 and v.get("notification") not in ended,
                                 timeout_s=20, since=mark)["notification"]
        if nid is None:
            break
        stack.ha.call("button", "press", {"entity_id": stack.entity("dismiss")})
        stack.bus.wait_for(f"{BASE}/events", lambda v, n=nid: isinstance(v, dict)
                           and v.get("id") == n and v.get("event") == "notification_ended",
                           timeout_s=20, since=mark)
        ended.add(nid)


def test_flash_long_through_the_websocket_api(stack: Stack) -> None:
    mark = stack.bus.mark()
    started = time.monotonic()
    stack.ha.ws({"type": "call_service", "domain": "light", "service": "turn_on",
                 "service_data": {"flash": "long"}, "target": {"entity_id": stack.entity("light")}})
    reply = stack.bus.wait_for(f"{BASE}/state", lambda v: isinstance(v, dict)
                               and v.get("state") == "ON", timeout_s=20, since=mark)
    took = time.monotonic() - started
    sent = stack.bus.wait_for(f"{BASE}/set", timeout_s=5, since=mark)
    record("websocket call_service light.turn_on flash long", sent, reply, took)
    assert sent.get("flash") == stack.discovery["cmps"]["light"]["flash_time_long"]


def test_preset_select_appears_with_the_first_preset_and_applies(stack: Stack) -> None:
    stack.bus.publish(f"{BASE}/cmd/preset", {"save": "sofa"})
    wait_until(lambda: "unique_id" in stack.discovery["cmps"]["preset"], 20, interval_s=0.2)
    stack.map_entities()
    # Available too: HA silently skips a service call on an unavailable entity, and a new
    # entity has its options before the retained availability reaches it.
    ha_state(stack, "preset", lambda s: s["state"] != UNAVAILABLE
             and "sofa" in s["attributes"].get("options", []))
    other = next(e for e in effects(stack) if e != stack.bus.last(f"{BASE}/state")["effect"])
    stack.ha.call("select", "select_option", {"entity_id": stack.entity("animation"),
                                              "option": other})
    stack.bus.wait_for(f"{BASE}/state", lambda v: isinstance(v, dict)
                       and v.get("effect") == other, timeout_s=20)
    sent, _, _ = drive(stack, "select.select_option",
                       {"entity_id": stack.entity("preset"), "option": "sofa"},
                       f"{BASE}/cmd/preset", f"{BASE}/state",
                       lambda v: isinstance(v, dict) and v.get("preset") == "sofa")
    assert sent == {"apply": "sofa"}
    ha_state(stack, "preset", lambda s: s["state"] == "sofa")


def test_playlist_select_plays_and_stops(stack: Stack) -> None:
    stack.bus.publish(f"{BASE}/cmd/playlist",
                      {"save": "evening", "items": [{"preset": "sofa", "duration_s": 600}]})
    ha_state(stack, "playlist", lambda s: s["state"] != UNAVAILABLE
             and "evening" in s["attributes"].get("options", []))
    playlist = stack.entity("playlist")
    sent, _, _ = drive(stack, "select.select_option", {"entity_id": playlist, "option": "evening"},
                       f"{BASE}/cmd/playlist", f"{BASE}/state",
                       lambda v: isinstance(v, dict) and (v.get("playlist") or {}).get("name")
                       == "evening")
    assert sent == {"play": "evening"}
    ha_state(stack, "playlist", lambda s: s["state"] == "evening")
    stopped = stack.discovery["cmps"]["playlist"]["options"][0]
    sent, _, _ = drive(stack, "select.select_option", {"entity_id": playlist, "option": stopped},
                       f"{BASE}/cmd/playlist", f"{BASE}/state",
                       lambda v: isinstance(v, dict) and v.get("playlist") is None)
    assert sent == "stop"
    ha_state(stack, "playlist", lambda s: s["state"] == stopped)


def test_schedule_switch(stack: Stack) -> None:
    switch = stack.entity("schedule")
    for service, enabled in (("switch.turn_off", False), ("switch.turn_on", True)):
        sent, _, _ = drive(stack, service, {"entity_id": switch}, f"{BASE}/cmd/schedule",
                           f"{BASE}/schedule",
                           lambda v, e=enabled: isinstance(v, dict) and v.get("enabled") is e)
        assert sent == {"enabled": enabled}
        ha_state(stack, "schedule", lambda s, e=enabled: s["state"] == ("on" if e else "off"))


def test_live_input_select(stack: Stack) -> None:
    live = stack.entity("live_mode")
    options = stack.discovery["cmps"]["live_mode"]["options"]
    current = (stack.bus.last(f"{BASE}/state").get("live") or {}).get("mode")
    option = next(o for o in options if o != current)
    sent, _, _ = drive(stack, "select.select_option", {"entity_id": live, "option": option},
                       f"{BASE}/cmd/live", f"{BASE}/state",
                       lambda v: isinstance(v, dict) and (v.get("live") or {}).get("mode")
                       == option)
    assert sent == {"mode": option}
    ha_state(stack, "live_mode", lambda s: s["state"] == option)


def test_turn_off_during_identify_is_dark_once_identify_ends(stack: Stack) -> None:
    stack.ha.call("light", "turn_on", {"entity_id": stack.entity("light")})
    mark = stack.bus.mark()
    stack.ha.call("button", "press", {"entity_id": stack.entity("identify")})
    stack.bus.wait_for(f"{BASE}/events", lambda v: isinstance(v, dict)
                       and v.get("event") == "identify", timeout_s=20, since=mark)
    _, reply, _ = drive(stack, "light.turn_off (during identify)",
                        {"entity_id": stack.entity("light")}, f"{BASE}/set", f"{BASE}/state",
                        lambda v: isinstance(v, dict) and v.get("state") == "OFF")
    ha_state(stack, "light", lambda s: s["state"] == "off")

    def dark() -> bool:
        panel = stack.engine.panel()
        return panel is not None and int(panel.max()) == 0

    wait_until(dark, 30, interval_s=0.25)
    record("panel after identify ends", "-", "dark (virtual panel snapshot all zero)")
    assert reply["state"] == "OFF"


def _all(stack: Stack, pred: Callable[[str], bool], timeout_s: float = 30.0) -> float:
    """Wait until every entity's HA state matches ``pred``; the time it took."""
    started = time.monotonic()
    for key in stack.entities:
        ha_state(stack, key, lambda s: pred(s["state"]), timeout_s)
    return time.monotonic() - started


def test_unavailable_on_clean_stop_and_back_on_restart(stack: Stack) -> None:
    started = time.monotonic()
    stack.engine.stop()
    _all(stack, lambda s: s == UNAVAILABLE)
    record("engine SIGTERM", "-", f"{BASE}/status offline; all entities unavailable",
           time.monotonic() - started)
    started = time.monotonic()
    stack.start_engine()
    _all(stack, lambda s: s != UNAVAILABLE, timeout_s=60)
    record("engine restart", "-", "all entities available", time.monotonic() - started)


def test_unavailable_on_sigkill_by_last_will(stack: Stack) -> None:
    started = time.monotonic()
    stack.engine.kill()
    _all(stack, lambda s: s == UNAVAILABLE)
    record("engine SIGKILL", "-", "Last Will offline; all entities unavailable",
           time.monotonic() - started)
    stack.start_engine()
    _all(stack, lambda s: s != UNAVAILABLE, timeout_s=60)


def test_ha_restart_brings_entities_back_without_duplicates(stack: Stack) -> None:
    before = stack.registry()
    started = time.monotonic()
    stack.ha.stop()
    stack.ha.start()
    stack.ha.wait_api()
    _all(stack, lambda s: s != UNAVAILABLE, timeout_s=90)
    after = stack.registry()
    record("HA restart", "-", f"{len(after)} registry entries (before {len(before)})",
           time.monotonic() - started)
    assert sorted(e["entity_id"] for e in after) == sorted(e["entity_id"] for e in before)
    assert len({e["unique_id"] for e in after}) == len(after)
    (devices,) = stack.ha.ws({"type": "config/device_registry/list"})
    ours = [d for d in devices if ["mqtt", f"lightbox_{DEVICE}"] in d.get("identifiers", [])]
    assert len(ours) == 1, ours
