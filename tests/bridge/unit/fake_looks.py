"""The fake engine's presets, playlists, schedule and live mode (contract sections 8 and 9).

Owns the retained ``presets``, ``playlists`` and ``schedule`` documents as a fresh
engine publishes them, and ``FakeLooks``, which answers ``cmd/preset``,
``cmd/playlist``, ``cmd/schedule`` and ``cmd/live`` the way the contract says the
engine does: save (the current look, or the one given), apply/play (``state.preset``,
``state.playlist``), delete, next/previous/stop, pause/resume, ``state.live.mode``.
Unknown names are ``unknown_preset`` / ``unknown_playlist``. Knows nothing of Flask or paho.
"""

from __future__ import annotations

import copy
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

#: The retained ``schedule`` document of a box with one window and sun times.
SCHEDULE: dict[str, Any] = {
    "enabled": True, "active": [], "timezone": "UTC",
    "next": {"name": "Evening", "at": "2030-01-01T18:00:00+00:00", "change": "start"},
}


def week(start: date | None = None) -> list[dict[str, Any]]:
    """Seven days of one 18:00-23:00 window, one across midnight and sun times."""
    first = start or datetime.now(UTC).date()
    days = []
    for i in range(7):
        d = first + timedelta(days=i)
        spans = [{"name": "Evening", "start": "18:00", "end": "23:00"},
                 {"name": "Night", "start": "00:00", "end": "06:30"}]
        if i == 0:
            spans.append({"name": "Night", "start": "23:30", "end": "24:00"})
        days.append({"date": d.isoformat(), "sunrise": "07:12", "sunset": "16:48",
                     "spans": spans})
    return days


def look_documents() -> dict[str, Any]:
    """The retained documents of a fresh engine with no presets and no playlists."""
    return {"presets": [], "playlists": [], "schedule": {**SCHEDULE, "week": week()}}


def _error(code: str, message: str, field: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message, "field": field}}


class FakeLooks:
    """Presets, playlists, schedule and live mode, applied to a state dict."""

    def __init__(self) -> None:
        self.presets: list[dict[str, Any]] = []
        self.playlists: list[dict[str, Any]] = []
        self.schedule: dict[str, Any] = {**SCHEDULE, "week": week()}
        self.live_mode = "auto"

    def apply(self, action: str, body: Any, state: dict[str, Any]) -> dict[str, Any] | None:
        """Change ``state`` (and the documents) for one command; an error reply or None."""
        if action == "preset":
            return self._preset(body, state)
        if action == "playlist":
            return self._playlist(body, state)
        if action == "schedule":
            self.schedule["enabled"] = body["enabled"]
        elif action == "live":
            state["live"] = {"active": False, "protocol": None, "source": None, "fps": 0,
                             "mode": body["mode"]}
            self.live_mode = body["mode"]
        return None

    def _named(self, items: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
        return next((i for i in items if i["name"] == name), None)

    def _preset(self, body: dict[str, Any], state: dict[str, Any]) -> dict[str, Any] | None:
        if "save" in body:
            look = {"animation": body.get("animation", state["effect"]),
                    "params": body.get("params", state.get("params", {})),
                    "brightness": body.get("brightness", state["brightness"])}
            self.presets = [p for p in self.presets if p["name"] != body["save"]]
            self.presets.append({"name": body["save"], **copy.deepcopy(look)})
            return None
        name = body.get("apply") or body.get("delete")
        preset = self._named(self.presets, name)
        if preset is None:
            return _error("unknown_preset", f"no preset named {name!r}",
                          "apply" if "apply" in body else "delete")
        if "delete" in body:
            self.presets.remove(preset)
            return None
        state.update(effect=preset["animation"], params=dict(preset["params"]),
                     brightness=preset["brightness"] or state["brightness"],
                     preset=preset["name"], playlist=None)
        return None

    def _playlist(self, body: Any, state: dict[str, Any]) -> dict[str, Any] | None:
        if isinstance(body, str):
            if body == "stop" or state.get("playlist") is None:
                state["playlist"] = None
                return None
            pl = state["playlist"]
            count = len(self._named(self.playlists, pl["name"])["items"])  # type: ignore[index]
            pl["index"] = (pl["index"] + (1 if body == "next" else -1)) % count
            return None
        if "save" in body:
            definition = {"name": body["save"], "items": body["items"],
                          "shuffle": body.get("shuffle", False),
                          "repeat": body.get("repeat", True),
                          "transition_s": body.get("transition_s", 1.0)}
            self.playlists = [p for p in self.playlists if p["name"] != body["save"]]
            self.playlists.append(definition)
            return None
        name = body.get("play") or body.get("delete")
        found = self._named(self.playlists, name)
        if found is None:
            return _error("unknown_playlist", f"no playlist named {name!r}",
                          "play" if "play" in body else "delete")
        if "delete" in body:
            self.playlists.remove(found)
            if (state.get("playlist") or {}).get("name") == name:
                state["playlist"] = None
            return None
        state.update(preset=None, playlist={"name": name, "index": 0, "item": found["items"][0],
                                            "next_at": time.time() + 60})
        return None
