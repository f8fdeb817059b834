"""The one store: atomic writes with fsync, and the settings file with backups and a log.

Owns ``atomic_write`` (temp file, fsync, rename, fsync of the folder), which every
file LightBox keeps goes through (settings.json, its backups and change log, the
image store, state.json), and ``SettingsStore``: the settings file, its timestamped
backups and its bounded change log. Knows no MQTT, displays, Flask nor animations.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appliance.settings.catalogue import BUILTIN, CatalogueArg
from appliance.settings.errors import SettingsError
from appliance.settings.files import dump, load, parse_bytes, to_json_bytes
from appliance.settings.merge import diff_paths
from appliance.settings.schema import Settings
from appliance.settings.trust import redact_changes

BACKUP_DIR_NAME = "backups"
BACKUPS_KEPT = 10
CHANGELOG_NAME = "changes.jsonl"
CHANGELOG_MAX_LINES = 1000


def fsync_dir(directory: Path) -> None:
    """Flush a folder's entries (a rename in it) to the disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o640) -> None:
    """Write ``data`` to ``path`` atomically: temp file, fsync, rename, fsync the folder."""
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, mode)
        os.replace(tmp, path)
        fsync_dir(directory)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class SettingsStore:
    """The settings file with its backups folder and change log.

    Backups live in ``<settings dir>/backups/`` as ``settings-<UTC stamp>.json``;
    the change log is ``<settings dir>/backups/changes.jsonl``.
    """

    def __init__(self, path: Path, keep: int = BACKUPS_KEPT,
                 catalogue: CatalogueArg = BUILTIN) -> None:
        self.path = path
        self.keep = keep
        #: What animation names and parameters are checked against (see ``validate``).
        self.catalogue = catalogue

    @property
    def backup_dir(self) -> Path:
        """Folder holding the timestamped backups and the change log."""
        return self.path.parent / BACKUP_DIR_NAME

    @property
    def changelog(self) -> Path:
        """The change log (JSON lines)."""
        return self.backup_dir / CHANGELOG_NAME

    def load(self) -> Settings:
        """Read and validate the settings file."""
        return load(self.path, self.catalogue)

    def load_with_fallback(self) -> tuple[Settings, str, SettingsError | None]:
        """Load the file, else the newest valid backup.

        Returns (settings, source, error): source is "file", "backup:<name>" or
        "defaults" (only when the file does not exist); error is the problem with
        the file when a backup was used. Raises SettingsError when nothing usable exists.
        """
        try:
            return self.load(), "file", None
        except SettingsError as exc:
            if not self.path.exists() and not self.backups():
                raise
            for backup in self.backups():
                try:
                    return load(backup, self.catalogue), f"backup:{backup.name}", exc
                except SettingsError:
                    continue
            raise

    def cleanup_temp(self, older_than_s: float = 60.0) -> int:
        """Remove temporary files of writes killed half-way (older than ``older_than_s``).

        Returns how many were removed. Younger ones may belong to a write in progress
        in another process, so they are left alone.
        """
        removed = 0
        cutoff = time.time() - older_than_s
        for folder in (self.path.parent, self.backup_dir):
            if not folder.is_dir():
                continue
            for tmp in folder.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    if tmp.stat().st_mtime < cutoff:
                        tmp.unlink()
                        removed += 1
        return removed

    def restore(self, raw: bytes, source: str) -> tuple[Settings, list[dict[str, Any]]]:
        """Validate a backup's bytes completely, then save them (with a backup of the current).

        Raises SettingsError, having written nothing, when the bytes are not valid settings.
        """
        new = parse_bytes(raw, "restore", self.catalogue)
        old: Settings | None = None
        with contextlib.suppress(SettingsError):
            old = self.load()
        return new, self.save(new, source=source, old=old)

    def backups(self) -> list[Path]:
        """Return backups, newest first."""
        if not self.backup_dir.is_dir():
            return []
        return sorted(self.backup_dir.glob("settings-*.json"), reverse=True)

    def _stamp(self) -> str:
        now = datetime.now(UTC)
        return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond:06d}Z"

    def backup_current(self) -> Path | None:
        """Copy the current file (if valid JSON on disk) into the backups folder."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        target = self.backup_dir / f"settings-{self._stamp()}.json"
        atomic_write(target, raw)
        for old in self.backups()[self.keep :]:
            with contextlib.suppress(OSError):
                old.unlink()
        return target

    def save(self, new: Settings, source: str, old: Settings | None = None) -> list[dict[str, Any]]:
        """Back up the current file, write ``new`` atomically and log the change.

        Returns the list of changed dotted paths.
        """
        new_data = dump(new)
        old_data = dump(old) if old is not None else _read_json(self.path)
        changes = diff_paths(old_data, new_data)
        self.backup_current()
        # Keep the file's mode: the installer makes it 0644 (it holds no secrets) so the
        # web bridge, which runs as another user, can still read it after a change.
        try:
            mode = self.path.stat().st_mode & 0o777
        except OSError:
            mode = 0o640
        atomic_write(self.path, to_json_bytes(new_data), mode)
        self.log_change(source, changes)
        return changes

    def log_change(self, source: str, changes: list[dict[str, Any]]) -> None:
        """Append one entry to the change log, keeping it bounded."""
        entry = {
            "ts": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": source,
            "changes": redact_changes(changes),
        }
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        lines = []
        if self.changelog.exists():
            lines = self.changelog.read_text(encoding="utf-8").splitlines()[
                -(CHANGELOG_MAX_LINES - 1) :
            ]
        lines.append(json.dumps(entry, default=str))
        atomic_write(self.changelog, ("\n".join(lines) + "\n").encode())

    def history(self, limit: int = 100) -> list[dict[str, Any]]:
        """Return the newest change-log entries first."""
        if not self.changelog.exists():
            return []
        out = []
        for line in reversed(self.changelog.read_text(encoding="utf-8").splitlines()):
            with contextlib.suppress(json.JSONDecodeError):
                out.append(json.loads(line))
            if len(out) >= limit:
                break
        return out



def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}

