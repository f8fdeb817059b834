"""The render engine: the loop that paces frames, applies commands and survives faults.

Owns the display state (power, brightness, animation, parameters), the frame
pacing, the colour choke point call, animation failure handling (fallback and
quarantine) and display recovery. Commands arrive already validated through a
bounded, thread-safe queue and are applied between frames. Knows nothing of
paho, topics or Flask: it publishes through an injected ``Publisher``.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, assert_never

import numpy as np
import structlog

from animations import Animation, ParamError, Registry, UnknownAnimationError
from animations.base import params_to_json
from appliance.content.images import ImageStore, UnknownImageError, limits_from, resolve_dir
from appliance.display import Display, DisplayError
from appliance.render.clock import Clock, RealClock
from appliance.render.frame import FrameError, FrameGuard
from appliance.render.sandbox import AnimationHang, DrawWorker, Sandbox
from appliance.settings import Settings
from appliance.wire.commands import (
    ApplyConfig,
    BaseCommand,
    Command,
    CommandError,
    Identify,
    Invalid,
    LightState,
    Preview,
    Reload,
    Reply,
    SetAnimation,
    SetBrightness,
    SetLight,
    SetParams,
    SetPower,
)

log = structlog.get_logger("engine")

ReplyFn = Callable[[dict[str, Any]], None]
COMMAND_QUEUE_SIZE = 1024
FRAME_WINDOW = 512
PREVIEW_MAX_WIDTH = 128
WAIT_SLICE_S = 0.05
#: Frames an isolated animation that is late may hold its last frame before the fallback
#: draws instead (the longest visible freeze while a hang is being established).
LATE_HOLD_FRAMES = 2
#: Share of a frame interval the loop waits for an isolated animation's draw().
ISOLATED_WAIT_FRACTION = 0.5
#: Seconds between checks of resident memory for leaking animations.
LEAK_CHECK_S = 1.0


class _Late:
    """Marker: an isolated animation's draw() has not returned yet (not a failure yet)."""


LATE = _Late()


class AnimationLeak(Exception):
    """Resident memory grew past animation.leak_mb while one animation ran."""


def _rss_mb() -> float:
    """Resident memory of this process in MB (Linux /proc; 0.0 elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * _PAGE / 1_048_576


try:
    import os as _os

    _PAGE = _os.sysconf("SC_PAGE_SIZE")
except (ValueError, OSError, AttributeError):
    _PAGE = 4096


class Publisher(Protocol):
    """Where the engine sends what it publishes (the MQTT link, or a fake)."""

    def publish(self, name: str, payload: Any, *, retain: bool = False) -> None:
        """Publish ``payload`` on ``<base>/<name>``."""


class Notifier(Protocol):
    """systemd notifications (sdnotify, or a fake)."""

    def notify(self, message: str) -> None:
        """Send one sd_notify message such as READY=1."""


class NullPublisher:
    """Publishes nowhere (for benchmarks and tests that do not look)."""

    def publish(self, name: str, payload: Any, *, retain: bool = False) -> None:
        """Drop the message."""


class NullNotifier:
    """Notifies nobody."""

    def notify(self, message: str) -> None:
        """Drop the message."""


@dataclass(frozen=True)
class ApplySettings(BaseCommand):
    """Put validated settings in force (from the config service; never from the wire)."""

    ACTION: ClassVar[str] = "apply_settings"
    settings: Settings


#: What the render loop applies: every wire command plus the config service's own.
EngineCommand = Command | ApplySettings


@dataclass
class Pending:
    """A command waiting for the render loop, with the way to answer it."""

    command: EngineCommand | Invalid
    reply: ReplyFn | None = None
    #: Set when the command was rejected at the edge: the loop only counts and answers it.
    error: CommandError | None = None


class CommandQueue:
    """A bounded queue that keeps the newest commands.

    When full, the oldest command is dropped (later commands supersede earlier
    ones, so the last value always wins); its sender is told ``superseded``.
    """

    def __init__(self, maxlen: int = COMMAND_QUEUE_SIZE) -> None:
        self._items: deque[Pending] = deque()
        self._maxlen = maxlen
        self._lock = threading.Lock()
        self.dropped = 0
        #: Set while commands wait: lets the render loop answer between frames at once.
        self.arrived = threading.Event()

    def put(self, item: Pending) -> None:
        """Add a command, dropping the oldest when full."""
        dropped: Pending | None = None
        with self._lock:
            if len(self._items) >= self._maxlen:
                dropped = self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self.arrived.set()
        if dropped is not None and dropped.reply is not None:
            err = CommandError("superseded", "a newer command replaced this one before it ran")
            dropped.reply(Reply(False, dropped.command.transaction, error=err).as_json())

    def drain(self) -> list[Pending]:
        """Take every queued command, oldest first."""
        with self._lock:
            self.arrived.clear()
            if not self._items:
                return []
            items = list(self._items)
            self._items.clear()
            return items

    def __len__(self) -> int:
        return len(self._items)


class FrameStats:
    """Frame timing over a fixed window (no allocation per frame)."""

    def __init__(self, window: int = FRAME_WINDOW) -> None:
        self.frame_ms = np.zeros(window, np.float64)
        self.stamps = np.zeros(window, np.float64)
        self.index = 0
        self.frames_total = 0
        self.frames_dropped = 0
        #: Largest time between two frame starts since start-up, and how many were > 100 ms.
        self.gap_max_s = 0.0
        self.gaps_over_100ms = 0
        self.last_gap_s = 0.0
        self._last_stamp = 0.0

    def record(self, stamp: float, frame_ms: float) -> None:
        """Record one frame's start time and cost."""
        i = self.index
        self.frame_ms[i] = frame_ms
        self.stamps[i] = stamp
        self.index = (i + 1) % len(self.frame_ms)
        if self.frames_total:
            gap = stamp - self._last_stamp
            self.last_gap_s = gap
            if gap > self.gap_max_s:
                self.gap_max_s = gap
            if gap > 0.1:
                self.gaps_over_100ms += 1
        self._last_stamp = stamp
        self.frames_total += 1

    def recent_gap_ms(self) -> float:
        """Largest time between two frame starts within the window (copying)."""
        n = min(self.frames_total, len(self.stamps))
        if n < 2:
            return 0.0
        if self.frames_total > len(self.stamps):
            stamps = np.concatenate((self.stamps[self.index:], self.stamps[:self.index]))
        else:
            stamps = self.stamps[:n].copy()
        return round(float(np.diff(stamps).max()) * 1000.0, 1)

    def summary(self, now: float, window_s: float = 5.0) -> dict[str, float]:
        """Return fps over the last ``window_s`` and frame-time percentiles (copying)."""
        n = min(self.frames_total, len(self.frame_ms))
        if n == 0:
            return {"fps": 0.0, "frame_ms_p50": 0.0, "frame_ms_p99": 0.0}
        ms = self.frame_ms[:n].copy()
        stamps = self.stamps[:n].copy()
        recent = stamps[stamps >= now - window_s]
        if len(recent) >= 2:
            span = max(now - float(recent.min()), 1e-9)
            # A full ring spanning under 0.5 s is an uncapped loop, not a stalled one.
            fps = len(recent) / span if span >= 0.5 or len(recent) == len(ms) else 0.0
        else:
            fps = 0.0
        return {
            "fps": round(fps, 2),
            "frame_ms_p50": round(float(np.percentile(ms, 50)), 3),
            "frame_ms_p99": round(float(np.percentile(ms, 99)), 3),
        }


