"""The animation supervisor: runs the requested animation and survives its faults.

Owns which animation is requested, scheduled (``pending``) and the fallback (and,
through ``crossfade.CrossFader``, the one being blended out); isolation of
third-party draw() calls on worker threads, hang budgets, memory leak checks,
per-animation failure records and quarantine, and the switch to the fallback (and
back). Every frame it returns has passed the colour choke point. Knows nothing of
MQTT, displays, commands or settings files.
"""

from __future__ import annotations

import os
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import structlog

from animations.base import params_to_json
from appliance.render.clock import Clock
from appliance.render.crossfade import CrossFader
from appliance.render.factory import ActiveAnimation, AnimationFactory
from appliance.render.frame import FrameError, FrameGuard
from appliance.render.sandbox import AnimationHang, Sandbox
from appliance.render.stats import Counters
from appliance.settings import AnimationSettings

log = structlog.get_logger("engine")

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


try:
    _PAGE = os.sysconf("SC_PAGE_SIZE")
except (ValueError, OSError, AttributeError):
    _PAGE = 4096


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux /proc; 0.0 elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * _PAGE / 1_048_576


@dataclass
class FailureRecord:
    """Recent failures of one animation (bounded)."""

    stamps: deque[float] = field(default_factory=lambda: deque(maxlen=100))
    quarantined_until: float = 0.0
    last_error: str = ""


def failure_kind(exc: Exception) -> str:
    """Name what went wrong: garbage, hang, leak or exception."""
    if isinstance(exc, FrameError):
        return "garbage"
    if isinstance(exc, AnimationHang):
        return "hang"
    return "leak" if isinstance(exc, AnimationLeak) else "exception"


