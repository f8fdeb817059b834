"""The engine process: composes settings, display, render loop, MQTT link and telemetry.

Owns start-up order, the command dispatch from MQTT into the engine (validation
at the edge, replies), live configuration changes (validate, apply, save, roll
back), signals and the clean stop. ``lightbox engine`` runs ``EngineService``.
"""

from __future__ import annotations

import json
import os
import platform
import queue
import signal
import socket
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import structlog

from animations import REGISTRY
from appliance import __version__
from appliance import settings as settings_mod
from appliance.display import Display, make_display
from appliance.mqtt.link import MQTTLink, Responder
from appliance.render.engine import ApplySettings, Engine, ReplyFn
from appliance.settings import EX_CONFIG, Settings, SettingsError, SettingsStore
from appliance.settings.form import RESTART_PREFIXES
from appliance.systemd import SystemdNotifier
from appliance.telemetry import ConfigStatus, SystemProbe, Telemetry, iso_now
from appliance.wire.commands import (
    ApplyConfig,
    CommandError,
    Invalid,
    Meta,
    Reload,
    Reply,
    parse_command,
    transaction_of,
)

log = structlog.get_logger("service")

CONTROL_QUEUE_SIZE = 64
HISTORY_PUBLISHED = 20
#: Public test hook: comma-separated modules imported at start-up, so that animations
#: living outside the product's package (e.g. tests/faults/evil_animations.py) register.
EXTRA_ANIMATIONS_ENV = "LIGHTBOX_EXTRA_ANIMATIONS"


def load_extra_animations() -> list[str]:
    """Import the modules named by $LIGHTBOX_EXTRA_ANIMATIONS; return those imported."""
    import importlib

    loaded = []
    for name in filter(None, (m.strip() for m in os.environ.get(EXTRA_ANIMATIONS_ENV, "")
                              .split(","))):
        try:
            importlib.import_module(name)
        except Exception as exc:  # a broken hook must not stop the appliance
            log.error("extra_animations_failed", module=name,
                      error=f"{type(exc).__name__}: {exc}")
            continue
        loaded.append(name)
    return loaded


def state_dir(settings_path: Path) -> Path:
    """Where runtime state lives: systemd's $STATE_DIRECTORY, else beside the settings."""
    env = os.environ.get("STATE_DIRECTORY")
    return Path(env.split(":")[0]) if env else settings_path.parent


