"""Stored presets and playlists (contract section 8): limits, documents and their files.

Owns the in-memory library of presets (a named look) and playlist definitions, the
limits (100 of each), their retained documents (``<base>/presets``,
``<base>/playlists``) and their JSON files in the state folder (``presets.json``,
``playlists.json``): the format, the validation of a loaded file, and setting a
broken file aside (logged, never a crash). Knows no animation (whether one exists is
the render side's question), no render loop and no MQTT. Changed on the render
thread only; every change makes a new ``Published`` (a version and a document that
is never mutated), which other threads (the state timer) read whole.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import structlog
from pydantic import Field, ValidationError

from appliance.wire.errors import CommandError
from appliance.wire.look_commands import (
    MAX_PLAYLIST_ITEMS,
    MAX_PLAYLISTS,
    MAX_PRESETS,
    MAX_TRANSITION_S,
    Look,
    LookName,
    Playlist,
    PlaylistItem,
    PlaylistItemPayload,
)
from appliance.wire.payloads import PayloadModel

log = structlog.get_logger("library")

PRESETS_FILE = "presets.json"
PLAYLISTS_FILE = "playlists.json"
FORMAT = 1

Doc = list[dict[str, Any]]


@dataclass(frozen=True)
class Published:
    """One version of a retained document (never mutated once made)."""

    version: int
    doc: Doc = field(default_factory=list)


class StoredPreset(PayloadModel):
    """One preset as presets.json holds it."""

    name: LookName
    animation: Annotated[str, Field(min_length=1, max_length=64)]
    params: dict[str, Any] = Field(default_factory=dict)
    brightness: Annotated[int, Field(ge=1, le=100, strict=True)] | None = None


class StoredPlaylist(PayloadModel):
    """One playlist as playlists.json holds it."""

    name: LookName
    items: Annotated[list[PlaylistItemPayload], Field(min_length=1, max_length=MAX_PLAYLIST_ITEMS)]
    shuffle: bool = False
    repeat: bool = True
    transition_s: Annotated[float, Field(ge=0, le=MAX_TRANSITION_S)] = 1.0


def preset_json(name: str, look: Look) -> dict[str, Any]:
    """A preset as the retained document and the file show it."""
    return {"name": name, "animation": look.animation, "params": dict(look.params),
            "brightness": look.brightness}


def item_json(item: PlaylistItem) -> dict[str, Any]:
    """A playlist item as the retained document and the file show it."""
    if item.preset is not None:
        return {"preset": item.preset, "duration_s": item.duration_s}
    return {"animation": item.animation, "params": dict(item.params),
            "duration_s": item.duration_s}


def playlist_json(pl: Playlist) -> dict[str, Any]:
    """A playlist definition as the retained document and the file show it."""
    return {"name": pl.name, "items": [item_json(i) for i in pl.items],
            "shuffle": pl.shuffle, "repeat": pl.repeat, "transition_s": pl.transition_s}


class Library:
    """The presets and playlists, with their limits and published documents."""

    def __init__(self, presets: Iterable[tuple[str, Look]] = (),
                 playlists: Iterable[Playlist] = ()) -> None:
        self.presets: dict[str, Look] = dict(presets)
        self.playlists: dict[str, Playlist] = {p.name: p for p in playlists}
        self.presets_doc = Published(0, self._presets_doc())
        self.playlists_doc = Published(0, self._playlists_doc())

    def _presets_doc(self) -> Doc:
        return [preset_json(n, look) for n, look in self.presets.items()]

    def _playlists_doc(self) -> Doc:
        return [playlist_json(p) for p in self.playlists.values()]

    def mark_presets(self) -> None:
        """Publish a new presets document (after a change, or to have it written)."""
        self.presets_doc = Published(self.presets_doc.version + 1, self._presets_doc())

    def mark_playlists(self) -> None:
        """Publish a new playlists document (after a change, or to have it written)."""
        self.playlists_doc = Published(self.playlists_doc.version + 1, self._playlists_doc())

    # ------------------------------------------------------------------ presets
    def save_preset(self, name: str, look: Look) -> None:
        """Store (or overwrite) a preset; CommandError ``limit_reached`` past the limit."""
        if name not in self.presets and len(self.presets) >= MAX_PRESETS:
            raise CommandError("limit_reached", f"at most {MAX_PRESETS} presets: delete one "
                               "first, or save under an existing name", "save")
        self.presets[name] = look
        self.mark_presets()

    def delete_preset(self, name: str) -> None:
        """Forget a preset; CommandError ``unknown_preset`` when there is none."""
        if self.presets.pop(name, None) is None:
            raise CommandError("unknown_preset", f"no preset {name!r}{known(self.presets)}",
                               "delete")
        self.mark_presets()

    def preset(self, name: str, field_name: str) -> Look:
        """Return the preset ``name``, or raise CommandError naming ``field_name``."""
        look = self.presets.get(name)
        if look is None:
            raise CommandError("unknown_preset", f"no preset {name!r}{known(self.presets)}",
                               field_name)
        return look

    # ------------------------------------------------------------------ playlists
    def save_playlist(self, pl: Playlist) -> None:
        """Store (or overwrite) a playlist; CommandError ``limit_reached`` past the limit."""
        if pl.name not in self.playlists and len(self.playlists) >= MAX_PLAYLISTS:
            raise CommandError("limit_reached", f"at most {MAX_PLAYLISTS} playlists: delete "
                               "one first, or save under an existing name", "save")
        self.playlists[pl.name] = pl
        self.mark_playlists()

    def delete_playlist(self, name: str) -> None:
        """Forget a playlist; CommandError ``unknown_playlist`` when there is none."""
        if self.playlists.pop(name, None) is None:
            raise CommandError("unknown_playlist",
                               f"no playlist {name!r}{known(self.playlists)}", "delete")
        self.mark_playlists()

    def playlist(self, name: str, field_name: str) -> Playlist:
        """Return the playlist ``name``, or raise CommandError naming ``field_name``."""
        pl = self.playlists.get(name)
        if pl is None:
            raise CommandError("unknown_playlist",
                               f"no playlist {name!r}{known(self.playlists)}", field_name)
        return pl


def known(names: Iterable[str]) -> str:
    """``; saved: a, b`` (the first few names), or ``; none saved``."""
    listed = list(names)
    if not listed:
        return "; none saved"
    more = f" and {len(listed) - 10} more" if len(listed) > 10 else ""
    return "; saved: " + ", ".join(listed[:10]) + more


# ---------------------------------------------------------------------- files
def presets_bytes(doc: Doc) -> bytes:
    """presets.json's content for a presets document."""
    return (json.dumps({"format": FORMAT, "presets": doc}, indent=2) + "\n").encode()