class Supervisor:
    """Draws the requested animation, substituting the fallback while it fails."""

    def __init__(self, factory: AnimationFactory, guard: FrameGuard, clock: Clock,
                 counters: Counters, cfg: Callable[[], AnimationSettings],
                 interval_s: Callable[[], float], event: Callable[..., None],
                 changed: Callable[[], None]) -> None:
        self.factory = factory
        self.guard = guard
        self.clock = clock
        self.counters = counters
        self.cfg = cfg
        self.interval_s = interval_s
        self.event = event
        self.changed = changed
        self.sandbox = Sandbox()
        #: Keyed by registered animation names only, so bounded by the registry.
        self.failures: dict[str, FailureRecord] = {}
        self.requested: ActiveAnimation | None = None
        self.fallback: ActiveAnimation | None = None
        self.pending: ActiveAnimation | None = None
        self.showing_fallback = False
        self.fallback_reason: str | None = None
        self._late_streak = 0
        #: Whose frame the guard's buffer holds, and the guard's frame count then.
        self._guard_holds: tuple[ActiveAnimation | None, int] = (None, -1)
        self._leak_base: tuple[ActiveAnimation | None, float] = (None, 0.0)
        self._next_leak_check = 0.0
        self.xfade = CrossFader(guard.width, guard.height, self._draw_raw, LATE, self.retire,
                                self._outgoing_failed)

    # ------------------------------------------------------------------ what plays
    def target(self) -> ActiveAnimation:
        """The animation commands address: the scheduled one, else the requested one."""
        target = self.pending or self.requested
        assert target is not None
        return target

    def update_params(self, params: dict[str, Any]) -> None:
        """Give the target animation resolved params."""
        target = self.target()
        target.params = params
        target.instance.update_params(params)

    def install(self, active: ActiveAnimation, now: float, fade_s: float = 0.0) -> None:
        """Play ``active`` now (blending the shown animation into it over ``fade_s``
        seconds), or hold it until its fleet start time. Ends any cross-fade running."""
        self.xfade.end()
        rec = self.failures.get(active.name)
        if rec is not None:
            rec.quarantined_until = 0.0  # a person asked for it: give it another chance
            rec.stamps.clear()
        if active.scheduled and active.anchor > now:
            self.pending = active
            return
        self.pending = None
        old = self.requested
        if fade_s > 0 and old is not None and not self.showing_fallback:
            self.requested = None  # handed to the cross-fader, which retires it at the end
            self.xfade.start(old, fade_s, now)
        self.switch_to(active, previous=old)

    def start_due(self, now: float) -> None:
        """Switch to the scheduled animation once its start time has come."""
        self.xfade.step(now)
        if self.pending is not None and now >= self.pending.anchor:
            self.switch_to(self.pending)
            self.pending = None

    def switch_to(self, active: ActiveAnimation, previous: ActiveAnimation | None = None) -> None:
        """Make ``active`` the requested animation, retiring the old one's worker."""
        shown = self.requested or previous
        old = shown.name if shown else None
        if self.requested is not None:
            self.retire(self.requested)
        self._late_streak = 0
        self.requested = active
        self.showing_fallback = False
        self.fallback_reason = None
        self.changed()
        log.info("animation_started", animation=active.name, previous=old,
                 params=params_to_json(type(active.instance), active.params))

    def set_fallback(self, active: ActiveAnimation) -> None:
        """Replace the fallback animation."""
        if self.fallback is not None:
            self.retire(self.fallback)
        self.fallback = active

    def retire(self, active: ActiveAnimation) -> None:
        """Let an animation's worker thread end (if it has one)."""
        if active.worker is not None:
            self.sandbox.retire(active.worker)
            active.worker = None

    def retire_all(self) -> None:
        """Retire every worker (at shutdown)."""
        self.xfade.end()
        for active in (self.requested, self.fallback, self.pending):
            if active is not None:
                self.retire(active)

    def quarantined(self, now: float) -> list[str]:
        """Names of the animations quarantined right now."""
        return sorted(n for n, rec in self.failures.items() if rec.quarantined_until > now)

    # ------------------------------------------------------------------ one frame
    def draw(self, now: float) -> np.ndarray | None:
        """Return this frame (through the choke point), or None when nothing could draw;
        during a cross-fade the outgoing animation is blended in."""
        return self.xfade.mix(self._draw_requested(now), now)

    def _draw_requested(self, now: float) -> np.ndarray | None:
        active = self._choose_active(now)
        frame = self._draw(active, now)
        if isinstance(frame, np.ndarray):
            return frame
        if frame is LATE:
            # An isolated draw() still runs: hold its last frame briefly, then substitute.
            self.counters.animation_late_frames_total += 1
            self._late_streak += 1
            holder, made = self._guard_holds
            if self._late_streak <= LATE_HOLD_FRAMES and holder is active \
                    and made == self.guard.frames:
                return self.guard.last
        # The requested animation failed (or is late) this frame: the fallback draws it.
        fb = self.fallback
        assert fb is not None
        if fb is not active:
            frame = self._draw(fb, now, substitute=True)
            if isinstance(frame, np.ndarray):
                return frame
        if frame is None:
            self._fallback_failed()
        return None

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
        mode = self.cfg().isolation
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
        interval = self.interval_s()
        r = w.result(interval * ISOLATED_WAIT_FRACTION)
        if r is None:
            assert w.busy_since is not None
            busy_s = self.clock.monotonic() - w.busy_since
            budget_frames = self.cfg().hang_budget_frames
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

    def _draw_raw(self, active: ActiveAnimation, now: float) -> Any:
        """The animation's own pixels at ``now`` on its clock (LATE while its worker runs)."""
        if self._isolated(active):
            return self._draw_isolated(active, now)
        return active.instance.draw(now - active.anchor)

    def _draw(self, active: ActiveAnimation, now: float,
              substitute: bool = False) -> np.ndarray | _Late | None:
        try:
            pixels = self._draw_raw(active, now)
            if pixels is LATE:
                return LATE
            frame = self.guard(pixels)
        except Exception as exc:  # any animation bug must not stop the display
            self.failed(active, exc, now)
            self._late_streak = 0
            return None
        self._guard_holds = (active, self.guard.frames)
        if substitute:
            return frame
        self._late_streak = 0
        if active is self.requested and self.showing_fallback:
            self.showing_fallback = False
            self.fallback_reason = None
            self.counters.recoveries_total += 1
            self.event("animation_recovered", animation=active.name)
            self.changed()
        elif active is self.fallback and active is not self.requested and not self.showing_fallback:
            self.showing_fallback = True
            self.changed()
        return frame

    # ------------------------------------------------------------------ failures
    def failed(self, active: ActiveAnimation, exc: Exception, now: float) -> None:
        """Record a failure: count, log, maybe quarantine, and show the fallback."""
        self.counters.animation_errors_total += 1
        error = f"{type(exc).__name__}: {exc}"
        kind = failure_kind(exc)
        held = min(self._late_streak, LATE_HOLD_FRAMES)
        log.error("animation_failed", animation=active.name, error=error, kind=kind,
                  traceback="".join(traceback.format_exception(exc)))
        self.event("animation_failed", animation=active.name, error=error[:500], kind=kind)
        if active is self.fallback and active is not self.requested:
            return
        self._quarantine_if_due(active.name, error, kind, now)
        if not self.showing_fallback:
            self.counters.fallbacks_total += 1
            self.fallback_reason = f"{active.name} failed: {error[:200]}"
            assert self.fallback is not None
            self.event("fallback_activated", animation=active.name,
                       fallback=self.fallback.name, reason=error[:200], kind=kind,
                       held_frames=held)
            self.showing_fallback = True
            self.changed()

    def _outgoing_failed(self, active: ActiveAnimation, exc: Exception) -> None:
        """The animation being blended out failed: it is dropped (no fallback, no quarantine)."""
        self.counters.animation_errors_total += 1
        error = f"{type(exc).__name__}: {exc}"
        log.error("animation_failed", animation=active.name, error=error,
                  kind=failure_kind(exc), outgoing=True)
        self.event("animation_failed", animation=active.name, error=error[:500],
                   kind=failure_kind(exc))

    def _quarantine_if_due(self, name: str, error: str, kind: str, now: float) -> None:
        rec = self.failures.setdefault(name, FailureRecord())
        rec.stamps.append(now)
        rec.last_error = error[:500]
        cfg = self.cfg()
        recent = [s for s in rec.stamps if s >= now - cfg.quarantine_window_s]
        quarantine = len(recent) >= cfg.quarantine_failures or kind in ("hang", "leak")
        if quarantine and rec.quarantined_until <= now:
            # A hang or a leak is quarantined at once: each retry costs a thread or memory.
            self.counters.quarantines_total += 1
            rec.quarantined_until = now + cfg.quarantine_s
            log.warning("animation_quarantined", animation=name,
                        failures=len(recent), seconds=cfg.quarantine_s)
            self.event("animation_quarantined", animation=name,
                       failures=len(recent), until_s=cfg.quarantine_s)

    def check_leak(self, now: float) -> None:
        """Once a second: fail, rebuild and quarantine a requested animation that leaks."""
        if now < self._next_leak_check:
            return
        self._next_leak_check = now + LEAK_CHECK_S
        limit = self.cfg().leak_mb
        req = self.requested
        if not limit or req is None:
            return
        rss = rss_mb()
        base_for, base = self._leak_base
        if base_for is not req:
            self._leak_base = (req, rss)
            return
        if rss - base < limit or self.showing_fallback:
            return
        err = AnimationLeak(f"resident memory grew {rss - base:.0f} MB while it ran "
                            f"(limit animation.leak_mb = {limit:g})")
        self.counters.animation_leaks_total += 1
        self.failed(req, err, now)
        # Drop the leaking instance (and what it holds); a fresh one is tried after quarantine.
        try:
            fresh = self.factory.make(req.name, req.params, req.preloaded)
        except Exception as exc:  # cannot rebuild: stay on the fallback until a person acts
            log.error("animation_rebuild_failed", animation=req.name, error=str(exc))
            return
        fresh.anchor = req.anchor
        if req.worker is not None:
            self.sandbox.retire(req.worker)
        self.requested = fresh
        self._leak_base = (fresh, rss_mb())

    def _fallback_failed(self) -> None:
        assert self.fallback is not None
        self.counters.fallback_failures_total += 1
        if self.fallback.name != "blank":
            log.error("fallback_failed", fallback=self.fallback.name)
            if self.fallback.worker is not None:
                self.sandbox.retire(self.fallback.worker)
            self.event("fallback_failed", fallback=self.fallback.name, replacement="blank")
            self.fallback = self.factory.make("blank", {})
