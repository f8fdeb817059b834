"""Home Assistant discovery checked against HA's rules for device discovery and JSON lights.

The schema below encodes what Home Assistant (2024.11+) requires of a
device-based discovery payload, so a regression is caught here rather than by
a user whose entities silently fail to appear.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from jinja2 import Environment

from animations import REGISTRY
from appliance import discovery
from appliance.settings import validate
from appliance.wire import topics

# Abbreviations HA accepts at the top level and inside the device/origin blocks.
TOP_KEYS = {"dev", "device", "o", "origin", "cmps", "components", "avty_t",
            "availability_topic", "pl_avail", "pl_not_avail", "payload_available",
            "payload_not_available", "qos", "state_topic", "command_topic"}
DEVICE_KEYS = {"ids", "identifiers", "name", "mf", "manufacturer", "mdl", "model", "sw",
               "sw_version", "hw", "hw_version", "cns", "connections", "sa",
               "suggested_area", "cu", "configuration_url"}
ORIGIN_KEYS = {"name", "sw", "sw_version", "url", "support_url"}
PLATFORMS = {"light", "select", "sensor", "binary_sensor", "button", "number", "switch",
             "notify"}
# HA's MQTT notify platform: stateless, a command topic and nothing to read back.
NOTIFY_KEYS = {"platform", "p", "unique_id", "uniq_id", "name", "icon", "command_topic",
               "cmd_t", "command_template", "cmd_tpl", "qos", "retain", "encoding",
               "entity_category", "ent_cat", "enabled_by_default", "entity_picture",
               "availability", "availability_topic", "availability_mode", "object_id",
               "default_entity_id", "json_attributes_topic", "json_attributes_template"}
# HA's MQTT switch (a controllable one: it has a command topic).
SWITCH_KEYS = {"platform", "p", "unique_id", "uniq_id", "name", "icon", "command_topic",
               "cmd_t", "command_template", "state_topic", "stat_t", "value_template",
               "val_tpl", "payload_on", "pl_on", "payload_off", "pl_off", "state_on",
               "stat_on", "state_off", "stat_off", "optimistic", "qos", "retain",
               "device_class", "entity_category", "ent_cat", "enabled_by_default",
               "json_attributes_topic", "json_attributes_template", "object_id",
               "default_entity_id", "encoding"}
SWITCH_DEVICE_CLASSES = {None, "outlet", "switch"}
ENTITY_CATEGORIES = {"config", "diagnostic"}
JSON_LIGHT_MODES = ({"brightness"}, {"onoff"})
SENSOR_DEVICE_CLASSES = {"temperature", "data_size", "timestamp", "duration", "frequency",
                         None}
TOPIC_RE = re.compile(r"^[^#+]+$")


def check_payload(doc: dict[str, Any]) -> list[str]:
    """Return every rule the payload breaks (empty when it is valid)."""
    problems = _block_problems(doc)
    cmps = doc.get("cmps") or doc.get("components")
    if not isinstance(cmps, dict) or not cmps:
        return [*problems, "components are required"]
    uids = []
    for key, c in cmps.items():
        if set(c) in ({"platform"}, {"p"}):
            # HA removes a device's component whose config is only its platform.
            if (c.get("p") or c.get("platform")) not in PLATFORMS:
                problems.append(f"component {key}: platform is not valid")
            continue
        uids.append(c.get("uniq_id") or c.get("unique_id"))
        problems += _component_problems(f"component {key}", c)
    if len(set(uids)) != len(uids):
        problems.append("unique ids must be unique")
    return problems


def _block_problems(doc: dict[str, Any]) -> list[str]:
    """The top level, the device block and the origin block."""
    problems = []
    unknown = set(doc) - TOP_KEYS
    if unknown:
        problems.append(f"unknown top-level keys {unknown}")
    dev = doc.get("dev") or doc.get("device")
    if not isinstance(dev, dict) or not (dev.get("ids") or dev.get("identifiers")):
        problems.append("device block with identifiers is required")
    elif set(dev) - DEVICE_KEYS:
        problems.append(f"unknown device keys {set(dev) - DEVICE_KEYS}")
    origin = doc.get("o") or doc.get("origin")
    if not isinstance(origin, dict) or not origin.get("name"):
        problems.append("origin block with a name is required for device discovery")
    elif set(origin) - ORIGIN_KEYS:
        problems.append(f"unknown origin keys {set(origin) - ORIGIN_KEYS}")
    return problems


def _component_problems(where: str, c: dict[str, Any]) -> list[str]:
    """The rules every component follows, then its platform's own."""
    problems = []
    platform = c.get("p") or c.get("platform")
    if platform not in PLATFORMS:
        problems.append(f"{where}: platform {platform!r} is not valid")
    if not (c.get("uniq_id") or c.get("unique_id")):
        problems.append(f"{where}: unique_id is required")
    cat = c.get("ent_cat") or c.get("entity_category")
    if cat is not None and cat not in ENTITY_CATEGORIES:
        problems.append(f"{where}: entity_category {cat!r} is not valid")
    for tkey in ("state_topic", "command_topic", "json_attributes_topic"):
        if tkey in c and not TOPIC_RE.match(c[tkey]):
            problems.append(f"{where}: {tkey} must be a topic without wildcards")
    if platform == "sensor":
        problems += _sensor_problems(where, c, cat)
    if platform == "binary_sensor" and c.get("device_class") == "problem" \
            and cat != "diagnostic":
        problems.append(f"{where}: the problem sensor is diagnostic")
    if platform == "button" and "command_topic" not in c:
        problems.append(f"{where}: a button needs a command_topic")
    own = PLATFORM_RULES.get(str(platform))
    return problems + (own(where, c) if own is not None else [])


