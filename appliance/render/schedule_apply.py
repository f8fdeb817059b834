"""What the schedule has in force, applied on the render thread (contract section 8).

Owns the brightness cap, a window's look (preset, playlist, power OFF), what was
showing before a window took over (restored when it closes), and the hand-made
override that lasts until the next boundary. Knows nothing of clocks, time zones
or sun times: the scheduler (off the frame path) sends ``ApplySchedule``. Nothing
here runs per frame: only when an ``ApplySchedule`` or a hand-made command arrives.

The rules, in one place:

- The cap is ``min(stored brightness, cap)`` on the display, for the whole stack;
  ``state.brightness`` stays the stored level. Hand-made brightness changes the
  stored level and the cap still holds.
- When a window's look takes over from a look nobody scheduled, what was showing
  (``Looks.snapshot``) is remembered; when no window acts on the look any more, it
  is restored (``Looks.restore``, the power it had, and the stored brightness if it is
  still the one the window's preset set).
- A hand-made change of the look or the power while a window's look is in force
  wins until the set of open windows next changes: then what is in force is applied
  again (and what the person chose is the new "before"). If that change closes the
  last look window, the person's choice stays: nothing older is restored.
- The same ``active`` set sent again (a settings change, a clock jump, a restart of
  the scheduler) changes nothing, unless a window's action itself changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from appliance.content.schedule_model import InForce, LookAction
from appliance.render.looks import Looks, LookSnapshot
from appliance.render.own_commands import ApplySchedule
from appliance.render.panel import Panel
from appliance.wire.commands import CommandError

log = structlog.get_logger("engine")


class ScheduleInForce:
    """Applies ``ApplySchedule`` and remembers what it replaced."""

    def __init__(self, looks: Looks, panel: Panel, changed: Callable[[], None],
                 event: Callable[..., None] | None = None) -> None:
        self.looks = looks
        self.panel = panel
        self.changed = changed
        self.event: Callable[..., None] = event or (lambda name, **fields: None)
        self.in_force = InForce()
        #: What showed before a window's look took over (None: no window's look is in force).
        self.before: LookSnapshot | None = None
        #: A hand-made change of the look or power since the window's look was applied.
        self.overridden = False
        #: The stored brightness before a window's preset took over, and the one it set:
        #: restored at the end only if nobody changed it since.
        self.before_brightness: int | None = None
        self.applied_brightness: int | None = None
        looks.on_hand_made = self.hand_made
        panel.on_hand_power = self.hand_made

    def hand_made(self) -> None:
        """A person changed the look or the power: it wins until the next boundary."""
        if self.in_force.look is not None:
            self.overridden = True

    def apply(self, cmd: ApplySchedule, now: float) -> bool:
        """Put ``cmd.in_force`` in force; False when that changed nothing (the boot's
        first, empty evaluation: the state's version must not move for it)."""
        old, new = self.in_force, cmd.in_force
        self.in_force = new
        self.panel.set_cap(new.brightness_max)
        boundary = new.active != old.active
        if new.look != old.look or (boundary and self.overridden):
            self._look(new, now)
        elif boundary:
            self.overridden = False  # nothing to apply again: the look is as scheduled
        if not (boundary or new != old):
            return False
        log.info("schedule_applied", active=list(new.active),
                 look=_describe(new.look), look_window=new.look_window,
                 brightness_max=new.brightness_max)
        self.changed()
        return True

    def underlying(self) -> LookSnapshot | None:
        """What a window's look covers now: what returns when it closes (None when no
        window's look is in force, or a person's change has won since)."""
        return None if self.overridden else self.before

    # ------------------------------------------------------------------ the look channel
    def _look(self, new: InForce, now: float) -> None:
        overridden, self.overridden = self.overridden, False
        if new.look is None:
            before, self.before = self.before, None
            if before is not None and not overridden:
                self._restore(before, now)
            return
        if self.before is None or overridden:
            self.before = self.looks.snapshot()
            self.before_brightness = self.panel.brightness_pct
        self._show(new.look, new.look_window, now)
        self.applied_brightness = self.panel.brightness_pct

    def _show(self, look: LookAction, window: str | None, now: float) -> None:
        try:
            if look.kind == "off":
                self._power(False)
                return
            assert look.name is not None
            if look.kind == "preset":
                self.looks.apply_preset(look.name, now, by="schedule")
            else:
                self.looks.play(look.name, now, by="schedule")
        except CommandError as err:  # a window naming a preset deleted since: keep the look
            log.warning("schedule_action_failed", window=window, action=_describe(look),
                        code=err.code, error=err.message)
            self.event("schedule_action_failed", window=window, action=_describe(look),
                       code=err.code, error=err.message)
            return
        self._power(True)

    def _restore(self, before: LookSnapshot, now: float) -> None:
        try:
            self.looks.restore(before, now)
        except CommandError as err:  # restore falls back by itself; never fail the apply
            log.warning("schedule_restore_failed", code=err.code, error=err.message)
        panel = self.panel
        if self.before_brightness is not None and panel.brightness_pct == self.applied_brightness:
            panel.brightness_pct = self.before_brightness  # a preset's level: back as it was
        self._power(before.power_on)
        panel.apply_brightness()

    def _power(self, on: bool) -> None:
        """Set the power for the schedule (not a hand-made change: no override)."""
        panel = self.panel
        if panel.power_on != on or panel.fade is not None:
            panel.fade = None
            panel.power_on = on
            panel.apply_brightness()


def _describe(look: LookAction | None) -> dict[str, Any] | None:
    if look is None:
        return None
    return {"power": "OFF"} if look.kind == "off" else {look.kind: look.name}
