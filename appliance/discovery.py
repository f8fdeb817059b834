"""Home Assistant device-based MQTT discovery (HA 2024.11+).

Builds the one retained config document that announces a LightBox as a device
with its light, animation select, diagnostic sensors, problem binary sensor,
identify button, the notifications of contract section 7 (a ``notify``
entity whose messages are sent bare to ``cmd/notify``, so each becomes the
text of one notification, and a "Dismiss notification" button), and the preset,
playlist, schedule and live-input entities of sections 8 and 9
(``appliance.discovery_looks``). Knows nothing
of paho (publishes through the link's ``raw_publish``), displays or Flask.
"""

from __future__ import annotations

from typing import Any, Protocol

from appliance import __version__
from appliance.discovery_looks import LookNames
from appliance.discovery_looks import components as look_components
from appliance.settings import Settings
from appliance.wire import jsonsafe, topics
from appliance.wire.payloads import FLASH_LONG_S, FLASH_SHORT_S

ORIGIN = {"name": "LightBox", "sw": __version__, "url": "https://github.com/lightbox-led/lightbox"}


class RawPublisher(Protocol):
    """Publishes on absolute topics."""

    def raw_publish(self, topic: str, payload: bytes, *, qos: int = 0,
                    retain: bool = False, properties: Any = None) -> None:
        """Publish ``payload`` on ``topic``."""


def _sensor(uid: str, name: str, topic: str, key: str, unit: str | None = None,
            device_class: str | None = None, icon: str | None = None,
            state_class: str | None = "measurement") -> dict[str, Any]:
    c: dict[str, Any] = {
        "platform": "sensor",
        "unique_id": uid,
        "name": name,
        "state_topic": topic,
        "value_template": f"{{{{ value_json.{key} }}}}",
        "entity_category": "diagnostic",
    }
    if unit:
        c["unit_of_measurement"] = unit
    if device_class:
        c["device_class"] = device_class
    if state_class:
        c["state_class"] = state_class
    if icon:
        c["icon"] = icon
    return c


#: Catalogue groups left out of Home Assistant's effect list and the animation select:
#: test patterns (for the installer: ``lightbox test-pattern``), utilities (``blank``)
#: and images (an image needs the id of an uploaded picture, which an effect name
#: cannot carry: picked bare it would be dark). Categories stand in for a catalogue
#: without groups. All stay reachable through ``cmd/animation`` and ``set``.
NOT_EFFECT_GROUPS = frozenset({"Test patterns", "Utility", "Images"})
NOT_EFFECT_CATEGORIES = frozenset({"test", "utility", "image"})


def _offered(entry: dict[str, Any]) -> bool:
    """True for an animation a person picks by name from a sofa.

    Not one of ``NOT_EFFECT_GROUPS``, and no ``string`` parameter: free text (the words
    of ``text``, an image id) is something an effect name cannot give, so picked from
    Home Assistant it would show a placeholder.
    """
    if entry.get("group") in NOT_EFFECT_GROUPS or entry.get("category") in NOT_EFFECT_CATEGORIES:
        return False
    return not any(isinstance(p, dict) and p.get("type") == "string"
                   for p in entry.get("params") or [])


def effect_names(catalogue: list[dict[str, Any]]) -> list[str]:
    """Return the animations Home Assistant offers as effects and select options."""
    return [a["name"] for a in catalogue if _offered(a)]


def _select_template(effects: list[str]) -> str:
    """The select's state: the effect when it is an option, else ``None`` (unknown).

    Home Assistant's MQTT select logs an error and keeps the old option for a value
    that is not one of its options; ``None`` makes it unknown instead (a test pattern,
    an image or text running).
    """
    return f"{{{{ value_json.effect if value_json.effect in {effects!r} else 'None' }}}}"


def _controls(uid: str, base: str, catalogue: list[dict[str, Any]]) -> dict[str, Any]:
    """The light and the animation select."""
    effects = effect_names(catalogue)
    return {
        "light": {
            "platform": "light",
            "unique_id": f"{uid}_light",
            "name": None,
            "schema": "json",
            "command_topic": topics.command(base, "set"),
            "state_topic": topics.state_topic(base, "state"),
            "brightness": True,
            "brightness_scale": 100,
            "supported_color_modes": ["brightness"],
            "effect": True,
            "effect_list": effects,
            # What HA sends as {"flash": n} for flash short/long (seconds, whole).
            "flash_time_short": FLASH_SHORT_S,
            "flash_time_long": FLASH_LONG_S,
            "qos": 1,
        },
        "animation": {
            "platform": "select",
            "unique_id": f"{uid}_animation",
            "name": "Animation",
            "icon": "mdi:animation-play",
            "command_topic": topics.command(base, "animation"),
            "state_topic": topics.state_topic(base, "state"),
            "value_template": _select_template(effects),
            "options": effects,
        },
    }