def _select_problems(where: str, c: dict[str, Any]) -> list[str]:
    """HA's MQTT select: a command topic and a non-empty list of distinct string options."""
    problems = []
    options = c.get("options") or c.get("ops")
    if not isinstance(options, list) or not options:
        problems.append(f"{where}: a select needs options")
    elif not all(isinstance(o, str) and o for o in options) or len(set(options)) != len(options):
        problems.append(f"{where}: select options are distinct non-empty strings")
    elif "None" in options:
        problems.append(f"{where}: 'None' is no option (a state of 'None' means unknown)")
    if "command_topic" not in c and "cmd_t" not in c:
        problems.append(f"{where}: a select needs a command_topic")
    return problems


def _switch_problems(where: str, c: dict[str, Any]) -> list[str]:
    """HA's MQTT switch; state_on/off default to payload_on/off, so say them when those differ."""
    problems = []
    if set(c) - SWITCH_KEYS:
        problems.append(f"{where}: keys a switch does not take {set(c) - SWITCH_KEYS}")
    if "command_topic" not in c and "cmd_t" not in c:
        problems.append(f"{where}: a switch needs a command_topic")
    if c.get("device_class") not in SWITCH_DEVICE_CLASSES:
        problems.append(f"{where}: unexpected switch device_class {c.get('device_class')}")
    if "state_topic" in c:
        for pl, st, default in (("payload_on", "state_on", "ON"),
                                ("payload_off", "state_off", "OFF")):
            if c.get(pl, default) != default and st not in c:
                problems.append(f"{where}: {pl} is not {default!r}, so {st} must be given "
                                f"(it defaults to {pl})")
    return problems


def _notify_problems(where: str, c: dict[str, Any]) -> list[str]:
    problems = []
    if set(c) - NOTIFY_KEYS:
        problems.append(f"{where}: keys a notify entity does not take {set(c) - NOTIFY_KEYS}")
    if "command_topic" not in c and "cmd_t" not in c:
        problems.append(f"{where}: a notify entity needs a command_topic")
    if c.get("retain"):
        problems.append(f"{where}: a message must not be retained (it would show again)")
    return problems


