"""The values the schedule hands to the render loop (contract section 8).

``InForce`` is what the open windows put in force at one moment; ``Boundary`` is
the next moment that changes; ``Evaluation`` is both. Made by the evaluator
(``appliance.content.schedule``) off the frame path, applied by the render loop.
Pure values: no clocks, files, MQTT or time zones here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class LookAction:
    """What a window shows: a preset, a playlist, or the panel OFF."""

    kind: Literal["preset", "playlist", "off"]
    name: str | None = None  # the preset's or playlist's name; None for "off"


@dataclass(frozen=True)
class InForce:
    """What the schedule puts in force now.

    Two channels, each won by the latest open window (in settings order) that acts
    on it: the look (preset, playlist or power OFF) and the brightness cap.
    """

    active: tuple[str, ...] = ()  # names of the open windows, in settings order
    look: LookAction | None = None
    look_window: str | None = None  # the window whose look is in force
    brightness_max: int | None = None

    @property
    def empty(self) -> bool:
        """True when no window acts."""
        return self.look is None and self.brightness_max is None


@dataclass(frozen=True)
class Boundary:
    """The next change: a window starts or ends at ``at`` (epoch seconds)."""

    name: str
    at: float
    change: Literal["start", "end"]


@dataclass(frozen=True)
class Evaluation:
    """What is in force at ``now`` and what changes next (None: nothing ever does)."""

    now: float
    in_force: InForce
    next: Boundary | None
