"""The commands the engine queues for itself, which never come from the wire.

``ApplySettings`` (from the config service), ``LeaveImage`` (from the service's
timer, when the playing image's file is gone) and ``ApplySchedule`` (from the
scheduler); ``EngineCommand`` is every command the
render loop applies. Knows nothing of paho, topics or Flask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from appliance.content.schedule_model import InForce
from appliance.settings import Settings
from appliance.wire.commands import BaseCommand, Command


@dataclass(frozen=True)
class ApplySettings(BaseCommand):
    """Put validated settings in force (from the config service; never from the wire)."""

    ACTION: ClassVar[str] = "apply_settings"
    settings: Settings


@dataclass(frozen=True)
class LeaveImage(BaseCommand):
    """Stop showing a stored image whose file is gone (from ``watch_image``; never the wire)."""

    ACTION: ClassVar[str] = "leave_image"
    COUNTED: ClassVar[bool] = False
    image_id: str = ""


@dataclass(frozen=True)
class ApplySchedule(BaseCommand):
    """Put what the schedule says is in force now (from the scheduler; never the wire).

    Sent at boot, on every window boundary, after a settings change, a clock jump or
    ``cmd/schedule``; the render loop compares ``in_force.active`` with what it holds.
    """

    ACTION: ClassVar[str] = "apply_schedule"
    COUNTED: ClassVar[bool] = False
    in_force: InForce = field(default_factory=InForce)


#: What the render loop applies: every wire command plus the engine's own.
EngineCommand = Command | ApplySettings | LeaveImage | ApplySchedule
