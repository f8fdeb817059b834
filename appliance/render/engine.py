"""The render engine: a façade that wires the render parts and applies commands between frames.

Owns the command dispatch (typed commands, all-or-nothing, state published
before replies), the settings in force (the one source of truth while running),
the retained ``state`` document and the metrics snapshot. The parts do the work:
``loop`` (pacing), ``compositor`` (layers -> the one choke point), ``supervisor``
(animation faults), ``panel`` (display, brightness, fades), ``events``. Knows
nothing of paho, topics or Flask: it publishes through an injected ``Publisher``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any, assert_never

import structlog

from animations import ParamError, Registry, UnknownAnimationError
from appliance.content.images import UnknownImageError
from appliance.display import Display
from appliance.render import report
from appliance.render.beacon import Beacon
from appliance.render.clock import Clock, RealClock
from appliance.render.compositor import BaseLayer, Compositor, DarkLayer
from appliance.render.events import EventLog, Notifier, NullNotifier, NullPublisher, Publisher
from appliance.render.factory import AnimationFactory, Preloaded
from appliance.render.frame import FrameGuard
from appliance.render.live_layer import LiveLayer
from appliance.render.live_settings import LiveSettings
from appliance.render.looks import Looks
from appliance.render.loop import CommandQueue, FrameLoop, Pending, ReplyFn
from appliance.render.notices import Notices
from appliance.render.own_commands import ApplySchedule, ApplySettings, EngineCommand, LeaveImage
from appliance.render.panel import DisplayState, Panel
from appliance.render.schedule_apply import ScheduleInForce
from appliance.render.stats import Counters, FrameStats
from appliance.render.supervisor import Supervisor
from appliance.settings import Settings
from appliance.wire.commands import (
    ApplyConfig,
    CommandError,
    Dismiss,
    Identify,
    Invalid,
    Notify,
    Preview,
    Reload,
    SetAnimation,
    SetBrightness,
    SetLight,
    SetParams,
    SetPower,
)
from appliance.wire.look_commands import (
    ApplyPreset,
    DeletePlaylist,
    DeletePreset,
    PlaylistCommand,
    PlayPlaylist,
    PresetCommand,
    SavePlaylist,
    SavePreset,
    SetLiveMode,
    SetSchedule,
    StepPlaylist,
)
from appliance.wire.replies import LightState, Reply

log = structlog.get_logger("engine")


class Engine:
    """Paces frames and owns the display state. Call ``start()``, then ``run(stop)``."""

    def __init__(
        self,
        settings: Settings,
        display: Display,
        registry: Registry,
        *,
        clock: Clock | None = None,
        publisher: Publisher | None = None,
        notifier: Notifier | None = None,
        uncapped: bool = False,
    ) -> None:
        self.settings = settings
        self.display = display
        self.registry = registry
        self.clock: Clock = clock or RealClock()
        self.notifier: Notifier = notifier or NullNotifier()
        self.uncapped = uncapped
        self.width = display.width
        self.height = display.height
        self.queue = CommandQueue()
        self.stats = FrameStats()
        self.counters = Counters()
        self.events = EventLog(self.clock, publisher or NullPublisher(),
                               settings.health.events_per_minute)
        self.panel = Panel(display, self.clock, self.counters, lambda: self.settings.display,
                           self.event, lambda name, body: self.publisher.publish(name, body))
        self.factory = AnimationFactory(registry, lambda: self.settings, self.clock,
                                        self.width, self.height)
        guard = FrameGuard(self.width, self.height)
        self.supervisor = Supervisor(self.factory, guard, self.clock, self.counters,
                                     lambda: self.settings.animation, self.frame_interval_s,
                                     self.event, self.state_changed)
        self.beacon = Beacon(self.width, self.height, self.event)  # identify, a light's flash
        self.live_input = LiveLayer(self.width, self.height, lambda: self.settings.realtime,
                                    self.event, self.state_changed)
        self.notices = Notices(self.width, self.height, self.clock, lambda: self.panel.power_on,
                               self.event, lambda name, body: self.publisher.publish(
                                   name, body, retain=True), self.state_changed,
                               lambda: self.settings.bridge.images_dir)
        # Layers above the base guard apart: the supervisor's guard keeps the last frame.
        self.compositor = Compositor(FrameGuard(self.width, self.height), [  # bottom to top
            BaseLayer(self.supervisor.draw), self.live_input,
            DarkLayer(self.width, self.height, self.panel.dark),
            self.notices.layer, self.beacon.layer])
        self.looks = Looks(registry, self.factory, self.supervisor, self.panel, self.state_changed,
                           publish=lambda name, body: self.publisher.publish(
                               name, body, retain=True), event=self.event)
        self.schedule = ScheduleInForce(self.looks, self.panel, self.state_changed, self.event)
        self.live = LiveSettings(registry, self.factory, self.supervisor, self.panel,
                                 lambda new: setattr(self, "settings", new))
        self.state_version = 0
        self.started_mono = self.clock.monotonic()
        self.last_frame_mono = self.started_mono
        self.first_frame_done = threading.Event()
        self.stopped = threading.Event()
        self._state_dirty = True
        self._last_watchdog = 0.0

    @property
    def publisher(self) -> Publisher:
        """Where state, events and previews go."""
        return self.events.publisher

    @publisher.setter
    def publisher(self, publisher: Publisher) -> None:
        self.events.publisher = publisher

    @property
    def display_state(self) -> DisplayState:
        """The display's health."""
        return self.panel.state

    # ------------------------------------------------------------------ lifecycle
    def start(self, initial: Mapping[str, Any] | None = None) -> None:
        """Initialise the display and the boot animation (``initial`` restores a saved state)."""
        self.panel.try_start()
        sup, panel = self.supervisor, self.panel
        sup.fallback = self.factory.make(self.settings.animation.fallback, {})
        name = self.settings.animation.default
        params: dict[str, Any] = {}
        if initial:
            panel.power_on = bool(initial.get("power_on", True))
            panel.brightness_pct = int(initial.get("brightness", panel.brightness_pct))
            if initial.get("effect") in self.registry:
                name = str(initial["effect"])
                params = dict(initial.get("params") or {})
        try:
            sup.requested = self.factory.make(name, params)
        except (ParamError, UnknownAnimationError, UnknownImageError) as exc:
            log.warning("boot_animation_invalid", animation=name, error=str(exc))
            sup.requested = self.factory.make_default()
        panel.apply_brightness()
        log.info("engine_started", width=self.width, height=self.height,
                 driver=self.display.name, animation=sup.requested.name,
                 fps=self.settings.display.fps, uncapped=self.uncapped)

    def submit(self, command: EngineCommand, reply: ReplyFn | None = None) -> None:
        """Queue a validated command for the render loop (thread-safe).

        An image the command will show (or a notification's icon) is read here, on the
        caller's thread.
        """
        try:
            icon = self.notices.resolve_icon(command) if isinstance(command, Notify) else None
        except CommandError as err:
            self.reject(command, err, reply)
            return
        self.queue.put(Pending(command, reply, preloaded=self._preload(command), icon=icon))

    def _preload(self, command: EngineCommand) -> Preloaded | None:
        if isinstance(command, SetAnimation):
            return self.factory.preload(command.name, command.params)
        if isinstance(command, SetLight):
            return self.factory.preload(command.effect, command.params)
        if isinstance(command, ApplyPreset):  # a dict read: safe off the render thread
            return self.looks.frames.for_preset(self.looks.library.presets.get(command.name))
        return None

    def call(self, command: EngineCommand) -> Future[Reply]:
        """Queue a command and return a future that the render loop resolves with its reply."""
        future: Future[Reply] = Future()
        self.queue.put(Pending(command, preloaded=self._preload(command), future=future))
        return future

    def watch_image(self) -> None:
        """Have the render loop leave a playing image whose file was deleted (thread-safe).

        Called from a timer thread (the service's), so the render loop never reads the
        disk; the engine owns what is shown, so it notices rather than being told.
        """
        image = self.factory.gone_image(self.supervisor.requested)
        if image is not None:
            self.queue.put(Pending(LeaveImage(image_id=image)))

    def reject(self, command: EngineCommand | Invalid, err: CommandError,
               reply: ReplyFn | None = None) -> None:
        """Queue a command that failed validation elsewhere, to be counted and answered.

        Going through the queue keeps every counter owned by the render thread.
        """
        self.queue.put(Pending(command, reply, err))

    def frame_interval_s(self) -> float:
        """Seconds between frames at the configured rate."""
        return 1.0 / self.settings.display.fps

    def run(self, stop: threading.Event, max_frames: int | None = None) -> None:
        """Render until ``stop`` is set (or ``max_frames`` frames), then darken the panel."""
        loop = FrameLoop(self.clock, self.stats, self.queue, lambda now: self.tick(now),
                         self._between_frames, self.frame_interval_s, self.uncapped)
        try:
            loop.run(stop, max_frames)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """Darken the panel and release it (idempotent)."""
        if self.stopped.is_set():
            return
        self.stopped.set()
        self.supervisor.retire_all()
        self.panel.stop()
        log.info("engine_stopped", frames_total=self.stats.frames_total)

    # ------------------------------------------------------------------ one frame
    def tick(self, now: float) -> None:
        """Apply queued commands and draw one frame."""
        self._apply_commands(now)
        self.notices.step(now)
        self.live_input.step(now)
        self.looks.step(now)
        self.supervisor.start_due(now)
        self.panel.step_fade(now)
        self.panel.show(self.compositor.render(now), now)
        self.last_frame_mono = now
        self._publish_state_if_dirty()
        if not self.first_frame_done.is_set():
            self.first_frame_done.set()
        self.supervisor.check_leak(now)
        if now - self._last_watchdog >= 1.0:
            self._last_watchdog = now
            self.notifier.notify("WATCHDOG=1")

    def _between_frames(self, now: float) -> None:
        self._apply_commands(now)
        self._publish_state_if_dirty()

    def state_changed(self) -> None:
        """Mark the retained state for a publish at the next frame (the only place that
        does; any thread may call it: the render thread alone sends ``state``)."""
        self._state_dirty = True

    def _publish_state_if_dirty(self) -> None:
        if self._state_dirty:
            self._state_dirty = False
            self.publisher.publish("state", self.state(), retain=True)

    # ------------------------------------------------------------------ commands
    def _apply_commands(self, now: float) -> None:
        items = self.queue.drain()
        if not items:
            return
        replies: list[tuple[Pending, CommandError | None, str | None]] = []
        for item in items:
            self.counters.commands_total += item.command.COUNTED
            error, note = item.error, None
            if error is None:
                assert not isinstance(item.command, Invalid)  # an Invalid always has its error
                try:
                    note = self._apply(item.command, now, item)
                except CommandError as exc:
                    error = exc
            if error is not None:
                self._rejected(item.command, error)
            replies.append((item, error, note))
        state = self.state() if any(e is None for _, e, _ in replies) else None
        # The retained state goes out before the replies, so whoever reads it after a
        # reply (the bridge answers GET /api/state from it) already sees the change.
        self._publish_state_if_dirty()
        for item, outcome, note in replies:
            txn = item.command.transaction
            item.answer(Reply(True, txn, state=state, notification=note) if outcome is None
                        else Reply(False, txn, error=outcome))

    def _rejected(self, command: EngineCommand | Invalid, err: CommandError) -> None:
        self.counters.commands_rejected_total += 1
        log.warning("command_rejected", action=command.action, code=err.code,
                    error=err.message, field=err.field, source=command.source)
        self.event("command_rejected", command=command.action, code=err.code,
                   error=err.message, field=err.field)

    def _apply(self, cmd: EngineCommand, now: float, item: Pending) -> str | None:
        """Apply one command completely or raise CommandError having changed nothing.

        Returns the id a notification got (None for every other command).
        """
        match cmd:
            case SetLight() | SetAnimation():
                self.looks.apply_light(cmd, now, item.preloaded)
                self.beacon.flash(cmd, now)  # over the rest of the command, once it holds
            case (SavePreset() | ApplyPreset() | DeletePreset() | SavePlaylist()
                  | PlayPlaylist() | DeletePlaylist() | StepPlaylist() | ApplySchedule()
                  | SetLiveMode()):
                if not self._apply_layers(cmd, now, item.preloaded):
                    return None  # in force already: the state did not change
            case SetBrightness() | SetPower():  # a plain command ends any transition at once
                self.looks.set_level(cmd)
            case SetParams(params=params):
                self.looks.set_params(params)
            case Identify() | Preview() | Notify() | Dismiss():
                return self._apply_aside(cmd, now, item)
            case ApplySettings(settings=new):
                self.live.apply(self.settings, new)
            case LeaveImage(image_id=image):
                if not self._leave_image(image, now):
                    return None  # something else was chosen meanwhile
            case ApplyConfig() | Reload() | SetSchedule():  # the services', never queued here
                raise CommandError("unknown_command", f"unknown command {cmd.action!r}")
            case _:
                assert_never(cmd)
        self.live_input.after_command(cmd)  # a hand-made look ends a stream's hold/blank
        self.state_version += 1
        self.state_changed()
        return None

    def _apply_layers(self, cmd: PresetCommand | PlaylistCommand | ApplySchedule | SetLiveMode,
                      now: float, preloaded: Preloaded | None) -> bool:
        """Presets and playlists (the looks), the schedule in force, the live layer's mode;
        False when the command changed nothing."""
        if isinstance(cmd, ApplySchedule):
            return self.schedule.apply(cmd, now)
        if isinstance(cmd, SetLiveMode):
            self.live_input.set_mode(cmd.mode)
        else:
            self.looks.apply(cmd, now, preloaded)
        return True

    def _apply_aside(self, cmd: Identify | Preview | Notify | Dismiss, now: float,
                     item: Pending) -> str | None:
        """Commands that change no state field themselves (a notification's id is in
        the state while it shows: the notices mark that change)."""
        if isinstance(cmd, Identify):
            self.beacon.identify(cmd, now)
        elif isinstance(cmd, Preview):
            self.panel.start_preview(cmd.fps, cmd.ttl_s, now)
        elif isinstance(cmd, Notify):
            return self.notices.notify(cmd, now, item.icon)
        else:
            self.notices.dismiss(cmd, now)
        return None

    def _leave_image(self, image: str, now: float) -> bool:
        req = self.supervisor.requested
        if req is None or self.factory.image_of(req.name, req.params) != image:
            return False
        active = self.factory.make_default()
        self.supervisor.install(active, now)
        log.warning("image_deleted", image=image, animation=active.name)
        self.event("image_deleted", image=image, animation=active.name)
        return True

    # ------------------------------------------------------------------ reporting
    def event(self, name: str, **fields: Any) -> None:
        """Publish an event, at most ``health.events_per_minute`` a minute (thread-safe)."""
        self.events(name, **fields)

    def preview_geometry(self) -> tuple[int, int]:
        """Return (width, height) of preview frames."""
        return self.panel.preview_geometry()

    def state(self) -> LightState:
        """Return the Home Assistant JSON-light state with LightBox extras."""
        return report.light_state(self.supervisor, self.panel,  # a playlist's advance counts
                                  self.state_version + self.looks.position_version,
                                  self.notices.showing(), self.looks.state_fields(),
                                  self.live_input.state())

    def snapshot(self) -> dict[str, Any]:
        """Return a consistent-enough copy of the loop's figures for telemetry."""
        return report.snapshot(self, self.clock.monotonic())
