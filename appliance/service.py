"""The engine process: composes settings, display, render loop, MQTT link and telemetry.

Owns start-up order, the command dispatch from MQTT into the engine (validation
at the edge, replies), the state.json timer, signals and the clean stop. Live
configuration changes are ``appliance.config_service``'s, ``cmd/schedule`` and
the windows' timing ``appliance.scheduler``'s; the running settings are the
engine's alone. ``lightbox engine`` runs ``EngineService``.
"""

from __future__ import annotations

import gc
import os
import platform
import signal
import socket
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import structlog

from animations import REGISTRY
from appliance.config_service import ConfigService
from appliance.content import icons
from appliance.content import schedule as schedule_eval
from appliance.discovery_looks import LookWatch
from appliance.display import Display, make_display
from appliance.mqtt.link import MQTTLink, Responder
from appliance.mqtt.tls import tls_problems
from appliance.realtime_service import RealtimeService, make_receivers
from appliance.render.boot import apply_boot
from appliance.render.engine import Engine
from appliance.scheduler import Scheduler
from appliance.settings import EX_CONFIG, Settings, SettingsError, SettingsStore
from appliance.state_files import StateFiles
from appliance.system import SystemProbe
from appliance.systemd import SystemdNotifier
from appliance.telemetry import ConfigStatus, Telemetry, iso_now
from appliance.wire.commands import (
    ApplyConfig,
    CommandError,
    Invalid,
    Meta,
    Reload,
    parse_command,
    transaction_of,
)
from appliance.wire.look_commands import SetSchedule
from appliance.wire.replies import Reply

log = structlog.get_logger("service")

