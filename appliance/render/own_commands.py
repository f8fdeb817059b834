"""The commands the engine queues for itself, which never come from the wire.

``ApplySettings`` (from the config service) and ``LeaveImage`` (from the service's
timer, when the playing image's file is gone); ``EngineCommand`` is every command the
render loop applies. Knows nothing of paho, topics or Flask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

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
    image_id: str = ""


#: What the render loop applies: every wire command plus the engine's own.
EngineCommand = Command | ApplySettings | LeaveImage
