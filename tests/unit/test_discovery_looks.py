"""Home Assistant entities of contract sections 8 and 9, checked with the HA-rules checker.

The preset, playlist and live-mode selects, the "Schedule" switch and the "Next
schedule change" timestamp sensor: their payloads follow HA's rules
(``tests.unit.test_discovery.check_payload``), their templates render (with Jinja, as
HA renders them) to commands the wire parser takes and to states that are options,
and a change of the preset/playlist names republishes discovery once per burst.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any
from unittest.mock import ANY

import jinja2
import pytest

from animations import REGISTRY
from appliance import discovery, discovery_looks
from appliance.settings import validate
from appliance.wire.commands import parse_command
from appliance.wire.look_commands import SetSchedule
from tests.support import wait_until
from tests.unit.test_discovery import check_payload

ANY_META: Any = ANY

LOOKS = discovery_looks.LookNames(("Cozy evening", "Red"), ("Evening mix",))


def render(template: str, **values: Any) -> str:
    """Render a template as Home Assistant does (Jinja, with its ``tojson``)."""
    env = jinja2.Environment(undefined=jinja2.Undefined)
    env.filters["tojson"] = json.dumps
    return env.from_string(template).render(**values)


@pytest.fixture
def looks_doc() -> dict[str, Any]:
    settings = validate({"device_id": "kitchen"})
    return discovery.payload(settings, REGISTRY.catalogue(), {}, LOOKS)


def test_look_entities_follow_home_assistant_rules(looks_doc: dict[str, Any]) -> None:
    assert check_payload(looks_doc) == []
    cmps = looks_doc["cmps"]
    assert cmps["preset"]["options"] == ["Cozy evening", "Red"]
    assert cmps["playlist"]["options"] == ["(stopped)", "Evening mix"]
    assert cmps["live_mode"]["options"] == ["auto", "ignore"]
    assert cmps["schedule"]["platform"] == "switch"
    assert cmps["next_schedule_change"]["device_class"] == "timestamp"
    # Presets stay out of the light's effects: those are animation names only.
    assert "Red" not in cmps["light"]["effect_list"]


def test_look_selects_send_the_contract_commands(looks_doc: dict[str, Any]) -> None:
    cmps = looks_doc["cmps"]
    preset, playlist, live = cmps["preset"], cmps["playlist"], cmps["live_mode"]
    assert preset["command_topic"] == "lightbox/kitchen/cmd/preset"
    assert json.loads(render(preset["command_template"], value="Cozy evening")) == {
        "apply": "Cozy evening"}
    assert playlist["command_topic"] == "lightbox/kitchen/cmd/playlist"
    assert json.loads(render(playlist["command_template"], value="Evening mix")) == {
        "play": "Evening mix"}
    assert render(playlist["command_template"], value="(stopped)") == "stop"
    assert live["command_topic"] == "lightbox/kitchen/cmd/live"
    assert json.loads(render(live["command_template"], value="ignore")) == {"mode": "ignore"}
    for c in (preset, playlist, live):
        assert parse_command(c["command_topic"].rsplit("/", 1)[1],
                             render(c["command_template"], value=c["options"][-1]).encode())


@pytest.mark.parametrize(("key", "state", "shown"), [
    ("preset", {"preset": "Red"}, "Red"),
    ("preset", {"preset": None}, "None"),
    ("preset", {}, "None"),
    ("preset", {"preset": "Deleted one"}, "None"),
    ("playlist", {"playlist": {"name": "Evening mix", "index": 0}}, "Evening mix"),
    ("playlist", {"playlist": None}, "(stopped)"),
    ("live_mode", {"live": {"active": True, "mode": "ignore"}}, "ignore"),
    ("live_mode", {"live": {"active": False}}, "None"),
])
def test_look_selects_read_the_state(looks_doc: dict[str, Any], key: str,
                                     state: dict[str, Any], shown: str) -> None:
    c = looks_doc["cmps"][key]
    assert c["state_topic"] == "lightbox/kitchen/state"
    assert render(c["value_template"], value_json=state) == shown
    assert shown == "None" or shown in c["options"]


def test_schedule_switch_and_next_change_sensor(looks_doc: dict[str, Any]) -> None:
    switch, sensor = looks_doc["cmps"]["schedule"], looks_doc["cmps"]["next_schedule_change"]
    assert switch["state_topic"] == sensor["state_topic"] == "lightbox/kitchen/schedule"
    for on in (True, False):
        sent = switch["payload_on" if on else "payload_off"]
        assert parse_command("schedule", sent.encode()) == SetSchedule(on, meta=ANY_META)
        shown = render(switch["value_template"], value_json={"enabled": on})
        assert shown == switch["state_on" if on else "state_off"]
    at = "2030-01-01T18:00:00+01:00"
    shown = render(sensor["value_template"], value_json={"next": {"name": "Evening", "at": at,
                                                                  "change": "start"}})
    assert datetime.fromisoformat(shown).tzinfo is not None  # HA wants a zone
    assert render(sensor["value_template"], value_json={"next": None}) == "None"


def test_zero_presets_remove_the_preset_select(looks_doc: dict[str, Any]) -> None:
    settings = validate({"device_id": "kitchen"})
    doc = discovery.payload(settings, REGISTRY.catalogue(), {},
                            discovery_looks.LookNames((), ()))
    assert doc["cmps"]["preset"] == {"platform": "select"}  # HA's removal form
    assert doc["cmps"]["playlist"]["options"] == ["(stopped)"]
    assert check_payload(doc) == []
    unknown = discovery.payload(settings, REGISTRY.catalogue(), {})  # names not seen yet
    assert "preset" not in unknown["cmps"] and "playlist" not in unknown["cmps"]
    assert check_payload(unknown) == []


def test_the_rule_checker_catches_broken_look_entities(looks_doc: dict[str, Any]) -> None:
    c = looks_doc["cmps"]
    broken = {**looks_doc, "cmps": {
        **c,
        "preset": {**c["preset"], "options": []},
        "playlist": {**c["playlist"], "options": ["None", "Evening mix"]},
        "live_mode": {k: v for k, v in c["live_mode"].items() if k != "command_topic"},
        "schedule": {k: v for k, v in c["schedule"].items() if k != "state_on"},
        "next_schedule_change": {**c["next_schedule_change"], "state_class": "measurement",
                                 "unit_of_measurement": "s"},
    }}
    problems = check_payload(broken)
    assert any("preset: a select needs options" in p for p in problems)
    assert any("'None' is no option" in p for p in problems)
    assert any("live_mode: a select needs a command_topic" in p for p in problems)
    assert any("state_on must be given" in p for p in problems)
    assert any("timestamp sensor has no state_class" in p for p in problems)
    assert any("timestamp sensor has no unit_of_measurement" in p for p in problems)


class Recorder:
    """A publisher that records what it is given."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def publish(self, name: str, payload: Any, *, retain: bool = False) -> None:
        self.sent.append(name)