#: Seconds between checks whether state.json needs saving.
STATE_SAVE_S = 2.0
#: Seconds the services (MQTT, telemetry...) wait for the first frame before starting
#: anyway, and how long READY=1 waits for it at most.
SERVICES_WAIT_S = 10.0
READY_WAIT_S = 120.0
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
        self.config_status = ConfigStatus()
        self.notifier = SystemdNotifier()
        self.engine: Engine
        self.config: ConfigService
        self.link: MQTTLink
        self.telemetry: Telemetry
        self.scheduler: Scheduler
        self.realtime: RealtimeService
        #: state.json, presets.json and playlists.json (loaded at start, saved off the loop).
        self.files = StateFiles(state_dir(settings_path))
        self._stop_requested_at: float | None = None
        self.memwatch: Any = None
        #: Held while the services start and while the stop begins: never both at once.
        self._services_lock = threading.Lock()
        self._services_started = False

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
        cfg = self.load_settings()
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
        if self._tls_unusable(cfg):
            return EX_CONFIG
        display = self._display_override or make_display(cfg.display)
        self._compose(cfg, display)
        saved = self.files.load_state()
        library = self.engine.looks.library = self.files.load_library()  # before 1st frame
        # Discovery's selects know the names from the first connect: one publish at boot.
        self.look_watch.seed(library.presets_doc.doc, library.playlists_doc.doc)
        self.engine.start(saved if cfg.animation.boot == "last" else None)
        apply_boot(self.engine.looks, cfg.animation.boot, saved, self.engine.clock.monotonic())
        self.scheduler.start(self.stop_event)  # what is in force now, before the first frame
        if cfg.display.drop_privileges and display.name != "rgbmatrix":
            # rgbmatrix drops root inside its own init; the others need none at all.
            from appliance.privileges import drop_to

            drop_to(cfg.display.drop_priv_user, cfg.display.drop_priv_group)
        self._install_signals()
        # The first frame first: MQTT, realtime input, telemetry and the control thread start
        # once it is on the panel, which does not wait for their imports (paho, psutil).
        threading.Thread(target=self._ready_when_drawing, name="ready", daemon=True).start()
        try:
            self.engine.run(self.stop_event)
        finally:
            self._stop()
        return 0

    def _start_services(self) -> None:
        """Start what serves the broker and the machine (after the privilege drop); once."""
        with self._services_lock:
            if self._services_started or self.stop_event.is_set():
                return
            self._services_started = True
            self.link.start()
            self.realtime.start(self.engine.settings.realtime)  # after the privilege drop
            # and the link's start, so that a port in use is an event the broker gets
            self.telemetry.start()
            self.config.start(self.stop_event)
            threading.Thread(target=self._state_timer, name="state", daemon=True).start()

    def _tls_unusable(self, cfg: Settings) -> bool:
        """Log one line per unreadable ``mqtt.tls`` file (before the display starts)."""
        problems = tls_problems(cfg.mqtt.tls) if cfg.mqtt.tls else []
        for line in problems:
            log.error("settings_unusable", path=str(self.settings_path), problem=line,
                      hint="fix mqtt.tls in the settings file", exit_code=EX_CONFIG)
        return bool(problems)

    def _compose(self, cfg: Settings, display: Display) -> None:
        """Build the engine, its MQTT link, the config service and telemetry (no I/O yet)."""
        self.engine = Engine(cfg, display, REGISTRY, publisher=None, notifier=self.notifier,
                             uncapped=self.uncapped)
        self.link = MQTTLink(cfg.mqtt, cfg.device_id, self._on_command, self._on_connected,
                             self._on_ha_online, self._on_retained_command)
        # Seeing the engine's presets/playlists go by keeps the discovery selects' options
        # fresh (republished debounced, off the render thread).
        self.look_watch = LookWatch(self.link, self._publish_discovery)
        self.engine.publisher = self.look_watch
        self.realtime = RealtimeService(self.engine.live_input, self.engine.width,
                                        self.engine.height, self.engine.event,
                                        lambda: make_receivers(cfg.device_id))
        self.engine.live.on_realtime = self.realtime.request
        self.config = ConfigService(
            self.engine, self.store, self.settings_path, cfg, self.config_status,
            lambda name, body: self.link.publish(name, body, retain=True))
        self.scheduler = Scheduler(
            schedule_eval, lambda: self.engine.settings, self.engine.submit,
            lambda name, body: self.link.publish(name, body, retain=True), self.files.folder)
        self.telemetry = Telemetry(
            snapshot=self._snapshot,
            mqtt_status=self.link.status,
            publish=lambda name, body: self.link.publish(name, body, retain=True),
            notify=self.notifier.notify,
            cfg=lambda: self.engine.settings.health,
            config_status=self.config_status,
            probe=SystemProbe(state_dir=self.files.folder),
            display_name=display.name,
            boot_time=iso_now(),
        )

    def _snapshot(self) -> dict[str, Any]:
        """The engine's figures plus the link's and the service's own counters."""
        snap = self.engine.snapshot()
        snap["mqtt_publish_dropped_total"] = self.link.publish_dropped
        snap["mqtt_connect_attempts_total"] = self.link.connect_attempts
        snap["control_dropped_total"] = self.config.dropped
        snap["state_writes_total"] = self.files.writes
        if self.memwatch is not None:
            snap["tracemalloc_mb"] = self.memwatch.traced_mb()
        return snap

    def _ready_when_drawing(self) -> None:
        """Once the first frame is drawn: READY=1 and ``engine_ready``, the services, then
        ``gc.freeze()`` (a full collection in the frame loop then skips start-up's objects).

        A first frame that takes longer than SERVICES_WAIT_S (a display that hangs) starts
        the services anyway, so that the broker hears of the trouble.
        """
        first = self.engine.first_frame_done
        drawn = first.wait(timeout=SERVICES_WAIT_S)
        if drawn:
            self._ready()
        self._start_services()
        if not drawn and first.wait(timeout=READY_WAIT_S - SERVICES_WAIT_S):
            self._ready()
            drawn = True
        if drawn:
            gc.freeze()

    def _ready(self) -> None:
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
            self.config.reload()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, reload)

    def _stop(self) -> None:
        """Darken, say offline, tell systemd, disconnect (the panel is already dark)."""
        with self._services_lock:
            self.stop_event.set()  # services not started yet never start now
        self.engine.shutdown()
        self.realtime.stop()
        self.notifier.notify("STOPPING=1")
        self.telemetry.stop()
        self.look_watch.stop()
        self.files.flush(self.engine)
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
        self.engine.state_changed()  # sent by the render thread, never older than a change
        self.link.publish("icons", icons.names(), retain=True)
        self.engine.notices.republish()  # the render thread owns the document: it sends it
        self.scheduler.republish()
        self.engine.looks.republish()  # presets and playlists, likewise
        self.config.publish_config()
        self.telemetry.publish_now()
        self._publish_discovery()
        if self.link.reconnects:
            self.engine.event("mqtt_reconnected", reconnects=self.link.reconnects)
        if self.link.connects == 1 and self.config_status.source != "file":
            # Said once the broker can hear it (an event before the first connect is lost).
            self.engine.event("config_rejected", source="file",
                              error=self.config_status.error, using=self.config_status.source)

    def _on_ha_online(self) -> None:
        """Home Assistant (re)started: discovery again, and the availability and state it
        reads (a clustered broker may hold retained messages on one node only)."""
        self._publish_discovery()
        self.link.publish("status", "online", retain=True)
        self.engine.state_changed()

    def _publish_discovery(self) -> None:
        """Publish Home Assistant discovery (provided by appliance.discovery)."""
        if not self.engine.settings.mqtt.discovery:
            return
        from appliance import discovery

        names = self.look_watch.names()
        discovery.publish(self.link, self.engine.settings, REGISTRY.catalogue(), self.info(),
                          names)
        self.look_watch.published(names)

    def info(self) -> dict[str, Any]:
        """Return the retained ``info`` document."""
        from appliance import __version__  # read once, after the first frame (on connect)

        d = self.engine.display
        ds = self.engine.settings.display
        pw, ph = self.engine.preview_geometry()
        return {
            "device_id": self.engine.settings.device_id,
            "version": __version__,
            "display": {"driver": d.name, "width": d.width, "height": d.height,
                        "rows": ds.rows, "cols": ds.cols, "chain_length": ds.chain_length,
                        "parallel": ds.parallel},
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

        def answer(reply: Reply) -> None:
            responder(reply.as_json())  # the one place a reply becomes its JSON body

        if responder.refusal is not None:
            # Checked before the payload: a reply must not go where the link refused it.
            err = CommandError("bad_response_topic", responder.refusal)
            self.engine.reject(Invalid(action, meta=Meta(transaction_of(payload))), err,
                               answer)
            return
        try:
            cmd = parse_command(action, payload, now=self.engine.clock.wall(),
                                source=responder.source)
        except CommandError as err:
            meta = Meta(transaction_of(payload), responder.source)
            self.engine.reject(Invalid(action, meta=meta), err, answer)
            return
        if isinstance(cmd, ApplyConfig | Reload):
            self.config.submit(cmd, answer)
        elif isinstance(cmd, SetSchedule):
            self.scheduler.request(cmd, answer)
        else:
            self.engine.submit(cmd, answer)

    # ------------------------------------------------------------------ state files
    def _state_timer(self) -> None:
        """Save the state files shortly after they change (a playlist's own advance
        debounced) and notice a deleted playing image: disk work, never on the render loop."""
        while not self.stop_event.wait(STATE_SAVE_S):
            self.engine.watch_image()
            self.engine.looks.preload()
            self.files.tick(self.engine)
