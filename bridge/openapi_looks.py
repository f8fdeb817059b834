"""The OpenAPI paths of presets, playlists, schedules and live input (contract sections 8, 9).

Owns the part of the document ``bridge.openapi.spec`` adds for ``bridge.api_looks``;
request bodies come from ``bridge.looks_models`` so the schema and the validation
cannot drift apart. Built from ``bridge.openapi``'s helpers (imported when called, as
that module imports this one). Knows nothing of MQTT.
"""

from __future__ import annotations

from typing import Any

from appliance.wire.look_commands import LOOK_NAME
from bridge.looks_models import LiveBody, PlaylistSaveBody, PresetSaveBody, ScheduleBody

PRESET: dict[str, Any] = {"type": "object", "properties": {
    "name": {"type": "string", "pattern": LOOK_NAME}, "animation": {"type": "string"},
    "params": {"type": "object"}, "brightness": {"type": ["integer", "null"]}},
    "required": ["name", "animation"], "additionalProperties": True}
PLAYLIST: dict[str, Any] = {"type": "object", "properties": {
    "name": {"type": "string", "pattern": LOOK_NAME},
    "items": {"type": "array", "items": {"type": "object"}},
    "shuffle": {"type": "boolean"}, "repeat": {"type": "boolean"},
    "transition_s": {"type": "number"}},
    "required": ["name", "items"], "additionalProperties": True}
SPAN: dict[str, Any] = {"type": "object", "properties": {
    "name": {"type": "string"}, "start": {"type": "string"}, "end": {"type": "string"}}}
SCHEDULE: dict[str, Any] = {"type": "object", "properties": {
    "enabled": {"type": "boolean"},
    "active": {"type": "array", "items": {"type": "string"}},
    "next": {"type": ["object", "null"], "properties": {
        "name": {"type": "string"}, "at": {"type": "string", "format": "date-time"},
        "change": {"enum": ["start", "end"]}}},
    "timezone": {"type": "string"},
    "week": {"type": "array", "items": {"type": "object", "properties": {
        "date": {"type": "string", "format": "date"},
        "sunrise": {"type": ["string", "null"]}, "sunset": {"type": ["string", "null"]},
        "spans": {"type": "array", "items": SPAN}}}}},
    "required": ["enabled", "active", "next"], "additionalProperties": True}


def _inline(schema: Any, defs: dict[str, Any] | None = None) -> Any:
    """``schema`` with pydantic's ``#/$defs/...`` references replaced by what they name.

    Inside the OpenAPI document such a reference would point at its root, where no
    ``$defs`` are.
    """
    if defs is None and isinstance(schema, dict):
        defs = schema.pop("$defs", {})
    if isinstance(schema, dict):
        ref = schema.get("$ref", "")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(dict(defs[ref.rsplit("/", 1)[1]]), defs)  # type: ignore[index]
        return {k: _inline(v, defs) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_inline(v, defs) for v in schema]
    return schema


def _name_param(what: str) -> list[dict[str, Any]]:
    return [{"name": "name", "in": "path", "required": True,
             "description": f"the {what}'s name, URL-encoded (a space is %20)",
             "schema": {"type": "string", "pattern": LOOK_NAME}}]


def paths() -> dict[str, Any]:
    """Return the paths of ``bridge.api_looks``."""
    from bridge import openapi as o

    ok, cmd, read = o._json(o._ref("Reply")), o.WRITE_ERRORS, o.READ_ERRORS
    curl = "curl -X POST -H 'Content-Type: application/json' -d "
    steps = {f"/api/playlist/{step}": {"post": o._op(
        f"{doc} (bare `{step}` on cmd/playlist)", ok, cmd, tag="looks", write=True)}
        for step, doc in (("next", "The playing playlist's next item"),
                          ("previous", "The playing playlist's previous item"),
                          ("stop", "Stop the playing playlist"))}
    return {
        "/api/presets": {
            "get": o._op("The retained `presets` list", o._json(
                {"type": "array", "items": PRESET}), read, tag="looks"),
            "post": o._op("Save the look showing now (`save` alone) or the one given "
                          "(cmd/preset)", ok, cmd, tag="looks",
                          body=o._body(o._model(PresetSaveBody)), write=True,
                          example=curl + "'{\"save\":\"Cozy evening\"}' "
                          "http://lightbox:5001/api/presets")},
        "/api/presets/{name}": {"parameters": _name_param("preset"), "delete": o._op(
            "Delete a preset (cmd/preset delete)", ok, cmd, tag="looks", write=True)},
        "/api/presets/{name}/apply": {"parameters": _name_param("preset"), "post": o._op(
            "Show a preset (cmd/preset apply; stops a playing playlist)", ok, cmd,
            tag="looks", write=True)},
        "/api/playlists": {
            "get": o._op("The retained `playlists` definitions", o._json(
                {"type": "array", "items": PLAYLIST}), read, tag="looks"),
            "post": o._op("Save a playlist (cmd/playlist save)", ok, cmd, tag="looks",
                          body=o._body(_inline(o._model(PlaylistSaveBody))), write=True)},
        "/api/playlists/{name}": {"parameters": _name_param("playlist"), "delete": o._op(
            "Delete a playlist (stops it if it plays)", ok, cmd, tag="looks", write=True)},
        "/api/playlists/{name}/apply": {"parameters": _name_param("playlist"), "post": o._op(
            "Play a playlist from its first item (cmd/playlist play)", ok, cmd,
            tag="looks", write=True)},
        **steps,
        "/api/schedule": {
            "get": o._op("The retained `schedule` document: enabled, the open windows, the "
                         "next change and the coming week's spans and sun times",
                         o._json(SCHEDULE), read, tag="looks"),
            "post": o._op("Pause (`enabled: false`) or resume every schedule (cmd/schedule)",
                          ok, cmd, tag="looks", body=o._body(o._model(ScheduleBody)),
                          write=True)},
        "/api/live": {"post": o._op(
            "Follow realtime streams (`auto`) or ignore them (cmd/live)", ok, cmd,
            tag="looks", body=o._body(o._model(LiveBody)), write=True)},
    }