def test_look_watch_republishes_once_per_burst_of_name_changes() -> None:
    inner, fired = Recorder(), []
    watch = discovery_looks.LookWatch(inner, lambda: fired.append(watch.names()),
                                      debounce_s=0.2)
    watch.publish("state", {"effect": "plasma"}, retain=True)
    assert watch.names() is None  # nothing known yet: discovery leaves the selects out
    watch.publish("presets", [{"name": "A"}], retain=True)
    watch.publish("playlists", [], retain=True)
    watch.publish("presets", [{"name": "A"}, {"name": "B"}], retain=True)
    first = discovery_looks.LookNames(("A", "B"), ())
    wait_until(lambda: fired and fired[-1] == first, 5, 0.01, "a republish with both names")
    assert inner.sent == ["state", "presets", "playlists", "presets"]  # all passed on
    count = len(fired)
    # The same names again (a brightness change of a preset, a reconnect) change nothing;
    # one new name is one republish.
    watch.publish("presets", [{"name": "A", "brightness": 3}, {"name": "B"}], retain=True)
    watch.publish("presets", [{"name": "A"}, {"name": "B"}], retain=True)
    watch.publish("playlists", [{"name": "Mix", "items": []}], retain=True)
    second = discovery_looks.LookNames(("A", "B"), ("Mix",))
    wait_until(lambda: fired[-1] == second, 5, 0.01, "the republish with the playlist")
    assert len(fired) == count + 1
    watch.stop()


def test_look_watch_does_not_republish_what_discovery_already_has() -> None:
    """A boot: the names are seeded from the library, discovery goes out with them, and
    the engine's first publish of the same documents changes nothing."""
    fired: list[int] = []
    watch = discovery_looks.LookWatch(Recorder(), lambda: fired.append(1), debounce_s=0.05)
    watch.seed([{"name": "A"}], [])
    names = watch.names()
    assert names == discovery_looks.LookNames(("A",), ())
    watch.published(names)
    watch.publish("presets", [{"name": "A"}], retain=True)
    watch.publish("playlists", [], retain=True)
    time.sleep(0.3)  # longer than the debounce: a republish would have fired by now
    assert fired == []
    watch.publish("presets", [{"name": "A"}, {"name": "B"}], retain=True)
    wait_until(lambda: fired == [1], 5, 0.01, "one republish for the new name")
    watch.stop()
