"""Presets and playlists in the settings backup (contract section 8: "part of the backup").

Owns the two extra top-level keys of a backup file, ``presets`` and ``playlists``
(the retained documents as the engine publishes them), splitting them off an
uploaded backup and checking every entry (shape, names, limits, known animations)
before anything is sent, and replaying them as ``cmd/preset`` / ``cmd/playlist``
saves once the settings restore succeeded (presets first: playlists may name them).
A restore adds and overwrites; presets and playlists on the box that the backup does
not name are kept (a restore never deletes a look). Knows nothing of paho, Flask
routing, the render loop or the display.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from appliance.wire import jsonsafe
from appliance.wire.commands import CommandError, parse_command
from appliance.wire.look_commands import MAX_PLAYLISTS, MAX_PRESETS
from bridge.errors import ApiError
from bridge.ports import EngineLink, EngineOffline, EngineTimeout

#: The backup's keys beside the settings, and what each entry is replayed as.
KINDS: dict[str, tuple[str, int, frozenset[str]]] = {
    "presets": ("preset", MAX_PRESETS,
                frozenset({"name", "animation", "params", "brightness"})),
    "playlists": ("playlist", MAX_PLAYLISTS,
                  frozenset({"name", "items", "shuffle", "repeat", "transition_s"})),
}


@dataclass
class LookReplay:
    """The saves a restore replays, in order: ``(kind, name, action, payload)``."""

    saves: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)


def include(link: EngineLink) -> dict[str, Any]:
    """Return ``{"presets": [...], "playlists": [...]}`` from the retained topics seen."""
    out: dict[str, Any] = {}
    for kind in KINDS:
        value = link.value(kind)
        if isinstance(value, list):
            out[kind] = value
    return out


def split(body: dict[str, Any], catalogue: set[str] | None) -> tuple[dict[str, Any], LookReplay]:
    """Return the settings part of a backup and its checked looks, or raise a 422 ApiError."""
    settings = {k: v for k, v in body.items() if k not in KINDS}
    replay = LookReplay()
    for kind, (action, limit, keys) in KINDS.items():
        entries = body.get(kind)
        if entries is None:
            continue
        if not isinstance(entries, list) or len(entries) > limit:
            raise _bad(kind, f"{kind} must be a list of at most {limit}")
        seen: set[str] = set()
        for i, entry in enumerate(entries):
            where = f"{kind}.{i}"
            name, payload = _entry(where, entry, keys)
            if name in seen:
                raise _bad(f"{where}.name", f"{name!r} is in the backup twice")
            seen.add(name)
            _check_animations(where, entry, catalogue)
            _check_wire(where, action, payload)
            replay.saves.append((kind, name, action, payload))
    return settings, replay


def replay(link: EngineLink, looks: LookReplay) -> dict[str, Any]:
    """Send every save; return what was saved and what the engine refused (never raises)."""
    saved: dict[str, list[str]] = {kind: [] for kind in KINDS}
    failed: list[dict[str, Any]] = []
    for kind, name, action, payload in looks.saves:
        try:
            reply = link.request(action, payload)
        except (EngineOffline, EngineTimeout) as exc:
            failed.append({"kind": kind, "name": name,
                           "error": {"code": "engine_unavailable", "message": str(exc)}})
            continue
        if reply.get("ok") is True:
            saved[kind].append(name)
        else:
            failed.append({"kind": kind, "name": name, "error": reply.get("error")})
    return {"saved": saved, "failed": failed}


def _entry(where: str, entry: Any, keys: frozenset[str]) -> tuple[str, dict[str, Any]]:
    """The save payload of one backup entry (``name`` becomes ``save``)."""
    if not isinstance(entry, dict):
        raise _bad(where, "each entry is a JSON object")
    unknown = sorted(set(entry) - keys)
    if unknown:
        raise _bad(f"{where}.{unknown[0]}", f"unknown key {unknown[0]!r}")
    name = entry.get("name")
    if not isinstance(name, str):
        raise _bad(f"{where}.name", "a name is required")
    payload = {"save": name, **{k: v for k, v in entry.items()
                                if k != "name" and v is not None}}
    return name, payload


def _check_animations(where: str, entry: dict[str, Any], catalogue: set[str] | None) -> None:
    """Refuse animations the engine's catalogue does not have (when it is known)."""
    if catalogue is None:
        return
    named = [(f"{where}.animation", entry.get("animation"))]
    items = entry.get("items")
    if isinstance(items, list):
        named += [(f"{where}.items.{j}.animation", it.get("animation"))
                  for j, it in enumerate(items) if isinstance(it, dict)]
    for path, animation in named:
        if isinstance(animation, str) and animation not in catalogue:
            raise _bad(path, f"no animation named {animation!r}")


def _check_wire(where: str, action: str, payload: dict[str, Any]) -> None:
    """Validate like the engine's parser; name the field as the backup spells it."""
    try:
        parse_command(action, jsonsafe.dumps(payload).encode())
    except CommandError as err:
        path = where if err.field is None else \
            f"{where}.{'name' if err.field == 'save' else err.field}"
        raise _bad(path, err.message) from None


def _bad(path: str, message: str) -> ApiError:
    return ApiError(422, "invalid_settings", f"{path}: {message}",
                    {"problems": [{"field": path, "message": message}]}, field=path)