@dataclass
class ActiveAnimation:
    """The animation on screen: its instance, its clock anchor and its parameters."""

    name: str
    instance: Animation
    params: dict[str, Any]
    anchor: float  # monotonic time at which t == 0
    scheduled: bool = False  # True when a fleet start_at holds it back until ``anchor``
    #: The thread its draw() runs on when isolated (see appliance.render.sandbox).
    worker: DrawWorker | None = None


@dataclass
class Counters:
    """Everything the engine counts for metrics."""

    animation_errors_total: int = 0
    recoveries_total: int = 0
    commands_total: int = 0
    commands_rejected_total: int = 0
    display_errors_total: int = 0
    events_suppressed_total: int = 0
    fallbacks_total: int = 0
    fallback_failures_total: int = 0
    quarantines_total: int = 0
    animation_hangs_total: int = 0
    animation_late_frames_total: int = 0
    animation_leaks_total: int = 0


@dataclass
class DisplayState:
    """Display health as the render loop sees it."""

    ok: bool = False
    last_error: str | None = None
    retry_at: float = 0.0
    retry_delay_s: float = 0.0
    failures: int = 0
    since: float = 0.0


@dataclass
class FailureRecord:
    """Recent failures of one animation (bounded)."""

    stamps: deque[float] = field(default_factory=lambda: deque(maxlen=100))
    quarantined_until: float = 0.0
    last_error: str = ""


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
        version: str = "0",
    ) -> None:
        self.settings = settings
        self.display = display
        self.registry = registry
        self.clock: Clock = clock or RealClock()
        self.publisher: Publisher = publisher or NullPublisher()
        self.notifier: Notifier = notifier or NullNotifier()
        self.uncapped = uncapped
        self.version = version
        self.width = display.width
        self.height = display.height
        self.guard = FrameGuard(self.width, self.height)
        self.queue = CommandQueue()
        self.stats = FrameStats()
        self.counters = Counters()
        self.display_state = DisplayState()
        #: Keyed by registered animation names only, so bounded by the registry.
        self.failures: dict[str, FailureRecord] = {}
        self.sandbox = Sandbox()
        self._late_streak = 0
        self._guard_holds: ActiveAnimation | None = None  # whose frame the guard buffer holds
        self._leak_base: tuple[ActiveAnimation | None, float] = (None, 0.0)
        self._next_leak_check = 0.0
        self.events: deque[dict[str, Any]] = deque(maxlen=100)
        #: Recent events pushed out of ``events`` (the buffer keeps the newest 100).
        self.events_dropped = 0
        self._event_times: deque[float] = deque(maxlen=settings.health.events_per_minute)
        self._event_lock = threading.Lock()
        self._black = np.zeros((self.height, self.width, 3), np.uint8)
        self._identify = np.zeros((self.height, self.width, 3), np.uint8)
        # Display state (what `state` publishes).
        self.power_on = True
        self.brightness_pct = settings.display.brightness
        self.state_version = 0
        self.requested: ActiveAnimation | None = None
        self.fallback: ActiveAnimation | None = None
        self.pending: ActiveAnimation | None = None
        self.showing_fallback = False
        self.fallback_reason: str | None = None
        self.identify_until = 0.0
        #: A Home Assistant ``transition``: (from level, to level, start, seconds), levels
        #: in percent of full output where 0 is dark; None when not fading.
        self.fade: tuple[float, float, float, float] | None = None
        self._shown_level = -1
        self.preview_until = 0.0
        self.preview_interval_s = 0.2
        self.next_preview = 0.0
        self.started_mono = self.clock.monotonic()
        self.started_wall = self.clock.wall()
        self.last_frame_mono = self.started_mono
        self.first_frame_done = threading.Event()
        self.stopped = threading.Event()
        self._state_dirty = True
        self._last_watchdog = 0.0
        self.on_settings_applied: Callable[[Settings], None] | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, initial: dict[str, Any] | None = None) -> None:
        """Initialise the display and the boot animation (``initial`` restores a saved state)."""
        self._try_start_display()
        self.fallback = self._make(self.settings.animation.fallback, {})
        name = self.settings.animation.default
        params: dict[str, Any] = {}
        if initial:
            self.power_on = bool(initial.get("power_on", True))
            self.brightness_pct = int(initial.get("brightness", self.brightness_pct))
            if initial.get("effect") in self.registry:
                name = str(initial["effect"])
                params = dict(initial.get("params") or {})
        try:
            self.requested = self._make(name, params)
        except (ParamError, UnknownAnimationError) as exc:
            log.warning("boot_animation_invalid", animation=name, error=str(exc))
            self.requested = self._make(self.settings.animation.default, {})
        self._apply_brightness()
        log.info("engine_started", width=self.width, height=self.height,
                 driver=self.display.name, animation=self.requested.name,
                 fps=self.settings.display.fps, uncapped=self.uncapped)

    def _make(self, name: str, params: dict[str, Any]) -> ActiveAnimation:
        """Create an animation with params: defaults < settings params < ``params``."""
        base = self.settings.animation.params.get(name, {})
        resolved = self.registry.resolve_params(name, params, base=base)
        cls = self.registry.get(name)
        inst = cls(self.width, self.height, resolved, seed=0)
        frames_param = getattr(cls, "frames_param", None)
        if frames_param and resolved.get(frames_param):
            # Animations do no file I/O: frames of a stored image are loaded here.
            bridge = self.settings.bridge  # the same limits as the uploads had
            store = ImageStore(resolve_dir(bridge.images_dir), limits_from(bridge))
            frames = store.frames(resolved[frames_param], self.width, self.height)
            inst.set_frames(*frames)  # type: ignore[attr-defined]
        inst.epoch_at_t0 = self.clock.wall()
        return ActiveAnimation(name, inst, resolved, self.clock.monotonic())

    def submit(self, command: EngineCommand, reply: ReplyFn | None = None) -> None:
        """Queue a validated command for the render loop (thread-safe)."""
        self.queue.put(Pending(command, reply))

    def frame_interval_s(self) -> float:
        """Seconds between frames at the configured rate."""
        return 1.0 / self.settings.display.fps

    def run(self, stop: threading.Event, max_frames: int | None = None) -> None:
        """Render until ``stop`` is set (or ``max_frames`` frames), then darken the panel."""
        clock = self.clock
        next_at = clock.monotonic()
        frames = 0
        last_cost_ms = 0.0
        try:
            while not stop.is_set():
                interval = self.frame_interval_s()
                start = clock.monotonic()
                self.tick(start)
                end = clock.monotonic()
                gaps = self.stats.gaps_over_100ms
                self.stats.record(start, (end - start) * 1000.0)
                if self.stats.gaps_over_100ms != gaps:
                    self._log_gap(last_cost_ms)
                last_cost_ms = (end - start) * 1000.0
                frames += 1
                if max_frames is not None and frames >= max_frames:
                    break
                if self.uncapped:
                    next_at = end
                    continue
                next_at += interval
                delay = next_at - end
                if delay < 0:
                    # Late: count the frame slots we missed and re-anchor (no catch-up burst).
                    missed = int(-delay // interval) + 1
                    self.stats.frames_dropped += missed
                    next_at = end
                    delay = 0.0
                if self._wait_for_frame(next_at, stop):
                    break
        finally:
            self.shutdown()

    def _log_gap(self, frame_ms: float) -> None:
        """The journal line that explains a visible stutter.

        ``frame_ms`` is the cost of the frame before the gap: large means a slow
        (or blocked) frame; small means the loop woke late for the next one
        (``wait_ms``: the planned wait plus however late the OS scheduled it).
        """
        gap_ms = self.stats.last_gap_s * 1000.0
        log.warning("frame_gap", gap_ms=round(gap_ms, 1), frame_ms=round(frame_ms, 1),
                    wait_ms=round(gap_ms - frame_ms, 1), frames_total=self.stats.frames_total)

    def _wait_for_frame(self, next_at: float, stop: threading.Event) -> bool:
        """Sleep until ``next_at``, applying commands the moment they arrive.

        A command is answered (and its state published) between frames without
        waiting for the next frame, so command latency is the broker round trip,
        not up to a frame period more. Returns True when ``stop`` was set.
        """
        clock = self.clock
        answered = False
        while not stop.is_set():
            delay = next_at - clock.monotonic()
            if delay <= 0:
                return False
            # At most one early answer per frame: under a flood of commands, waking for
            # each one turned into a state publish per command, starving the frames and
            # overflowing paho's queue (the final state was dropped). Later arrivals wait
            # for the frame and are applied together.
            event = stop if answered else self.queue.arrived
            # Short slices keep a stop request prompt without a second event to wait on.
            if clock.sleep(min(delay, WAIT_SLICE_S), event) and not stop.is_set():
                self._apply_commands(clock.monotonic())
                self._publish_state_if_dirty()
                answered = True
        return True

    def shutdown(self) -> None:
        """Darken the panel and release it (idempotent)."""
        if self.stopped.is_set():
            return
        self.stopped.set()
        for active in (self.requested, self.fallback, self.pending):
            if active is not None and active.worker is not None:
                self.sandbox.retire(active.worker)
                active.worker = None
        try:
            self.display.stop()
        except Exception as exc:  # the panel may already be gone; stopping must go on
            log.warning("display_stop_failed", error=str(exc))
        log.info("engine_stopped", frames_total=self.stats.frames_total)

    # ------------------------------------------------------------------ one frame
    def tick(self, now: float) -> None:
        """Apply queued commands and draw one frame."""
        self._apply_commands(now)
        if self.pending is not None and now >= self.pending.anchor:
            self._switch_to(self.pending)
            self.pending = None
        if self.fade is not None:
            self._step_fade(now)
        frame = self._render(now)
        self._show(frame, now)
        self.last_frame_mono = now
        self._publish_state_if_dirty()
        if not self.first_frame_done.is_set():
            self.first_frame_done.set()
        if now >= self._next_leak_check:
            self._next_leak_check = now + LEAK_CHECK_S
            self._check_leak(now)
        if now - self._last_watchdog >= 1.0:
            self._last_watchdog = now
            self.notifier.notify("WATCHDOG=1")

    def _publish_state_if_dirty(self) -> None:
        if self._state_dirty:
            self._state_dirty = False
            self.publisher.publish("state", self.state(), retain=True)

    def _render(self, now: float) -> np.ndarray:
        if now < self.identify_until:
            on = int((self.identify_until - now) * 4) % 2 == 0
            self._identify[...] = 255 if on else 0
            return self._identify
        if not self.power_on and self.fade is None:
            return self._black
        active = self._choose_active(now)
        frame = self._draw(active, now)
        if isinstance(frame, np.ndarray):
            return frame
        if frame is LATE:
            # An isolated draw() still runs: hold its last frame briefly, then substitute.
            self.counters.animation_late_frames_total += 1
            self._late_streak += 1
            if self._late_streak <= LATE_HOLD_FRAMES and self._guard_holds is active:
                return self.guard._out
        # The requested animation failed (or is late) this frame: the fallback draws it.
        fb = self.fallback
        assert fb is not None
        if fb is not active:
            frame = self._draw(fb, now, substitute=True)
            if isinstance(frame, np.ndarray):
                return frame
        if frame is None:
            self._fallback_failed()
        return self._black

    def _choose_active(self, now: float) -> ActiveAnimation:
        req = self.requested
        assert req is not None and self.fallback is not None
        rec = self.failures.get(req.name)
        if rec is not None and rec.quarantined_until > now:
            return self.fallback
        if self.showing_fallback and rec is not None and rec.quarantined_until:
            # Quarantine over: try the requested animation again.
            rec.quarantined_until = 0.0
            self.event("animation_retry", animation=req.name)
        return req

    def _isolated(self, active: ActiveAnimation) -> bool:
        mode = self.settings.animation.isolation
        if mode == "none":
            return False
        return mode == "all" or not type(active.instance).__module__.startswith("animations.")

    def _draw_isolated(self, active: ActiveAnimation, now: float) -> Any:
        """Run draw() on the animation's worker; LATE while it runs, AnimationHang past budget."""
        w = active.worker
        if w is None:
            w = active.worker = self.sandbox.new_worker(active.name)
        if w.busy_since is None:
            w.submit(active.instance.draw, now - active.anchor, self.clock.monotonic())
        interval = self.frame_interval_s()
        r = w.result(interval * ISOLATED_WAIT_FRACTION)
        if r is None:
            assert w.busy_since is not None
            busy_s = self.clock.monotonic() - w.busy_since
            budget_frames = self.settings.animation.hang_budget_frames
            if busy_s < budget_frames * interval:
                return LATE
            self.sandbox.abandon(w)
            active.worker = None
            self.counters.animation_hangs_total += 1
            raise AnimationHang(
                f"draw() has not returned after {busy_s * 1000:.0f} ms "
                f"(budget {budget_frames:g} frames = {budget_frames * interval * 1000:.0f} ms)"
            )
        ok, value = r
        if ok:
            return value
        if isinstance(value, Exception):
            raise value
        raise AnimationHang(f"draw() raised {type(value).__name__}: {value}")

    def _draw(self, active: ActiveAnimation, now: float,
              substitute: bool = False) -> np.ndarray | _Late | None:
        try:
            if self._isolated(active):
                pixels = self._draw_isolated(active, now)
                if pixels is LATE:
                    return LATE
            else:
                pixels = active.instance.draw(now - active.anchor)
            frame = self.guard(pixels)
        except Exception as exc:  # any animation bug must not stop the display
            self._animation_failed(active, exc, now)
            self._late_streak = 0
            return None
        self._guard_holds = active
        if substitute:
            return frame
        self._late_streak = 0
        if active is self.requested and self.showing_fallback:
            self.showing_fallback = False
            self.fallback_reason = None
            self.counters.recoveries_total += 1
            self.event("animation_recovered", animation=active.name)
            self._state_dirty = True
        elif active is self.fallback and active is not self.requested and not self.showing_fallback:
            self.showing_fallback = True
            self._state_dirty = True
        return frame

    def _animation_failed(self, active: ActiveAnimation, exc: Exception, now: float) -> None:
        is_fallback = active is self.fallback and active is not self.requested
        self.counters.animation_errors_total += 1
        error = f"{type(exc).__name__}: {exc}"
        kind = ("garbage" if isinstance(exc, FrameError) else "hang"
                if isinstance(exc, AnimationHang) else "leak"
                if isinstance(exc, AnimationLeak) else "exception")
        held = min(self._late_streak, LATE_HOLD_FRAMES)
        log.error("animation_failed", animation=active.name, error=error, kind=kind,
                  traceback="".join(traceback.format_exception(exc)))
        self.event("animation_failed", animation=active.name, error=error[:500], kind=kind)
        if is_fallback:
            return
        rec = self.failures.setdefault(active.name, FailureRecord())
        rec.stamps.append(now)
        rec.last_error = error[:500]
        cfg = self.settings.animation
        recent = [s for s in rec.stamps if s >= now - cfg.quarantine_window_s]
        quarantine = len(recent) >= cfg.quarantine_failures or kind in ("hang", "leak")
        if quarantine and rec.quarantined_until <= now:
            # A hang or a leak is quarantined at once: each retry costs a thread or memory.
            self.counters.quarantines_total += 1
            rec.quarantined_until = now + cfg.quarantine_s
            log.warning("animation_quarantined", animation=active.name,
                        failures=len(recent), seconds=cfg.quarantine_s)
            self.event("animation_quarantined", animation=active.name,
                        failures=len(recent), until_s=cfg.quarantine_s)
        if not self.showing_fallback:
            self.counters.fallbacks_total += 1
            self.fallback_reason = f"{active.name} failed: {error[:200]}"
            assert self.fallback is not None
            self.event("fallback_activated", animation=active.name,
                        fallback=self.fallback.name, reason=error[:200], kind=kind,
                        held_frames=held)
            self.showing_fallback = True
            self._state_dirty = True

    def _check_leak(self, now: float) -> None:
        """Fail, rebuild and quarantine the requested animation when memory grew past leak_mb."""
        limit = self.settings.animation.leak_mb
        req = self.requested
        if not limit or req is None:
            return
        rss = _rss_mb()
        base_for, base = self._leak_base
        if base_for is not req:
            self._leak_base = (req, rss)
            return
        if rss - base < limit or self.showing_fallback:
            return
        err = AnimationLeak(f"resident memory grew {rss - base:.0f} MB while it ran "
                            f"(limit animation.leak_mb = {limit:g})")
        self.counters.animation_leaks_total += 1
        self._animation_failed(req, err, now)
        # Drop the leaking instance (and what it holds); a fresh one is tried after quarantine.
        try:
            fresh = self._make(req.name, req.params)
        except Exception as exc:  # cannot rebuild: stay on the fallback until a person acts
            log.error("animation_rebuild_failed", animation=req.name, error=str(exc))
            return
        fresh.anchor = req.anchor
        if req.worker is not None:
            self.sandbox.retire(req.worker)
        self.requested = fresh
        self._leak_base = (fresh, _rss_mb())

    def _fallback_failed(self) -> None:
        assert self.fallback is not None
        self.counters.fallback_failures_total += 1
        if self.fallback.name != "blank":
            log.error("fallback_failed", fallback=self.fallback.name)
            if self.fallback.worker is not None:
                self.sandbox.retire(self.fallback.worker)
            self.event("fallback_failed", fallback=self.fallback.name, replacement="blank")
            self.fallback = self._make("blank", {})

    def _show(self, frame: np.ndarray, now: float) -> None:
        ds = self.display_state
        if not ds.ok:
            if now < ds.retry_at:
                return
            if not self._try_start_display():
                return
        try:
            self.display.show(frame)
        except Exception as exc:  # a driver fault must not stop the loop
            self._display_failed(exc, now)
            return
        if self.preview_until and now < self.preview_until and now >= self.next_preview:
            self.next_preview = now + self.preview_interval_s
            self._publish_preview(frame)
        elif self.preview_until and now >= self.preview_until:
            self.preview_until = 0.0

    def _try_start_display(self) -> bool:
        ds = self.display_state
        now = self.clock.monotonic()
        try:
            self.display.start()
            self.display.set_brightness(self.effective_brightness())
        except Exception as exc:
            self._display_failed(exc, now)
            return False
        was_failed = ds.failures > 0
        ds.ok = True
        ds.last_error = None
        ds.retry_delay_s = 0.0
        ds.since = now
        if was_failed:
            log.info("display_recovered", driver=self.display.name, failures=ds.failures)
            self.event("display_recovered", driver=self.display.name, failures=ds.failures)
            self.counters.recoveries_total += 1
            ds.failures = 0
        return True

    def _display_failed(self, exc: BaseException, now: float) -> None:
        ds = self.display_state
        cfg = self.settings.display
        first = ds.ok or ds.failures == 0
        ds.ok = False
        ds.failures += 1
        ds.last_error = f"{type(exc).__name__}: {exc}"[:300]
        ds.retry_delay_s = (
            cfg.retry_initial_s if ds.retry_delay_s == 0
            else min(ds.retry_delay_s * 2, cfg.retry_max_s)
        )
        ds.retry_at = now + ds.retry_delay_s
        if first:
            ds.since = now
        self.counters.display_errors_total += 1
        log.error("display_error", driver=self.display.name, error=ds.last_error,
                  retry_in_s=ds.retry_delay_s, failures=ds.failures,
                  kind="init" if not isinstance(exc, DisplayError) or first else "frame")
        self.event("display_error", driver=self.display.name, error=ds.last_error,
                    retry_in_s=ds.retry_delay_s)

    def _publish_preview(self, frame: np.ndarray) -> None:
        step = max(1, -(-self.width // PREVIEW_MAX_WIDTH))
        small = frame[::step, ::step] if step > 1 else frame
        self.publisher.publish("preview", np.ascontiguousarray(small).tobytes())

    def preview_geometry(self) -> tuple[int, int]:
        """Return (width, height) of preview frames."""
        step = max(1, -(-self.width // PREVIEW_MAX_WIDTH))
        return (-(-self.width // step), -(-self.height // step))

    # ------------------------------------------------------------------ commands
    def _apply_commands(self, now: float) -> None:
        items = self.queue.drain()
        if not items:
            return
        replies: list[tuple[Pending, CommandError | None]] = []
        for item in items:
            self.counters.commands_total += 1
            if item.error is not None:
                self._rejected(item.command, item.error)
                replies.append((item, item.error))
                continue
            assert not isinstance(item.command, Invalid)  # an Invalid always has its error
            try:
                self._apply(item.command, now)
                replies.append((item, None))
            except CommandError as exc:
                self._rejected(item.command, exc)
                replies.append((item, exc))
        applied = any(e is None for _, e in replies)
        state = self.state() if applied else None
        # The retained state goes out before the replies, so whoever reads it after a
        # reply (the bridge answers GET /api/state from it) already sees the change.
        self._publish_state_if_dirty()
        for item, outcome in replies:
            if item.reply is None:
                continue
            if outcome is None:
                assert state is not None
                item.reply(Reply(True, item.command.transaction, state=state).as_json())
            else:
                item.reply(Reply(False, item.command.transaction, error=outcome).as_json())

    def reject(self, command: EngineCommand | Invalid, err: CommandError,
               reply: ReplyFn | None = None) -> None:
        """Queue a command that failed validation elsewhere, to be counted and answered.

        Going through the queue keeps every counter owned by the render thread.
        """
        self.queue.put(Pending(command, reply, err))

    def _rejected(self, command: EngineCommand | Invalid, err: CommandError) -> None:
        self.counters.commands_rejected_total += 1
        log.warning("command_rejected", action=command.action, code=err.code,
                    error=err.message, field=err.field, source=command.source)
        self.event("command_rejected", command=command.action, code=err.code,
                    error=err.message, field=err.field)

    def _apply(self, cmd: EngineCommand, now: float) -> None:
        """Apply one command completely or raise CommandError having changed nothing."""
        match cmd:
            case SetLight() | SetAnimation():
                self._apply_light(cmd, now)
            case SetBrightness(pct=pct):
                self.fade = None  # a plain command ends any transition at once
                if pct == 0:
                    self.power_on = False
                else:
                    self.brightness_pct = pct
                    self.power_on = True
                self._apply_brightness()
            case SetPower(state=power):
                self.fade = None
                self.power_on = (not self.power_on) if power == "TOGGLE" else power == "ON"
                self._apply_brightness()
            case SetParams(params=params):
                self._update_params(self._validated_params(params))
            case Identify(seconds=seconds):
                self.identify_until = now + seconds
                return  # not a state change
            case Preview(fps=fps, ttl_s=ttl_s):
                self.preview_interval_s = 1.0 / fps
                self.preview_until = now + ttl_s
                self.next_preview = now
                return  # not a state change
            case ApplySettings(settings=new):
                self._apply_settings(new)
            case ApplyConfig() | Reload():
                raise CommandError("unknown_command", f"unknown command {cmd.action!r}")
            case _:
                assert_never(cmd)
        self.state_version += 1
        self._state_dirty = True

    def _apply_light(self, cmd: SetLight | SetAnimation, now: float) -> None:
        """A Home Assistant light command or an animation switch, all or nothing."""
        effect = cmd.name if isinstance(cmd, SetAnimation) else cmd.effect
        params = cmd.params
        new_anim = None
        new_params: dict[str, Any] = {}
        if effect is not None:
            new_anim = self._build(effect, params or {}, cmd.start_at)
        elif params is not None:
            new_params = self._validated_params(params)
        # Everything validated: now change state.
        from_level = self.visible_level(now)
        if new_anim is not None:
            self._install(new_anim, now)
        elif params is not None:
            self._update_params(new_params)
        if isinstance(cmd, SetLight):
            if cmd.brightness is not None:
                self.brightness_pct = cmd.brightness
                self.power_on = True
            if cmd.power is not None:
                self.power_on = cmd.power == "ON"
            self._start_fade(from_level, cmd.transition_s or 0.0, now)
        else:
            self._start_fade(from_level, 0.0, now)
        self._apply_brightness()

    def _build(self, name: str, params: dict[str, Any], start_at: float | None) -> ActiveAnimation:
        if name not in self.registry:
            raise CommandError(
                "unknown_animation",
                f"unknown animation {name!r}; known: {', '.join(self.registry.names())}",
                "name",
            )
        try:
            active = self._make(name, params)
        except UnknownImageError as exc:
            raise CommandError("unknown_image", exc.message, f"params.{exc.field}") from None
        except ParamError as exc:
            raise CommandError("invalid_param", str(exc), f"params.{exc.field}") from None
        except Exception as exc:  # a constructor bug is that animation's failure, not ours
            raise CommandError("animation_failed", f"{name} failed to start: {exc}",
                               "name") from None
        if start_at is not None:
            active.anchor = self.clock.monotonic() + (start_at - self.clock.wall())
            active.instance.epoch_at_t0 = start_at
            active.scheduled = True
        return active

    def _install(self, active: ActiveAnimation, now: float) -> None:
        rec = self.failures.get(active.name)
        if rec is not None:
            rec.quarantined_until = 0.0  # a person asked for it: give it another chance
            rec.stamps.clear()
        if active.scheduled and active.anchor > now:
            self.pending = active
            return
        self.pending = None
        self._switch_to(active)

    def _switch_to(self, active: ActiveAnimation) -> None:
        old = self.requested.name if self.requested else None
        if self.requested is not None and self.requested.worker is not None:
            self.sandbox.retire(self.requested.worker)
            self.requested.worker = None
        self._late_streak = 0
        self.requested = active
        self.showing_fallback = False
        self.fallback_reason = None
        self._state_dirty = True
        log.info("animation_started", animation=active.name, previous=old,
                 params=params_to_json(type(active.instance), active.params))

    def _validated_params(self, params: dict[str, Any]) -> dict[str, Any]:
        assert self.requested is not None
        target = self.pending or self.requested
        frames_param = getattr(type(target.instance), "frames_param", None)
        if frames_param in params and params[frames_param] != target.params.get(frames_param):
            raise CommandError("invalid_param", "choose another image with cmd/animation",
                               f"params.{frames_param}")
        try:
            return self.registry.resolve_params(target.name, params, base=target.params)
        except ParamError as exc:
            raise CommandError("invalid_param", str(exc), f"params.{exc.field}") from None

    def _update_params(self, params: dict[str, Any]) -> None:
        target = self.pending or self.requested
        assert target is not None
        target.params = params
        target.instance.update_params(params)

    def effective_brightness(self) -> int:
        """Brightness the panel is set to (0 when off)."""
        return self.brightness_pct if self.power_on else 0

    def visible_level(self, now: float) -> float:
        """Output level in percent right now (0 is dark), following any transition."""
        if self.fade is None:
            return float(self.effective_brightness())
        start_level, end_level, t0, seconds = self.fade
        x = min(1.0, max(0.0, (now - t0) / seconds))
        return start_level + (end_level - start_level) * x

    def _start_fade(self, from_level: float, seconds: float, now: float) -> None:
        to_level = float(self.effective_brightness())
        if seconds <= 0 or from_level == to_level:
            self.fade = None
            return
        self.fade = (from_level, to_level, now, seconds)
        self._shown_level = -1

    def _step_fade(self, now: float) -> None:
        """Move the panel brightness along the transition (once per frame)."""
        assert self.fade is not None
        level = self.visible_level(now)
        if now - self.fade[2] >= self.fade[3]:
            self.fade = None  # done: the target is in place (dark frames if now off)
        shown = max(1, round(level))
        if shown != self._shown_level and self.display_state.ok:
            self._shown_level = shown
            try:
                self.display.set_brightness(shown)
            except Exception as exc:
                self._display_failed(exc, now)

    def _apply_brightness(self) -> None:
        if not self.display_state.ok or self.fade is not None:
            return  # a running transition sets the brightness frame by frame
        try:
            self.display.set_brightness(max(1, self.brightness_pct))
        except Exception as exc:
            self._display_failed(exc, self.clock.monotonic())

    def _apply_settings(self, new: Settings) -> None:
        old = self.settings
        # Everything a failed apply must put back as it was (roll back, then report).
        old_fallback, old_brightness = self.fallback, self.brightness_pct
        req = self.requested
        old_params = dict(req.params) if req is not None else None
        try:
            fallback = None
            if new.animation.fallback != old.animation.fallback:
                fallback = self.registry.get(new.animation.fallback)
            self.settings = new
            if fallback is not None:
                retired = self.fallback
                self.fallback = self._make(new.animation.fallback, {})
                if retired is not None and retired.worker is not None:
                    self.sandbox.retire(retired.worker)
                    retired.worker = None
            if new.display.brightness != old.display.brightness:
                self.brightness_pct = new.display.brightness
                self._apply_brightness()
            if self.requested is not None:
                base = new.animation.params.get(self.requested.name)
                if base != old.animation.params.get(self.requested.name):
                    self._update_params(
                        self.registry.resolve_params(self.requested.name, {}, base=base or {})
                    )
        except Exception as exc:
            self.settings = old
            if self.fallback is not old_fallback:
                if self.fallback is not None and self.fallback.worker is not None:
                    self.sandbox.retire(self.fallback.worker)
                self.fallback = old_fallback
            if self.brightness_pct != old_brightness:
                self.brightness_pct = old_brightness
                self._apply_brightness()
            if req is not None and old_params is not None and req.params != old_params:
                self._update_params(old_params)
            log.warning("settings_apply_rolled_back", error=f"{type(exc).__name__}: {exc}")
            raise CommandError("apply_failed", f"settings could not be applied: {exc}") from None
        if self.on_settings_applied is not None:
            self.on_settings_applied(new)

    # ------------------------------------------------------------------ reporting
    def event(self, name: str, **fields: Any) -> None:
        """Publish an event, at most ``health.events_per_minute`` a minute (thread-safe)."""
        with self._event_lock:
            now = self.clock.monotonic()
            times = self._event_times
            if len(times) == times.maxlen and now - times[0] < 60.0:
                self.counters.events_suppressed_total += 1
                return
            times.append(now)
        ev = {"event": name, **{k: v for k, v in fields.items() if v is not None}}
        ev["ts"] = _iso(self.clock.wall())
        if self.counters.events_suppressed_total:
            ev["suppressed_total"] = self.counters.events_suppressed_total
        if len(self.events) == self.events.maxlen:
            self.events_dropped += 1
        self.events.append(ev)
        self.publisher.publish("events", ev)

    def state(self) -> LightState:
        """Return the Home Assistant JSON-light state with LightBox extras."""
        req = self.pending or self.requested
        out: LightState = {
            "state": "ON" if self.power_on else "OFF",
            "brightness": self.brightness_pct,
            "effect": req.name if req else None,
            "color_mode": "brightness",
            "params": params_to_json(type(req.instance), req.params) if req else {},
            "version": self.state_version,
            # Wall-clock time at the animation's t == 0: equal on every box started
            # with the same start_at, so a fleet shows the same frame phase.
            "started_at": round(req.instance.epoch_at_t0, 3) if req else None,
        }
        if self.showing_fallback and self.fallback is not None:
            out["active"] = self.fallback.name
            out["fallback_reason"] = self.fallback_reason
        return out

    def snapshot(self) -> dict[str, Any]:
        """Return a consistent-enough copy of the loop's figures for telemetry."""
        now = self.clock.monotonic()
        s = self.stats.summary(now)
        c = self.counters
        quarantined = sorted(
            name for name, rec in self.failures.items() if rec.quarantined_until > now
        )
        return {
            **s,
            "target_fps": 0 if self.uncapped else self.settings.display.fps,
            "frames_total": self.stats.frames_total,
            "frames_dropped": self.stats.frames_dropped,
            "animation_errors_total": c.animation_errors_total,
            "recoveries_total": c.recoveries_total,
            "commands_total": c.commands_total,
            "commands_rejected_total": c.commands_rejected_total,
            "commands_dropped_total": self.queue.dropped,
            "display_errors_total": c.display_errors_total,
            "events_suppressed_total": c.events_suppressed_total,
            "fallbacks_total": c.fallbacks_total,
            "fallback_failures_total": c.fallback_failures_total,
            "quarantines_total": c.quarantines_total,
            "animation_hangs_total": c.animation_hangs_total,
            "animation_late_frames_total": c.animation_late_frames_total,
            "animation_leaks_total": c.animation_leaks_total,
            "animation_threads_abandoned": self.sandbox.live_abandoned(),
            "frame_gap_ms_max": round(self.stats.gap_max_s * 1000.0, 1),
            "frame_gap_ms_max_recent": self.stats.recent_gap_ms(),
            "frame_gaps_over_100ms_total": self.stats.gaps_over_100ms,
            "events_dropped_total": self.events_dropped,
            "since_last_frame_s": round(now - self.last_frame_mono, 3),
            "uptime_s": round(now - self.started_mono, 1),
            "showing_fallback": self.showing_fallback,
            "fallback_reason": self.fallback_reason,
            "quarantined": quarantined,
            "display_ok": self.display_state.ok,
            "display_error": self.display_state.last_error,
            "display_failures": self.display_state.failures,
            "display_retry_in_s": round(max(0.0, self.display_state.retry_at - now), 2)
            if not self.display_state.ok else 0.0,
        }


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"
