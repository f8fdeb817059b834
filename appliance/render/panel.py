"""The panel controller: the display's health, its brightness and what it is asked to show.

Owns starting the display, retrying it with exponential back-off after a fault,
power and brightness (``power_on``, ``brightness_pct``), the schedule's brightness
cap (``brightness_max``: the display gets at most the cap, whatever the layers draw;
``brightness_pct`` stays the stored level), the Home Assistant
``transition`` as a ``Fade`` value, and the downscaled preview stream. Knows
nothing of animations, commands or MQTT (events and publishes go through injected
callables).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import structlog

from appliance.display import Display, DisplayError
from appliance.render.clock import Clock
from appliance.render.stats import Counters
from appliance.settings import DisplaySettings

log = structlog.get_logger("engine")

PREVIEW_MAX_WIDTH = 128


@dataclass(frozen=True)
class Fade:
    """A brightness transition: levels in percent of full output (0 is dark)."""

    from_level: float
    to_level: float
    start: float  # monotonic seconds
    seconds: float

    def level(self, now: float) -> float:
        """The output level at ``now``."""
        x = min(1.0, max(0.0, (now - self.start) / self.seconds))
        return self.from_level + (self.to_level - self.from_level) * x

    def done(self, now: float) -> bool:
        """True once the target level is reached."""
        return now - self.start >= self.seconds


@dataclass
class DisplayState:
    """Display health as the render loop sees it."""

    ok: bool = False
    last_error: str | None = None
    retry_at: float = 0.0
    retry_delay_s: float = 0.0
    failures: int = 0
    since: float = 0.0


class Panel:
    """Drives one display: start, show, brightness and fades, recover after faults."""

    def __init__(self, display: Display, clock: Clock, counters: Counters,
                 cfg: Callable[[], DisplaySettings], event: Callable[..., None],
                 publish: Callable[[str, Any], None]) -> None:
        self.display = display
        self.clock = clock
        self.counters = counters
        self.cfg = cfg
        self.event = event
        self.publish = publish
        self.state = DisplayState()
        self.power_on = True
        self.brightness_pct = cfg().brightness
        #: The schedule's cap on what the display is set to (None: no cap).
        self.brightness_max: int | None = None
        #: What the display was last set to (percent; 0 before the first setting).
        self.display_level = 0
        #: Called after a hand-made power change (cmd/power, cmd/brightness 0 and back).
        self.on_hand_power: Callable[[], None] = lambda: None
        #: The running transition, or None.
        self.fade: Fade | None = None
        self._shown_level = -1
        self.preview_until = 0.0
        self.preview_interval_s = 0.2
        self.next_preview = 0.0

    # ------------------------------------------------------------------ brightness
    def effective_brightness(self) -> int:
        """Brightness the panel is set to (0 when off)."""
        return self.brightness_pct if self.power_on else 0

    def dark(self) -> bool:
        """True when the panel shows nothing: off and not fading out."""
        return not self.power_on and self.fade is None

    def visible_level(self, now: float) -> float:
        """Output level in percent right now (0 is dark), following any transition."""
        if self.fade is None:
            return float(self.effective_brightness())
        return self.fade.level(now)

    def start_fade(self, from_level: float, seconds: float, now: float) -> None:
        """Fade from ``from_level`` to the current target over ``seconds`` (0: at once)."""
        to_level = float(self.effective_brightness())
        if seconds <= 0 or from_level == to_level:
            self.fade = None
            return
        self.fade = Fade(from_level, to_level, now, seconds)
        self._shown_level = -1

    def step_fade(self, now: float) -> None:
        """Move the panel brightness along the transition (once per frame)."""
        if self.fade is None:
            return
        level = self.fade.level(now)
        if self.fade.done(now):
            self.fade = None  # done: the target is in place (dark frames if now off)
        shown = self.output(level)
        if shown != self._shown_level and self.state.ok:
            self._shown_level = shown
            try:
                self._set_display(shown)
            except Exception as exc:
                self.failed(exc, now)

    def output(self, level: float) -> int:
        """The display setting for an output ``level``: at least 1, at most the cap."""
        cap = self.brightness_max
        return max(1, round(level if cap is None else min(level, cap)))

    def _set_display(self, level: int) -> None:
        self.display.set_brightness(level)
        self.display_level = level

    def set_cap(self, cap: int | None) -> None:
        """Cap what the display is set to (None lifts the cap); the stored level stays."""
        if cap != self.brightness_max:
            self.brightness_max = cap
            self._shown_level = -1
            self.apply_brightness()

    def set_brightness(self, pct: int) -> None:
        """``cmd/brightness``: 0 turns the panel off and keeps the level; ends any fade."""
        self.fade = None
        was_on = self.power_on
        if pct == 0:
            self.power_on = False
        else:
            self.brightness_pct = pct
            self.power_on = True
        self.apply_brightness()
        if self.power_on != was_on:
            self.on_hand_power()

    def set_power(self, power: str) -> None:
        """``cmd/power``: ON, OFF or TOGGLE; ends any fade."""
        self.fade = None
        self.power_on = (not self.power_on) if power == "TOGGLE" else power == "ON"
        self.apply_brightness()
        self.on_hand_power()

    def apply_brightness(self) -> None:
        """Set the display to the brightness in force (unless a transition is running)."""
        if not self.state.ok or self.fade is not None:
            return  # a running transition sets the brightness frame by frame
        try:
            self._set_display(self.output(self.brightness_pct))
        except Exception as exc:
            self.failed(exc, self.clock.monotonic())

    # ------------------------------------------------------------------ display health
    def try_start(self) -> bool:
        """Start the display; on failure schedule a retry and return False."""
        ds = self.state
        now = self.clock.monotonic()
        try:
            self.display.start()
            # Off is dark frames, not a dark panel: a wake notification must be able to light it.
            self._set_display(self.output(self.brightness_pct))
        except Exception as exc:
            self.failed(exc, now)
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

    def failed(self, exc: BaseException, now: float) -> None:
        """Record a display fault and when to try again (exponential back-off)."""
        ds = self.state
        cfg = self.cfg()
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

    def retry_in_s(self, now: float) -> float:
        """Seconds until the next start attempt (0 while the display is fine)."""
        return 0.0 if self.state.ok else round(max(0.0, self.state.retry_at - now), 2)

    # ------------------------------------------------------------------ frames
    def show(self, frame: np.ndarray, now: float) -> None:
        """Show one frame (restarting the display when its retry is due)."""
        ds = self.state
        if not ds.ok and (now < ds.retry_at or not self.try_start()):
            return
        try:
            self.display.show(frame)
        except Exception as exc:  # a driver fault must not stop the loop
            self.failed(exc, now)
            return
        if self.preview_until and now < self.preview_until and now >= self.next_preview:
            self.next_preview = now + self.preview_interval_s
            self._publish_preview(frame)
        elif self.preview_until and now >= self.preview_until:
            self.preview_until = 0.0

    def start_preview(self, fps: float, ttl_s: float, now: float) -> None:
        """Stream downscaled frames at ``fps`` for ``ttl_s`` seconds."""
        self.preview_interval_s = 1.0 / fps
        self.preview_until = now + ttl_s
        self.next_preview = now

    def _step(self) -> int:
        return max(1, -(-self.display.width // PREVIEW_MAX_WIDTH))

    def _publish_preview(self, frame: np.ndarray) -> None:
        step = self._step()
        small = frame[::step, ::step] if step > 1 else frame
        self.publish("preview", np.ascontiguousarray(small).tobytes())

    def preview_geometry(self) -> tuple[int, int]:
        """Return (width, height) of preview frames."""
        step = self._step()
        return (-(-self.display.width // step), -(-self.display.height // step))

    def stop(self) -> None:
        """Darken and release the display (a panel already gone is logged, not raised)."""
        try:
            self.display.stop()
        except Exception as exc:  # the panel may already be gone; stopping must go on
            log.warning("display_stop_failed", error=str(exc))