def playlists_bytes(doc: Doc) -> bytes:
    """playlists.json's content for a playlists document."""
    return (json.dumps({"format": FORMAT, "playlists": doc}, indent=2) + "\n").encode()


def _to_playlist(m: StoredPlaylist) -> Playlist:
    items = tuple(PlaylistItem(i.duration_s, i.preset, i.animation, i.params or {})
                  for i in m.items)
    return Playlist(m.name, items, m.shuffle, m.repeat, m.transition_s)


def _entries(path: Path, key: str) -> tuple[list[Any], bool]:
    """The file's entries and whether the file is whole (False: set it aside)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return [], True
    except OSError as exc:
        log.error("library_unreadable", path=str(path), error=str(exc))
        return [], True  # cannot read it: leave it where it is for a person to look at
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse)
    except ValueError as exc:
        log.error("library_broken", path=str(path), error=f"not JSON: {exc}")
        return [], False
    entries = data.get(key) if isinstance(data, dict) else None
    if not isinstance(entries, list):
        log.error("library_broken", path=str(path), error=f"expected an object with {key!r}")
        return [], False
    return entries, True


def _refuse(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def set_aside(path: Path) -> Path | None:
    """Rename a broken file beside itself (``<name>.broken-<stamp>``); return the new path."""
    dest = path.with_name(f"{path.name}.broken-{time.strftime('%Y%m%dT%H%M%S')}")
    with contextlib.suppress(OSError):
        path.replace(dest)
        log.warning("library_set_aside", path=str(path), moved_to=str(dest))
        return dest
    return None


def _valid(model: type[PayloadModel], entries: list[Any], path: Path, limit: int
           ) -> tuple[list[Any], bool]:
    """The entries that validate (first of each name, up to ``limit``) and whether all did."""
    good: list[Any] = []
    names: set[str] = set()
    whole = True
    for n, entry in enumerate(entries):
        try:
            m = model.model_validate(entry)
        except ValidationError as exc:
            whole = False
            log.error("library_entry_invalid", path=str(path), index=n,
                      error=str(exc.errors()[0].get("msg")),
                      field=".".join(str(p) for p in exc.errors()[0].get("loc", ())))
            continue
        if m.name in names or len(good) >= limit:  # type: ignore[attr-defined]
            whole = False
            log.error("library_entry_invalid", path=str(path), index=n,
                      error="a second entry of that name, or over the limit")
            continue
        names.add(m.name)  # type: ignore[attr-defined]
        good.append(m)
    return good, whole


def load(folder: Path) -> Library:
    """Read presets.json and playlists.json from ``folder``.

    A file that is not JSON or not in the format is set aside and its part starts empty;
    invalid entries are dropped (each logged) and the file is set aside too, so the
    entries that loaded are written back soon (their document is marked changed).
    """
    ppath, lpath = folder / PRESETS_FILE, folder / PLAYLISTS_FILE
    raw_p, whole_p = _entries(ppath, "presets")
    raw_l, whole_l = _entries(lpath, "playlists")
    presets, ok_p = _valid(StoredPreset, raw_p, ppath, MAX_PRESETS)
    playlists, ok_l = _valid(StoredPlaylist, raw_l, lpath, MAX_PLAYLISTS)
    lib = Library(((m.name, Look(m.animation, m.params, m.brightness)) for m in presets),
                  (_to_playlist(m) for m in playlists))
    if not (whole_p and ok_p):
        set_aside(ppath)
        lib.mark_presets()
    if not (whole_l and ok_l):
        set_aside(lpath)
        lib.mark_playlists()
    log.info("library_loaded", presets=len(lib.presets), playlists=len(lib.playlists),
             folder=str(folder))
    return lib
