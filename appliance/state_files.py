"""The engine's files in the state folder: state.json, presets.json, playlists.json.

Owns reading them at start (before the first frame), and deciding when to write
them, off the render thread: a hand-made change of the state within one timer
tick (the render thread only bumps ``Engine.state_version``), a playlist's own
advance at most every ``position_save_s`` (an SD card wears: a playlist of short
items must not write at every item), presets and playlists when their document's
version moves, everything that differs at a clean stop. Every write is atomic
(``settings.atomic_write``) and counted (``writes``). Knows nothing of MQTT; reads
the engine's documents, never changes them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from appliance import settings as settings_mod
from appliance.content import library
from appliance.content.library import Published

if TYPE_CHECKING:
    from appliance.render.engine import Engine

log = structlog.get_logger("service")

STATE_FILE = "state.json"
#: Seconds between two saves of a playlist position that changed by itself (not by hand).
POSITION_SAVE_S = 600.0

Write = Callable[[Path, bytes, int], None]


class StateFiles:
    """Loads and saves the engine's state files in one folder."""

    def __init__(self, folder: Path, *, clock: Callable[[], float] = time.monotonic,
                 write: Write = settings_mod.atomic_write,
                 position_save_s: float = POSITION_SAVE_S) -> None:
        self.folder = folder
        self.clock = clock
        self._write = write
        self.position_save_s = position_save_s
        #: Atomic writes done (the ``state_writes_total`` metric).
        self.writes = 0
        self._state_version = -1
        self._position_version = -1
        self._state_written_at: float | None = None
        self._presets_version = 0
        self._playlists_version = 0

    @property
    def state_file(self) -> Path:
        """state.json: the look, power, brightness, preset and playlist position."""
        return self.folder / STATE_FILE

    # ------------------------------------------------------------------ start
    def load_state(self) -> dict[str, Any] | None:
        """state.json's content, or None when it is missing or unreadable."""
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def load_library(self) -> library.Library:
        """The stored presets and playlists (a broken file is set aside, never fatal)."""
        lib = library.load(self.folder)
        # A loaded file is on disk already; a repaired one (version moved) is written soon.
        self._presets_version = 0
        self._playlists_version = 0
        return lib

    # ------------------------------------------------------------------ saving
    def tick(self, engine: Engine) -> None:
        """Write what changed since the last tick (the service's timer thread)."""
        self._save_library(engine)
        by_hand = engine.state_version != self._state_version
        moved = engine.looks.position_version != self._position_version
        last = self._state_written_at
        if by_hand or (moved and (last is None
                                  or self.clock() - last >= self.position_save_s)):
            self.save_state(engine)

    def flush(self, engine: Engine) -> None:
        """Write everything that differs from the files (a clean stop)."""
        self._save_library(engine)
        if (engine.state_version != self._state_version
                or engine.looks.position_version != self._position_version):
            self.save_state(engine)

    def save_state(self, engine: Engine) -> None:
        """Write state.json now."""
        version, position = engine.state_version, engine.looks.position_version
        st = engine.state()
        data = {"effect": st["effect"], "params": st["params"],
                "brightness": st["brightness"], "power_on": st["state"] == "ON",
                "preset": st["preset"], "playlist": engine.looks.position()}
        before = engine.schedule.underlying()
        if before is not None:  # under a window's power OFF: the power it covers
            data["power_on"] = before.power_on
        if self._save(self.state_file, settings_mod.to_json_bytes(data), 0o644):
            self._state_version, self._position_version = version, position
            self._state_written_at = self.clock()

    def _save_library(self, engine: Engine) -> None:
        lib = engine.looks.library
        presets: Published = lib.presets_doc
        if presets.version != self._presets_version and self._save(
                self.folder / library.PRESETS_FILE, library.presets_bytes(presets.doc), 0o644):
            self._presets_version = presets.version
        playlists: Published = lib.playlists_doc
        if playlists.version != self._playlists_version and self._save(
                self.folder / library.PLAYLISTS_FILE, library.playlists_bytes(playlists.doc),
                0o644):
            self._playlists_version = playlists.version

    def _save(self, path: Path, data: bytes, mode: int) -> bool:
        try:
            self._write(path, data, mode)
        except OSError as exc:
            log.warning("state_save_failed", path=str(path), error=str(exc))
            return False
        self.writes += 1
        return True
