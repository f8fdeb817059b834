"""Presets, playlists, schedules and live input over HTTP (contract sections 8 and 9).

Owns ``/api/presets`` (GET the retained list, POST save, ``<name>/apply``, DELETE),
``/api/playlists`` (the same four; ``/apply`` plays), ``POST /api/playlist/next``,
``/previous`` and ``/stop``, ``GET``/``POST /api/schedule`` (the retained document;
pause or resume) and ``POST /api/live`` (``auto``/``ignore``). A name in a URL is
URL-decoded by the router and checked against ``LOOK_NAME`` before anything is sent.
Each write is one ``cmd/preset``, ``cmd/playlist``, ``cmd/schedule`` or ``cmd/live``
request through ``bridge.web.send_command``; the engine's reply is the answer. Holds
no presets, playlists or schedules of its own. Knows nothing of paho, the render
loop or the display.
"""

from __future__ import annotations

from flask import Blueprint, Response

from bridge.deps import Limits
from bridge.looks_models import (
    LiveBody,
    PlaylistSaveBody,
    PresetSaveBody,
    ScheduleBody,
    look_name,
)
from bridge.models import validate_body
from bridge.web import add_routes, cached, deps, json_response, read_json, send_command


def _retained(name: str) -> Response:
    """A retained document as it is, with the engine's status; 503 until it was published."""
    resp = json_response(cached(name))
    resp.headers["X-Engine-Status"] = deps().link.engine_status()
    return resp


def presets() -> Response:
    """``GET /api/presets``: the retained ``presets`` list."""
    return _retained("presets")


def save_preset() -> Response:
    """``POST /api/presets``: store the look showing now, or the one given (cmd/preset)."""
    body = validate_body(PresetSaveBody, read_json())
    return send_command("preset", body.model_dump(exclude_none=True))


def apply_preset(name: str) -> Response:
    """``POST /api/presets/<name>/apply``: show a stored preset."""
    return send_command("preset", {"apply": look_name(name)})


def delete_preset(name: str) -> Response:
    """``DELETE /api/presets/<name>``: forget a stored preset."""
    return send_command("preset", {"delete": look_name(name)})


def playlists() -> Response:
    """``GET /api/playlists``: the retained ``playlists`` definitions."""
    return _retained("playlists")


def save_playlist() -> Response:
    """``POST /api/playlists``: store a playlist definition (cmd/playlist)."""
    body = validate_body(PlaylistSaveBody, read_json())
    return send_command("playlist", body.model_dump(exclude_none=True, exclude_unset=True))


def play_playlist(name: str) -> Response:
    """``POST /api/playlists/<name>/apply``: play a stored playlist from its first item."""
    return send_command("playlist", {"play": look_name(name)})


def delete_playlist(name: str) -> Response:
    """``DELETE /api/playlists/<name>``: forget a stored playlist (stops it if it plays)."""
    return send_command("playlist", {"delete": look_name(name)})


def step_next() -> Response:
    """``POST /api/playlist/next``: the playing playlist's next item."""
    return send_command("playlist", "next")


def step_previous() -> Response:
    """``POST /api/playlist/previous``: the playing playlist's previous item."""
    return send_command("playlist", "previous")


def step_stop() -> Response:
    """``POST /api/playlist/stop``: stop the playing playlist (the look stays)."""
    return send_command("playlist", "stop")


def schedule() -> Response:
    """``GET /api/schedule``: the retained ``schedule`` document."""
    return _retained("schedule")


def set_schedule() -> Response:
    """``POST /api/schedule``: ``{"enabled": false}`` pauses every window, ``true`` resumes."""
    return send_command("schedule", validate_body(ScheduleBody, read_json()).model_dump())


def set_live() -> Response:
    """``POST /api/live``: ``{"mode": "auto"|"ignore"}`` (cmd/live)."""
    return send_command("live", validate_body(LiveBody, read_json()).model_dump())


def blueprint(limits: Limits) -> Blueprint:
    """Return the routes: reads under the reads limit, commands under writes."""
    w, r = limits.writes, limits.reads
    return add_routes(Blueprint("api_looks", __name__), [
        ("GET", "/api/presets", presets, r),
        ("POST", "/api/presets", save_preset, w),
        ("POST", "/api/presets/<name>/apply", apply_preset, w),
        ("DELETE", "/api/presets/<name>", delete_preset, w),
        ("GET", "/api/playlists", playlists, r),
        ("POST", "/api/playlists", save_playlist, w),
        ("POST", "/api/playlists/<name>/apply", play_playlist, w),
        ("DELETE", "/api/playlists/<name>", delete_playlist, w),
        ("POST", "/api/playlist/next", step_next, w),
        ("POST", "/api/playlist/previous", step_previous, w),
        ("POST", "/api/playlist/stop", step_stop, w),
        ("GET", "/api/schedule", schedule, r),
        ("POST", "/api/schedule", set_schedule, w),
        ("POST", "/api/live", set_live, w),
    ])
