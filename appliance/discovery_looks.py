"""Home Assistant entities of contract sections 8 and 9, and keeping their options fresh.

Owns the discovery components for presets, playlists, schedules and live input (a
preset select, a playlist select with a "(stopped)" option, the "Schedule" switch,
the "Next schedule change" timestamp sensor and the live-mode select) and
``LookWatch``: the engine's publisher wrapped so that a change of the preset or
playlist *names* on ``<base>/presets`` / ``<base>/playlists`` republishes discovery,
debounced, on a timer thread (never the render thread's work). Presets are not put
in the light's ``effect_list``: effects are animation names and a preset may share
one. Knows nothing of paho, displays or Flask.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from appliance.wire import topics

#: The playlist select's option that stops the playing one; it cannot be a playlist
#: name (``LOOK_NAME`` has no parentheses), so the two namespaces never meet.
STOPPED = "(stopped)"
LIVE_MODES = ("auto", "ignore")
#: Seconds a burst of preset/playlist changes is gathered into one discovery publish.
DEBOUNCE_S = 1.0


class Publisher(Protocol):
    """What the engine publishes through (``appliance.render.events.Publisher``)."""

    def publish(self, name: str, payload: Any, *, retain: bool = False) -> None:
        """Publish ``payload`` on ``<base>/<name>``."""


@dataclass(frozen=True)
class LookNames:
    """The preset and playlist names discovery offers (in the engine's order)."""

    presets: tuple[str, ...] = ()
    playlists: tuple[str, ...] = ()


def names_of(document: Any) -> tuple[str, ...]:
    """The names in a retained ``presets`` / ``playlists`` document (junk ignored)."""
    if not isinstance(document, list):
        return ()
    return tuple(e["name"] for e in document
                 if isinstance(e, dict) and isinstance(e.get("name"), str))


def _in(names: tuple[str, ...]) -> str:
    """A Jinja list literal of ``names`` (each a ``LOOK_NAME``: no quotes to escape)."""
    return "[" + ", ".join(f"'{n}'" for n in names) + "]"


def _preset_select(uid: str, base: str, names: tuple[str, ...]) -> dict[str, Any]:
    if not names:
        # A select needs options: with no preset left the entity is removed (a component
        # with only its platform) and comes back with the first saved preset.
        return {"platform": "select"}
    return {
        "platform": "select",
        "unique_id": f"{uid}_preset",
        "name": "Preset",
        "icon": "mdi:palette",
        "command_topic": topics.command(base, "preset"),
        "command_template": "{{ {'apply': value} | tojson }}",
        "state_topic": topics.state_topic(base, "state"),
        # "None" makes Home Assistant show unknown: no preset, or one it does not list.
        "value_template": f"{{{{ value_json.preset if value_json.preset in {_in(names)} "
                          "else 'None' }}",
        "options": list(names),
    }


def _playlist_select(uid: str, base: str, names: tuple[str, ...]) -> dict[str, Any]:
    return {
        "platform": "select",
        "unique_id": f"{uid}_playlist",
        "name": "Playlist",
        "icon": "mdi:playlist-play",
        "command_topic": topics.command(base, "playlist"),
        "command_template": f"{{{{ 'stop' if value == '{STOPPED}' else "
                            "{'play': value} | tojson }}",
        "state_topic": topics.state_topic(base, "state"),
        "value_template": f"{{{{ value_json.playlist.name if value_json.playlist and "
                          f"value_json.playlist.name in {_in(names)} else '{STOPPED}' }}}}",
        "options": [STOPPED, *names],
    }


def _schedule(uid: str, base: str) -> dict[str, Any]:
    schedule = topics.state_topic(base, "schedule")
    return {
        "schedule": {
            "platform": "switch",
            "unique_id": f"{uid}_schedule",
            "name": "Schedule",
            "icon": "mdi:calendar-clock",
            "command_topic": topics.command(base, "schedule"),
            "payload_on": '{"enabled":true}',
            "payload_off": '{"enabled":false}',
            "state_topic": schedule,
            "value_template": "{{ 'ON' if value_json.enabled else 'OFF' }}",
            # state_on/off default to payload_on/off: the template's words, said plainly.
            "state_on": "ON",
            "state_off": "OFF",
            "entity_category": "config",
        },
        "next_schedule_change": {
            "platform": "sensor",
            "unique_id": f"{uid}_next_schedule_change",
            "name": "Next schedule change",
            "device_class": "timestamp",
            "icon": "mdi:calendar-arrow-right",
            "state_topic": schedule,
            "value_template": "{{ value_json.next.at if value_json.next else 'None' }}",
            "json_attributes_topic": schedule,
            "json_attributes_template": "{{ (value_json.next or {}) | tojson }}",
        },
    }


def _live(uid: str, base: str) -> dict[str, Any]:
    return {
        "platform": "select",
        "unique_id": f"{uid}_live_mode",
        "name": "Live input",
        "icon": "mdi:video-input-antenna",
        "command_topic": topics.command(base, "live"),
        "command_template": "{{ {'mode': value} | tojson }}",
        "state_topic": topics.state_topic(base, "state"),
        "value_template": "{{ value_json.live.mode if value_json.live and "
                          f"value_json.live.mode in {list(LIVE_MODES)!r} else 'None' }}}}",
        "options": list(LIVE_MODES),
        "entity_category": "config",
    }


def components(uid: str, base: str, names: LookNames | None) -> dict[str, Any]:
    """The section 8/9 components; the two name selects only once the names are known."""
    cmps: dict[str, Any] = {**_schedule(uid, base), "live_mode": _live(uid, base)}
    if names is not None:
        cmps["preset"] = _preset_select(uid, base, names.presets)
        cmps["playlist"] = _playlist_select(uid, base, names.playlists)
    return cmps


_UNPUBLISHED = object()


class LookWatch:
    """The engine's publisher: passes everything on; a names change calls ``changed``.

    ``changed`` runs on a timer thread ``DEBOUNCE_S`` after the first change of a
    burst; the render thread only compares two tuples and maybe starts that timer.
    """

    def __init__(self, inner: Publisher, changed: Callable[[], None],
                 debounce_s: float = DEBOUNCE_S) -> None:
        self.inner = inner
        self.changed = changed
        self.debounce_s = debounce_s
        self._seen: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        #: The names the discovery document on the broker was made with (None: without
        #: them); ``_UNPUBLISHED`` before any was published.
        self._published: LookNames | object | None = _UNPUBLISHED

    def publish(self, name: str, payload: Any, *, retain: bool = False) -> None:
        """Publish through the inner publisher; watch ``presets`` and ``playlists``."""
        self.inner.publish(name, payload, retain=retain)
        if name in ("presets", "playlists"):
            self._observe(name, names_of(payload))

    def seed(self, presets: Any, playlists: Any) -> None:
        """Know the names before anything is published (the library loaded at boot)."""
        with self._lock:
            self._seen = {"presets": names_of(presets), "playlists": names_of(playlists)}

    def names(self) -> LookNames | None:
        """The names last published, or None until both documents were seen."""
        with self._lock:
            return self._names()

    def _names(self) -> LookNames | None:
        if "presets" not in self._seen or "playlists" not in self._seen:
            return None
        return LookNames(self._seen["presets"], self._seen["playlists"])

    def published(self, names: LookNames | None) -> None:
        """Discovery went out with ``names``: only a change from these republishes it
        (so a boot, whose first discovery already has the names, publishes it once)."""
        with self._lock:
            self._published = names

    def stop(self) -> None:
        """Cancel a pending republish."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _observe(self, name: str, names: tuple[str, ...]) -> None:
        with self._lock:
            if self._seen.get(name) == names:
                return
            self._seen[name] = names
            if self._timer is not None or self._names() == self._published:
                return  # one publish per burst, with the newest names; or nothing new
            self._timer = threading.Timer(self.debounce_s, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            self._timer = None
        self.changed()
