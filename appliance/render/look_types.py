"""The small values of the base layer's look: who changed it and what it showed.

``By`` (hand, schedule, boot), ``Built`` (an item ready to show) and ``LookSnapshot``
(what to return to when a schedule window closes). Shared by ``render.looks`` and
``render.schedule_apply``; pure values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from appliance.render.factory import ActiveAnimation

#: An item ready to show: its animation and the brightness it brings (None: unchanged).
Built = tuple[ActiveAnimation, int | None]
#: Who changed the look: a person (any command from MQTT or HTTP), the schedule, or the
#: boot policy (only "hand" counts as hand-made).
By = Literal["hand", "schedule", "boot"]


@dataclass(frozen=True)
class LookSnapshot:
    """What the base showed at one moment, to return to when a schedule window closes."""

    animation: str
    params: dict[str, Any] = field(default_factory=dict)
    power_on: bool = True
    preset: str | None = None
    playlist: str | None = None  # the playing playlist's name
    playlist_index: int = 0