def _light_problems(where: str, c: dict[str, Any]) -> list[str]:
    problems = []
    if (c.get("schema") or "default") != "json":
        problems.append(f"{where}: LightBox lights use the JSON schema")
    modes = set(c.get("supported_color_modes") or [])
    if modes not in JSON_LIGHT_MODES:
        problems.append(f"{where}: supported_color_modes must be brightness or onoff "
                        f"alone, got {modes}")
    if c.get("brightness") and c.get("brightness_scale") not in (None, 100):
        problems.append(f"{where}: brightness_scale must be 100 (percent)")
    if c.get("effect") and not c.get("effect_list"):
        problems.append(f"{where}: effect needs an effect_list")
    for key in ("flash_time_short", "flash_time_long"):
        # HA: cv.positive_int, sent back as {"flash": n} for flash short/long.
        value = c.get(key)
        if value is not None and (type(value) is not int or value < 1):
            problems.append(f"{where}: {key} must be a positive whole number, got {value!r}")
    if "command_topic" not in c:
        problems.append(f"{where}: a light needs a command_topic")
    return problems


def _sensor_problems(where: str, c: dict[str, Any], cat: Any) -> list[str]:
    problems = []
    if c.get("device_class") not in SENSOR_DEVICE_CLASSES:
        problems.append(f"{where}: unexpected device_class {c.get('device_class')}")
    if c.get("device_class") == "timestamp":
        # HA: a timestamp is an ISO 8601 datetime with a time zone, not a measurement.
        if c.get("state_class"):
            problems.append(f"{where}: a timestamp sensor has no state_class")
        if c.get("unit_of_measurement"):
            problems.append(f"{where}: a timestamp sensor has no unit_of_measurement")
    if str(c.get("state_topic", "")).endswith("/metrics") and cat != "diagnostic":
        problems.append(f"{where}: sensors about the box are diagnostic")
    return problems


#: The platforms with rules of their own (beyond the ones every component follows).
PLATFORM_RULES: dict[str, Callable[[str, dict[str, Any]], list[str]]] = {
    "light": _light_problems, "select": _select_problems, "switch": _switch_problems,
    "notify": _notify_problems}


@pytest.fixture
def doc() -> dict[str, Any]:
    settings = validate({"device_id": "kitchen", "display": {"cols": 64, "rows": 32}})
    info = {"display": {"driver": "virtual"}, "host": "pi"}
    return discovery.payload(settings, REGISTRY.catalogue(), info)


def test_discovery_payload_follows_home_assistant_rules(doc: dict[str, Any]) -> None:
    assert check_payload(doc) == []


def test_light_maps_onto_the_contract_topics(doc: dict[str, Any]) -> None:
    light = doc["cmps"]["light"]
    assert light["command_topic"] == "lightbox/kitchen/set"
    assert light["state_topic"] == "lightbox/kitchen/state"
    assert light["effect_list"] == [
        a["name"] for a in REGISTRY.catalogue()
        if a["group"] not in ("Test patterns", "Utility", "Images")
        and all(p["type"] != "string" for p in a["params"])]
    assert (light["flash_time_short"], light["flash_time_long"]) == (2, 10)
    assert doc["avty_t"] == "lightbox/kitchen/status"
    assert doc["dev"]["ids"] == ["lightbox_kitchen"]
    assert "64x32" in doc["dev"]["mdl"]
    assert doc["cmps"]["animation"]["options"] == light["effect_list"]


def test_image_is_no_effect_so_picking_one_never_gives_a_dark_panel(doc: dict[str, Any]
                                                                   ) -> None:
    # An image needs an uploaded picture's id, which an effect name cannot carry.
    light = doc["cmps"]["light"]
    assert "image" not in light["effect_list"]
    assert "image" not in doc["cmps"]["animation"]["options"]
    assert {"plasma", "fire", "clock", "solid"} <= set(light["effect_list"])


def test_the_effect_list_is_what_a_person_picks_from_a_sofa(doc: dict[str, Any]) -> None:
    # Test patterns, blank, image and text (free text HA cannot give) are left out by
    # rule (group, string parameter), not by a list of names; they stay in the catalogue.
    effects = set(doc["cmps"]["light"]["effect_list"])
    catalogue = {a["name"]: a for a in REGISTRY.catalogue()}
    left_out = set(catalogue) - effects
    assert {"blank", "image", "text"} | {n for n in catalogue if n.startswith("test_")} \
        == left_out
    assert all(catalogue[n]["group"] in ("Ambient", "Lively", "Clock & text") for n in effects)


