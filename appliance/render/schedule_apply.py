"""What the schedule has in force, applied on the render thread (contract section 8).

Owns the brightness cap, a window's look (preset, playlist, power OFF), what was
showing before a window took over (restored when it closes), and the hand-made
override that lasts until the next boundary. Knows nothing of clocks, time zones
or sun times: the scheduler (off the frame path) sends ``ApplySchedule``.
"""

from __future__ import annotations

from collections.abc import Callable

from appliance.content.schedule_model import InForce
from appliance.render.looks import Looks
from appliance.render.own_commands import ApplySchedule
from appliance.render.panel import Panel


class ScheduleInForce:
    """Applies ``ApplySchedule`` and remembers what it replaced."""

    def __init__(self, looks: Looks, panel: Panel, changed: Callable[[], None]) -> None:
        self.looks = looks
        self.panel = panel
        self.changed = changed
        self.in_force = InForce()

    def apply(self, cmd: ApplySchedule, now: float) -> None:
        """Put ``cmd.in_force`` in force."""
        self.in_force = cmd.in_force
