"""The config service: live settings changes on their own control thread.

Owns ``cmd/config`` and ``cmd/reload`` (and SIGHUP): what a change would put in
force (local-only settings stay local), validation, applying it on the render
loop (``engine.call(ApplySettings(...))``, a future), saving it with a backup and
a history row, rolling the engine back when saving fails, the ``config`` document
and ``restart_required``. The running settings live in the engine alone. Knows
nothing of paho or displays; publishes through an injected callable.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from appliance import settings as settings_mod
from appliance.render.engine import ApplySettings, Engine
from appliance.render.loop import ReplyFn
from appliance.settings import Settings, SettingsError, SettingsStore
from appliance.settings.schema import RESTART_PREFIXES
from appliance.telemetry import ConfigStatus, iso_now
from appliance.wire.commands import ApplyConfig, CommandError, Meta, Reload
from appliance.wire.replies import Reply

log = structlog.get_logger("service")

CONTROL_QUEUE_SIZE = 64
HISTORY_PUBLISHED = 20
#: How long a change waits for the render loop to apply it.
APPLY_TIMEOUT_S = 5.0

#: The commands the control thread handles (settings changes), not the render loop.
ConfigCommand = ApplyConfig | Reload


class ConfigService:
    """Applies settings changes one at a time, off the render and MQTT threads."""

    def __init__(self, engine: Engine, store: SettingsStore, path: Path, started: Settings,
                 status: ConfigStatus, publish: Callable[[str, Any], None]) -> None:
        self.engine = engine
        self.store = store
        self.path = path
        #: The settings this process started with: restart_required is measured against them.
        self.started = started
        self.status = status
        self.publish = publish
        self.control: queue.Queue[tuple[ConfigCommand, ReplyFn | None]] = queue.Queue(
            CONTROL_QUEUE_SIZE)
        self.dropped = 0

    def start(self, stop: threading.Event) -> None:
        """Run the control thread until ``stop`` is set."""
        threading.Thread(target=self._loop, args=(stop,), name="control", daemon=True).start()

    def submit(self, cmd: ConfigCommand, reply: ReplyFn | None) -> None:
        """Queue a settings change (thread-safe); refuse it with ``busy`` when full."""
        try:
            self.control.put_nowait((cmd, reply))
        except queue.Full:
            self.dropped += 1
            err = CommandError("busy", "too many configuration changes queued; try again")
            self.engine.reject(cmd, err, reply)

    def reload(self) -> None:
        """Re-read settings.json (SIGHUP)."""
        self.submit(Reload(meta=Meta(source="signal")), None)

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                cmd, reply = self.control.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                self.handle(cmd, reply)
            except Exception as exc:  # a bug here must not kill configuration for good
                log.exception("config_handler_failed", error=str(exc))
                if reply is not None:
                    err = CommandError("internal", "configuration change failed")
                    reply(Reply(False, cmd.transaction, error=err))

    # ------------------------------------------------------------------ one change
    def proposed(self, cmd: ConfigCommand, old: Settings) -> tuple[Settings, list[str]]:
        """Return the settings a reload or a remote change would put in force, and the
        local-only paths a restore kept; raise CommandError/SettingsError for a bad one.

        Remote changes (``cmd/config``, whatever the topic form) never change a local-only
        setting: a patch that would is refused, a restore keeps the values in force.
        """
        if isinstance(cmd, Reload):
            return self.store.load(), []
        patch = dict(cmd.patch)
        replace = patch.pop("replace", False)
        if not isinstance(replace, bool):
            raise CommandError("invalid_value", "replace must be true or false", "replace")
        current = settings_mod.dump(old)
        if replace:
            doc, kept = settings_mod.keep_local_only(current, patch)
            return settings_mod.validate(doc), kept
        doc = settings_mod.merge(current, patch)
        forbidden = settings_mod.local_only_changes(current, doc)
        if forbidden:
            raise CommandError(
                "forbidden_field",
                f"{', '.join(forbidden)} can only be changed in settings.json on the box "
                "(then cmd/reload), not remotely", forbidden[0])
        return settings_mod.validate(doc), []

    def handle(self, cmd: ConfigCommand, reply: ReplyFn | None) -> None:
        """Validate, apply (on the render loop), save and announce one change."""
        old = self.engine.settings
        source = "file" if isinstance(cmd, Reload) else cmd.source
        try:
            new, kept = self.proposed(cmd, old)
        except SettingsError as exc:
            first = exc.problems[0][0] if exc.problems else None
            err = CommandError("invalid_settings", "; ".join(exc.lines()), first)
            self._rejected(cmd, err, reply)
            return
        except CommandError as err:
            self._rejected(cmd, err, reply)
            return
        changes = settings_mod.diff_paths(settings_mod.dump(old), settings_mod.dump(new))
        # Apply first (on the render loop, which also counts the command), then save;
        # roll back if saving fails.
        error = self.apply(new)
        if error is not None:
            self._rejected(cmd, error, reply)
            return
        if not changes and isinstance(cmd, ApplyConfig) and self._file_holds(new):
            # Nothing changed: no backup, no history row pushing real backups out.
            self._reply(cmd, reply, [], [], kept)
            return
        if isinstance(cmd, ApplyConfig):
            try:
                self.store.save(new, source=source, old=old)
            except OSError as exc:
                self.apply(old)
                self._rejected(
                    cmd, CommandError("save_failed", f"settings could not be saved: {exc}"), reply)
                return
        self._changed(cmd, source, new, changes)
        self._reply(cmd, reply, changes, restart_paths(changes), kept)

    def apply(self, new: Settings) -> CommandError | None:
        """Put ``new`` in force on the render loop; return why not, or None."""
        future = self.engine.call(ApplySettings(settings=new, meta=Meta(source="config")))
        try:
            reply = future.result(timeout=APPLY_TIMEOUT_S)
        except concurrent.futures.TimeoutError:
            return CommandError("timeout", "render loop did not apply the settings")
        return reply.error

    def _changed(self, cmd: ConfigCommand, source: str, new: Settings,
                 changes: list[dict[str, Any]]) -> None:
        restart = restart_paths(changes)
        self.status.restart_required = restart_needed(self.started, new)
        self.status.last_change = iso_now()
        if isinstance(cmd, Reload):
            self.status.source = "file"
            self.status.error = None
        log.info("config_changed", source=source, changes=[c["path"] for c in changes],
                 restart_required=restart)
        self.engine.event("config_changed", source=source,
                          changes=[c["path"] for c in changes][:50],
                          restart_required=restart or None)
        self.publish_config()

    def _file_holds(self, settings: Settings) -> bool:
        """Say whether the file on disk already holds exactly these settings."""
        try:
            on_disk = self.store.load()
        except SettingsError:
            return False
        return settings_mod.dump(on_disk) == settings_mod.dump(settings)

    def _reply(self, cmd: ConfigCommand, reply: ReplyFn | None,
               changes: list[dict[str, Any]], restart: list[str], kept: list[str]) -> None:
        if reply is None:
            return
        replaced = isinstance(cmd, ApplyConfig) and cmd.replace
        reply(Reply(True, cmd.transaction, state=self.engine.state(), changes=tuple(changes),
                    restart_required=tuple(restart),
                    kept=tuple(kept) if replaced else None))

    def _rejected(self, cmd: ConfigCommand, err: CommandError, reply: ReplyFn | None) -> None:
        log.warning("config_rejected", source=cmd.source, code=err.code, error=err.message)
        self.engine.event("config_rejected", source=cmd.source, code=err.code,
                          error=err.message[:500], field=err.field)
        self.engine.reject(cmd, err, reply)

    def publish_config(self) -> None:
        """Publish the retained ``config`` document (settings redacted, recent history)."""
        self.publish("config", {
            "settings": settings_mod.redacted(self.engine.settings),
            "source": self.status.source,
            "path": str(self.path),
            "last_change": self.status.last_change,
            "restart_required": self.status.restart_required,
            "history": self.store.history(HISTORY_PUBLISHED),
        })


def restart_paths(changes: list[dict[str, Any]]) -> list[str]:
    """The changed paths that only take effect after a restart."""
    return sorted({c["path"] for c in changes if c["path"].startswith(RESTART_PREFIXES)})


def restart_needed(started: Settings, saved: Settings) -> list[str]:
    """Paths under RESTART_PREFIXES where the saved settings differ from those in force
    since start-up: empty again once a value is set back to the one the process runs with."""
    return restart_paths(
        settings_mod.diff_paths(settings_mod.dump(started), settings_mod.dump(saved)))