def test_the_select_shows_unknown_for_an_effect_it_does_not_offer(doc: dict[str, Any]
                                                                  ) -> None:
    # HA's MQTT select logs an error and keeps the old option for a value not in its
    # options; 'None' makes it unknown (a test pattern or image running).
    select = doc["cmps"]["animation"]
    template = Environment().from_string(select["value_template"])
    for effect in select["options"]:
        assert template.render(value_json={"effect": effect}) == effect
    for effect in ("test_red", "image", "text", "blank", "not_an_animation"):
        assert template.render(value_json={"effect": effect}) == "None"


def test_required_entities_are_present(doc: dict[str, Any]) -> None:
    kinds = {(c["platform"], c.get("device_class")) for c in doc["cmps"].values()}
    assert ("light", None) in kinds and ("select", None) in kinds
    assert ("binary_sensor", "problem") in kinds and ("button", "identify") in kinds
    assert ("sensor", "temperature") in kinds and ("sensor", "timestamp") in kinds
    values = {c.get("value_template") for c in doc["cmps"].values()}
    for key in ("fps", "cpu_percent", "rss_mb", "cpu_temp_c", "animation_errors_total",
                "boot_time"):
        assert f"{{{{ value_json.{key} }}}}" in values


def test_the_rule_checker_catches_broken_payloads(doc: dict[str, Any]) -> None:
    broken = {**doc, "o": {}}
    broken["cmps"] = {**doc["cmps"], "light": {**doc["cmps"]["light"],
                                               "supported_color_modes": ["rgb", "brightness"]}}
    broken["cmps"]["fps"] = {**doc["cmps"]["fps"], "unique_id": doc["cmps"]["cpu"]["unique_id"]}
    broken["cmps"]["light"]["flash_time_short"] = 0.5
    problems = check_payload(broken)
    assert any("flash_time_short" in p for p in problems)
    assert any("origin" in p for p in problems)
    assert any("supported_color_modes" in p for p in problems)
    assert "unique ids must be unique" in problems


def test_notify_entity_sends_the_message_as_text_to_cmd_notify(doc: dict[str, Any]) -> None:
    notify = doc["cmps"]["notify"]
    assert notify["platform"] == "notify"
    assert notify["command_topic"] == "lightbox/kitchen/cmd/notify"
    # Wrapped as {"text": ...}, so a message such as "21" stays text (not a JSON number).
    assert notify["command_template"] == "{{ {'text': value} | tojson }}"
    assert notify.get("retain") is False
    assert "state_topic" not in notify


def test_dismiss_button_ends_the_showing_notification(doc: dict[str, Any]) -> None:
    dismiss = doc["cmps"]["dismiss"]
    assert dismiss["platform"] == "button" and dismiss["name"] == "Dismiss notification"
    assert dismiss["command_topic"] == "lightbox/kitchen/cmd/notify/dismiss"
    assert dismiss["payload_press"] == ""  # empty: the showing one
    assert dismiss["command_topic"] == topics.command("lightbox/kitchen", "notify/dismiss")


def test_the_rule_checker_catches_broken_notify_entities(doc: dict[str, Any]) -> None:
    broken = {**doc, "cmps": {**doc["cmps"], "notify": {
        **{k: v for k, v in doc["cmps"]["notify"].items() if k != "command_topic"},
        "state_topic": "lightbox/kitchen/notifications", "retain": True}}}
    problems = check_payload(broken)
    assert any("needs a command_topic" in p for p in problems)
    assert any("does not take" in p and "state_topic" in p for p in problems)
    assert any("retained" in p for p in problems)


def test_discovery_topic() -> None:
    assert topics.discovery("homeassistant", "kitchen") == (
        "homeassistant/device/lightbox_kitchen/config")