class EngineService:
    """One engine process from start-up to clean stop."""

    def __init__(self, settings_path: Path, *, uncapped: bool = False,
                 display: Display | None = None) -> None:
        self.settings_path = settings_path
        self.store = SettingsStore(settings_path)
        self.uncapped = uncapped
        self._display_override = display
        self.stop_event = threading.Event()
        self.control: queue.Queue[tuple[ConfigCommand, ReplyFn | None]] = queue.Queue(
            CONTROL_QUEUE_SIZE)
        self.config_status = ConfigStatus()
        self.notifier = SystemdNotifier()
        self.settings: Settings
        #: The settings this process started with: restart_required is measured against them.
        self.started: Settings
        self.engine: Engine
        self.link: MQTTLink
        self.telemetry: Telemetry
        self.state_file: Path = state_dir(settings_path) / "state.json"
        self._saved_version = -1
        self.control_dropped = 0
        self._stop_requested_at: float | None = None
        self.memwatch: Any = None

    # ------------------------------------------------------------------ start-up
    def load_settings(self) -> Settings:
        """Load settings, falling back to the newest valid backup; exit 78 if neither works."""
        try:
            settings, source, error = self.store.load_with_fallback()
        except SettingsError as exc:
            if not self.settings_path.exists():
                log.warning("settings_missing", path=str(self.settings_path),
                            action="running with defaults")
                return Settings()
            for line in exc.lines():
                log.error("settings_invalid", path=str(self.settings_path), problem=line)
            log.error("settings_unusable", path=str(self.settings_path),
                      hint="fix the file (lightbox check-config) or restore a backup",
                      exit_code=EX_CONFIG)
            raise SystemExit(EX_CONFIG) from None
        self.config_status.source = source
        if error is not None:
            self.config_status.error = "; ".join(error.lines())[:300]
            for line in error.lines():
                log.error("settings_invalid", path=str(self.settings_path), problem=line)
            log.warning("settings_from_backup", backup=source)
        return settings

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; return the exit code."""
        from appliance import logs

        # Log set-up with defaults first, so that settings problems reach the journal as
        # JSON lines too (JSON when stdout is not a TTY); redone below with the settings.
        logs.configure("info", "auto", None, "engine")
        extra = load_extra_animations()
        self.settings = self.load_settings()
        self.started = self.settings
        cfg = self.settings
        logs.configure(cfg.logging.level, cfg.logging.format, cfg.logging.dir, "engine")
        if extra:
            log.warning("extra_animations_loaded", modules=extra,
                        hint=f"test hook ${EXTRA_ANIMATIONS_ENV} is set")
        removed = self.store.cleanup_temp()
        if removed:
            log.warning("settings_temp_removed", count=removed,
                        hint="a settings write was interrupted; the file itself is intact")
        from appliance.render import memwatch

        if memwatch.enabled():
            self.memwatch = memwatch.MemWatch()
            self.memwatch.start()
        display = self._display_override or make_display(cfg.display)
        self.engine = Engine(cfg, display, REGISTRY, publisher=None, notifier=self.notifier,
                             uncapped=self.uncapped, version=__version__)
        self.engine.on_settings_applied = self._settings_applied
        self.link = MQTTLink(cfg.mqtt, cfg.device_id, self._on_command, self._on_connected,
                             self._on_ha_online, self._on_retained_command)
        self.engine.publisher = self.link
        self.telemetry = Telemetry(
            snapshot=self._snapshot,
            mqtt_status=self.link.status,
            publish=lambda name, body: self.link.publish(name, body, retain=True),
            notify=self.notifier.notify,
            cfg=lambda: self.engine.settings.health,
            config_status=self.config_status,
            probe=SystemProbe(state_dir=self.state_file.parent),
            display_name=display.name,
            boot_time=iso_now(),
        )
        self.engine.start(self._load_state() if cfg.animation.boot == "last" else None)
        if cfg.display.drop_privileges and display.name != "rgbmatrix":
            # rgbmatrix drops root inside its own init; the others need none at all.
            from appliance.privileges import drop_to

            drop_to(cfg.display.drop_priv_user, cfg.display.drop_priv_group)
        self._install_signals()
        self.link.start()
        self.telemetry.start()
        threading.Thread(target=self._control_loop, name="control", daemon=True).start()
        threading.Thread(target=self._ready_when_drawing, name="ready", daemon=True).start()
        try:
            self.engine.run(self.stop_event)
        finally:
            self._stop()
        return 0

    def _snapshot(self) -> dict[str, Any]:
        """The engine's figures plus the link's and the service's own counters."""
        snap = self.engine.snapshot()
        snap["mqtt_publish_dropped_total"] = self.link.publish_dropped
        snap["mqtt_connect_attempts_total"] = self.link.connect_attempts
        snap["control_dropped_total"] = self.control_dropped
        if self.memwatch is not None:
            snap["tracemalloc_mb"] = self.memwatch.traced_mb()
        return snap

    def _ready_when_drawing(self) -> None:
        if self.engine.first_frame_done.wait(timeout=120):
            self.notifier.notify("READY=1")
            log.info("engine_ready", display=self.engine.display.name,
                     display_ok=self.engine.display_state.ok)

    def _install_signals(self) -> None:
        def stop(signum: int, frame: FrameType | None) -> None:
            if self._stop_requested_at is None:
                self._stop_requested_at = time.monotonic()
            self.stop_event.set()
            log.info("stop_requested", signal=signal.Signals(signum).name)

        def reload(signum: int, frame: FrameType | None) -> None:
            self._submit_control(Reload(meta=Meta(source="signal")), None)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, reload)

    def _stop(self) -> None:
        """Darken, say offline, tell systemd, disconnect (the panel is already dark)."""
        self.engine.shutdown()
        self.notifier.notify("STOPPING=1")
        self.telemetry.stop()
        self._save_state()
        self.link.stop()
        if self.memwatch is not None:
            self.memwatch.stop()
        since = self._stop_requested_at
        log.info("engine_exit", code=0,
                 stop_ms=round((time.monotonic() - since) * 1000, 1) if since else None)

    # ------------------------------------------------------------------ MQTT side
    def _on_connected(self) -> None:
        """Republish every retained topic after (re)connecting."""
        self.link.publish("animations", REGISTRY.catalogue(), retain=True)
        self.link.publish("info", self.info(), retain=True)
        self.link.publish("state", self.engine.state(), retain=True)
        self._publish_config()
        self.telemetry.publish_now()
        self._publish_discovery()
        if self.link.reconnects:
            self.engine.event("mqtt_reconnected", reconnects=self.link.reconnects)
        if self.link.connects == 1 and self.config_status.source != "file":
            # Said once the broker can hear it (an event before the first connect is lost).
            self.engine.event("config_rejected", source="file",
                              error=self.config_status.error, using=self.config_status.source)

    def _on_ha_online(self) -> None:
        self._publish_discovery()

    def _publish_discovery(self) -> None:
        """Publish Home Assistant discovery (provided by appliance.discovery)."""
        if not self.engine.settings.mqtt.discovery:
            return
        from appliance import discovery

        discovery.publish(self.link, self.engine.settings, REGISTRY.catalogue(), self.info())

    def info(self) -> dict[str, Any]:
        """Return the retained ``info`` document."""
        d = self.engine.display
        pw, ph = self.engine.preview_geometry()
        return {
            "device_id": self.settings.device_id,
            "version": __version__,
            "display": {"driver": d.name, "width": d.width, "height": d.height,
                        "rows": self.settings.display.rows, "cols": self.settings.display.cols,
                        "chain_length": self.settings.display.chain_length,
                        "parallel": self.settings.display.parallel},
            "preview": {"width": pw, "height": ph, "format": "rgb24"},
            "host": socket.gethostname(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        }

    def _on_retained_command(self, topic: str) -> None:
        self.engine.event("retained_command_ignored", topic=topic,
                          fix=f"clear it: mosquitto_pub -r -n -t '{topic}'")

    def _on_command(self, action: str, payload: bytes, responder: Responder) -> None:
        """Validate at the edge; queue valid commands; answer bad ones at once."""
        if responder.refusal is not None:
            # Checked before the payload: a reply must not go where the link refused it.
            err = CommandError("bad_response_topic", responder.refusal)
            self.engine.reject(Invalid(action, meta=Meta(transaction_of(payload))), err,
                               responder)
            return
        try:
            cmd = parse_command(action, payload, now=self.engine.clock.wall(),
                                source=responder.source)
        except CommandError as err:
            meta = Meta(transaction_of(payload), responder.source)
            self.engine.reject(Invalid(action, meta=meta), err, responder)
            return
        if isinstance(cmd, ApplyConfig | Reload):
            self._submit_control(cmd, responder)
        else:
            self.engine.submit(cmd, responder)

    def _submit_control(self, cmd: ConfigCommand, reply: ReplyFn | None) -> None:
        try:
            self.control.put_nowait((cmd, reply))
        except queue.Full:
            self.control_dropped += 1
            err = CommandError("busy", "too many configuration changes queued; try again")
            self.engine.reject(cmd, err, reply)

    # ------------------------------------------------------------------ configuration
    def _control_loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                cmd, reply = self.control.get(timeout=2.0)
            except queue.Empty:
                self._save_state_if_changed()
                continue
            try:
                self._handle_config(cmd, reply)
            except Exception as exc:  # a bug here must not kill configuration for good
                log.exception("config_handler_failed", error=str(exc))
                if reply is not None:
                    err = CommandError("internal", "configuration change failed")
                    reply(Reply(False, cmd.transaction, error=err).as_json())

    def _proposed(self, cmd: ConfigCommand, old: Settings) -> tuple[Settings, list[str]]:
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

    def _handle_config(self, cmd: ConfigCommand, reply: ReplyFn | None) -> None:
        old = self.engine.settings
        source = "file" if isinstance(cmd, Reload) else cmd.source
        try:
            new, kept = self._proposed(cmd, old)
        except SettingsError as exc:
            first = exc.problems[0][0] if exc.problems else None
            err = CommandError("invalid_settings", "; ".join(exc.lines()), first)
            self._config_rejected(cmd, err, reply)
            return
        except CommandError as err:
            self._config_rejected(cmd, err, reply)
            return
        changes = settings_mod.diff_paths(settings_mod.dump(old), settings_mod.dump(new))
        # Apply first (on the render loop, which also counts the command), then save;
        # roll back if saving fails.
        outcome = self._apply_and_wait(new)
        if outcome is not None and not outcome.get("ok"):
            self._config_rejected(cmd, CommandError(**_err_args(outcome)), reply)
            return
        if not changes and isinstance(cmd, ApplyConfig) and self._file_holds(new):
            # Nothing changed: no backup, no history row pushing real backups out.
            self._config_reply(cmd, reply, [], [], kept)
            return
        if isinstance(cmd, ApplyConfig):
            try:
                self.store.save(new, source=source, old=old)
            except OSError as exc:
                self._apply_and_wait(old)
                self._config_rejected(
                    cmd, CommandError("save_failed", f"settings could not be saved: {exc}"), reply)
                return
        restart = sorted({c["path"] for c in changes
                          if c["path"].startswith(RESTART_PREFIXES)})
        self.config_status.restart_required = restart_needed(self.started, new)
        self.config_status.last_change = iso_now()
        if isinstance(cmd, Reload):
            self.config_status.source = "file"
            self.config_status.error = None
        log.info("config_changed", source=source, changes=[c["path"] for c in changes],
                 restart_required=restart)
        self.engine.event("config_changed", source=source,
                           changes=[c["path"] for c in changes][:50],
                           restart_required=restart or None)
        self._publish_config()
        self._config_reply(cmd, reply, changes, restart, kept)

    def _file_holds(self, settings: Settings) -> bool:
        """Say whether the file on disk already holds exactly these settings."""
        try:
            on_disk = self.store.load()
        except SettingsError:
            return False
        return settings_mod.dump(on_disk) == settings_mod.dump(settings)

    def _config_reply(self, cmd: ConfigCommand, reply: ReplyFn | None,
                      changes: list[dict[str, Any]], restart: list[str], kept: list[str]) -> None:
        if reply is None:
            return
        replaced = isinstance(cmd, ApplyConfig) and cmd.replace
        reply(Reply(True, cmd.transaction, state=self.engine.state(), changes=tuple(changes),
                    restart_required=tuple(restart),
                    kept=tuple(kept) if replaced else None).as_json())

    def _apply_and_wait(self, new: Settings) -> dict[str, Any] | None:
        done = threading.Event()
        result: dict[str, Any] = {}

        def got(body: dict[str, Any]) -> None:
            result.update(body)
            done.set()

        self.engine.submit(ApplySettings(settings=new, meta=Meta(source="config")), got)
        if not done.wait(timeout=5.0):
            return {"ok": False, "error": {"code": "timeout",
                                           "message": "render loop did not apply the settings"}}
        return result

    def _config_rejected(self, cmd: ConfigCommand, err: CommandError,
                         reply: ReplyFn | None) -> None:
        log.warning("config_rejected", source=cmd.source, code=err.code, error=err.message)
        self.engine.event("config_rejected", source=cmd.source, code=err.code,
                          error=err.message[:500], field=err.field)
        self.engine.reject(cmd, err, reply)

    def _settings_applied(self, new: Settings) -> None:
        self.settings = new

    def _publish_config(self) -> None:
        self.link.publish("config", {
            "settings": settings_mod.redacted(self.engine.settings),
            "source": self.config_status.source,
            "path": str(self.settings_path),
            "last_change": self.config_status.last_change,
            "restart_required": self.config_status.restart_required,
            "history": self.store.history(HISTORY_PUBLISHED),
        }, retain=True)

    # ------------------------------------------------------------------ boot state
    def _load_state(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _save_state_if_changed(self) -> None:
        if self.engine.state_version != self._saved_version:
            self._save_state()

    def _save_state(self) -> None:
        st = self.engine.state()
        data = {"effect": st["effect"], "params": st["params"],
                "brightness": st["brightness"], "power_on": st["state"] == "ON"}
        try:
            settings_mod.atomic_write(self.state_file, settings_mod.to_json_bytes(data), 0o644)
            self._saved_version = self.engine.state_version
        except OSError as exc:
            log.warning("state_save_failed", path=str(self.state_file), error=str(exc))


#: The commands the control thread handles (settings changes), not the render loop.
ConfigCommand = ApplyConfig | Reload


def restart_needed(started: Settings, saved: Settings) -> list[str]:
    """Paths under RESTART_PREFIXES where the saved settings differ from those in force
    since start-up: empty again once a value is set back to the one the process runs with."""
    changes = settings_mod.diff_paths(settings_mod.dump(started), settings_mod.dump(saved))
    return sorted({c["path"] for c in changes if c["path"].startswith(RESTART_PREFIXES)})


def _err_args(outcome: dict[str, Any]) -> dict[str, Any]:
    e = outcome.get("error") or {}
    return {"code": e.get("code", "apply_failed"), "message": e.get("message", "apply failed"),
            "field": e.get("field")}