def _diagnostics(uid: str, base: str) -> dict[str, Any]:
    """The diagnostic sensors read from ``metrics``."""
    metrics = topics.state_topic(base, "metrics")
    return {
        "fps": _sensor(f"{uid}_fps", "Frame rate", metrics, "fps", "fps", icon="mdi:speedometer"),
        "cpu": _sensor(f"{uid}_cpu", "CPU", metrics, "cpu_percent", "%", icon="mdi:cpu-64-bit"),
        "memory": _sensor(f"{uid}_memory", "Memory", metrics, "rss_mb", "MB",
                          device_class="data_size"),
        "temperature": _sensor(f"{uid}_temperature", "CPU temperature", metrics, "cpu_temp_c",
                               "°C", device_class="temperature"),
        "errors": _sensor(f"{uid}_errors", "Animation errors", metrics,
                          "animation_errors_total", state_class="total_increasing",
                          icon="mdi:alert-circle-outline"),
        "last_boot": {
            **_sensor(f"{uid}_last_boot", "Last boot", metrics, "boot_time",
                      device_class="timestamp", state_class=None),
        },
    }


def _problem_and_identify(uid: str, base: str) -> dict[str, Any]:
    """The problem binary sensor (from ``health``) and the identify button."""
    return {
        "problem": {
            "platform": "binary_sensor",
            "unique_id": f"{uid}_problem",
            "name": "Problem",
            "device_class": "problem",
            "state_topic": topics.state_topic(base, "health"),
            "value_template": "{{ 'OFF' if value_json.status == 'ok' else 'ON' }}",
            "json_attributes_topic": topics.state_topic(base, "health"),
            "json_attributes_template": "{{ {'reasons': value_json.reasons} | tojson }}",
            "entity_category": "diagnostic",
        },
        "identify": {
            "platform": "button",
            "unique_id": f"{uid}_identify",
            "name": "Identify",
            "device_class": "identify",
            "command_topic": topics.command(base, "identify"),
            "payload_press": "{}",
            "entity_category": "config",
        },
    }


def _notifications(uid: str, base: str) -> dict[str, Any]:
    """The notify entity (HA's MQTT notify platform) and the dismiss button."""
    return {
        "notify": {
            "platform": "notify",
            "unique_id": f"{uid}_notify",
            "name": "Message",
            "icon": "mdi:message-text",
            # Wrapped as {"text": ...}: a message such as "21" or "true" must stay text,
            # not be read as a JSON number or literal.
            "command_topic": topics.command(base, "notify"),
            "command_template": "{{ {'text': value} | tojson }}",
            "qos": 1,
            "retain": False,
        },
        "dismiss": {
            "platform": "button",
            "unique_id": f"{uid}_dismiss",
            "name": "Dismiss notification",
            "icon": "mdi:message-off",
            "command_topic": topics.command(base, "notify/dismiss"),
            # An empty dismiss ends the notification showing now.
            "payload_press": "",
        },
    }


def payload(settings: Settings, catalogue: list[dict[str, Any]], info: dict[str, Any],
            looks: LookNames | None = None) -> dict[str, Any]:
    """Return the device discovery document (the name selects once ``looks`` is known)."""
    dev_id = settings.device_id
    base = topics.base(settings.mqtt.base_topic, dev_id)
    uid = f"lightbox_{dev_id}"
    d = settings.display
    components = {**_controls(uid, base, catalogue), **_diagnostics(uid, base),
                  **_problem_and_identify(uid, base), **_notifications(uid, base),
                  **look_components(uid, base, looks)}
    for c in components.values():
        # HA (2025.4) inherits only availability and the topics from the device level,
        # never its "qos": a component that commands says its own, or HA sends at qos 0.
        if "command_topic" in c:
            c.setdefault("qos", 1)
    return {
        "dev": {
            "ids": [uid],
            "name": f"LightBox {dev_id}",
            "mf": "LightBox",
            "mdl": f"HUB75 {d.width}x{d.height} LED matrix",
            "sw": __version__,
            "hw": f"{info.get('display', {}).get('driver', d.driver)} on {info.get('host', '')}",
        },
        "o": ORIGIN,
        "avty_t": topics.state_topic(base, "status"),
        "pl_avail": "online",
        "pl_not_avail": "offline",
        "cmps": components,
        "qos": 1,
    }


def publish(link: RawPublisher, settings: Settings, catalogue: list[dict[str, Any]],
            info: dict[str, Any], looks: LookNames | None = None) -> None:
    """Publish the retained discovery document."""
    body = jsonsafe.dumps(payload(settings, catalogue, info, looks)).encode()
    link.raw_publish(topics.discovery(settings.mqtt.discovery_prefix, settings.device_id),
                     body, qos=1, retain=True)


def remove(link: RawPublisher, settings: Settings) -> None:
    """Remove the device from Home Assistant (empty retained payload)."""
    link.raw_publish(topics.discovery(settings.mqtt.discovery_prefix, settings.device_id),
                     b"", qos=1, retain=True)
