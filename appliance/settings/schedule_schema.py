"""The schedule parts of settings.json (contract section 8): time zone, location, windows.

Pure pydantic models. A window is open from ``start`` to ``end`` local time on its
days; ``start``/``end`` are ``HH:MM[:SS]`` or ``sunrise``/``sunset`` with an offset.
Knows no clocks: ``appliance.content.schedule`` evaluates what these describe.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from appliance.wire.look_commands import LookName

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Location(_Section):
    """Where the box is, for sunrise and sunset (computed offline)."""

    latitude: Annotated[float, Field(ge=-90, le=90)]
    longitude: Annotated[float, Field(ge=-180, le=180)]


class PresetAction(_Section):
    preset: LookName


class PlaylistAction(_Section):
    playlist: LookName


class PowerAction(_Section):
    power: Literal["OFF"]


class BrightnessCapAction(_Section):
    brightness_max: Annotated[int, Field(ge=1, le=100)]


ScheduleAction = PresetAction | PlaylistAction | PowerAction | BrightnessCapAction


class ScheduleWindow(_Section):
    """One window: while it is open, its action is in force."""

    name: Annotated[str, Field(min_length=1, max_length=40)]
    days: list[Day] = Field(default_factory=lambda: list(DAYS))
    start: str
    end: str
    action: ScheduleAction
    enabled: bool = True
