"""The schedule parts of settings.json (contract section 8): time zone, location, windows.

Pure pydantic models and the grammar of a window's times. A window is open from
``start`` to ``end`` local time on its days; ``start``/``end`` are ``HH:MM[:SS]`` or
``sunrise``/``sunset`` with an optional offset (``sunset-30m``, ``sunrise+1h30m``).
Each time is parsed once, at validation, into a ``TimeSpec`` (``window.start_spec``),
so the evaluator never parses a string. Knows no clocks and computes no sun times:
``appliance.content.schedule`` evaluates what these describe.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from appliance.wire.look_commands import LOOK_NAME, LookName

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: The largest offset from sunrise or sunset, in seconds (12 h either way).
MAX_SUN_OFFSET_S = 12 * 3600
#: Most windows in ``schedule``.
MAX_WINDOWS = 100
#: Longest accepted time zone name (the longest IANA name has 32 characters).
MAX_TIMEZONE_LEN = 64

_CLOCK_RE = re.compile(r"\A([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?\Z")
_SUN_RE = re.compile(r"\A(sunrise|sunset)"
                     r"(?:([+-])(?:(\d{1,5})h)?(?:(\d{1,5})m)?(?:(\d{1,5})s)?)?\Z")
_TZ_RE = re.compile(r"\A[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9][A-Za-z0-9_+-]*)*\Z")
#: Files in the zoneinfo folder that are not zones a person means.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
_TIME_FORMS = ("`HH:MM`, `HH:MM:SS`, `sunrise` or `sunset` with an optional offset "
               "such as `sunset-30m`, `sunrise+1h30m` or `sunset-90s`")


@dataclass(frozen=True)
class TimeSpec:
    """A parsed ``start``/``end``: a local clock time or a sun event with an offset.

    ``seconds`` is the time of day (0-86399) for ``clock``, the signed offset for
    ``sunrise``/``sunset``.
    """

    kind: Literal["clock", "sunrise", "sunset"]
    seconds: int

    @property
    def is_sun(self) -> bool:
        """True for sunrise or sunset (needs a location)."""
        return self.kind != "clock"

    def __str__(self) -> str:
        if self.kind == "clock":
            h, rest = divmod(self.seconds, 3600)
            m, s = divmod(rest, 60)
            return f"{h:02d}:{m:02d}" + (f":{s:02d}" if s else "")
        if not self.seconds:
            return self.kind
        sign, left = ("-" if self.seconds < 0 else "+"), abs(self.seconds)
        h, rest = divmod(left, 3600)
        m, s = divmod(rest, 60)
        parts = [f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (s, "s")) if v]
        return self.kind + sign + "".join(parts)


def parse_time(text: str) -> TimeSpec:
    """Parse a window time; raise ValueError with the accepted forms."""
    clock = _CLOCK_RE.match(text)
    if clock:
        h, m, s = (int(g) if g else 0 for g in clock.groups())
        return TimeSpec("clock", h * 3600 + m * 60 + s)
    sun = _SUN_RE.match(text)
    if not sun:
        raise ValueError(f"{text!r} is not a time: use {_TIME_FORMS}")
    kind, sign, hours, minutes, secs = sun.groups()
    if sign and not (hours or minutes or secs):
        raise ValueError(f"{text!r}: an offset needs a number and a unit (h, m or s), "
                         f"e.g. {kind}{sign}30m")
    offset = int(hours or 0) * 3600 + int(minutes or 0) * 60 + int(secs or 0)
    if offset > MAX_SUN_OFFSET_S:
        raise ValueError(f"{text!r}: the offset is more than 12h from {kind}")
    return TimeSpec("sunrise" if kind == "sunrise" else "sunset",
                    -offset if sign == "-" else offset)


def check_timezone(name: str | None) -> str | None:
    """Return ``name`` if it is an IANA time zone this system knows; raise ValueError if not."""
    if name is None:
        return None
    if len(name) > MAX_TIMEZONE_LEN or not _TZ_RE.match(name) or name in _NOT_ZONES:
        raise ValueError(f"{name[:MAX_TIMEZONE_LEN]!r} is not an IANA time zone name "
                         "(such as Europe/Berlin, America/New_York or UTC); "
                         "null means the system's")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{name!r} is not a time zone this system knows "
                         "(such as Europe/Berlin, America/New_York or UTC); "
                         "null means the system's") from None
    return name


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

    name: str
    days: Annotated[list[Day], Field(min_length=1, max_length=7)] = Field(
        default_factory=lambda: list(DAYS))
    start: str
    end: str
    action: ScheduleAction
    enabled: bool = True

    _start_spec: TimeSpec | None = PrivateAttr(default=None)
    _end_spec: TimeSpec | None = PrivateAttr(default=None)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.match(LOOK_NAME, v):
            raise ValueError(f"{v[:60]!r} is not a window name: 1-40 letters, digits, "
                             "spaces, `_` and `-`, not starting or ending with a space")
        return v

    @field_validator("start", "end")
    @classmethod
    def _time(cls, v: str) -> str:
        parse_time(v)
        return v

    @field_validator("days")
    @classmethod
    def _unique_days(cls, v: list[Day]) -> list[Day]:
        twice = sorted({d for d in v if v.count(d) > 1}, key=DAYS.index)
        if twice:
            raise ValueError(f"{', '.join(twice)} listed more than once; list each day once")
        return v

    @model_validator(mode="after")
    def _parsed(self) -> ScheduleWindow:
        # Runs again on assignment (validate_assignment), so the specs never go stale.
        self._start_spec, self._end_spec = parse_time(self.start), parse_time(self.end)
        if self._start_spec == self._end_spec:
            raise ValueError(f"\nend: the same as start ({self.start}); a window needs a "
                             "length; for a whole day use two windows, such as 00:00-12:00 "
                             "and 12:00-00:00")
        return self

    @property
    def start_spec(self) -> TimeSpec:
        """``start``, parsed."""
        if self._start_spec is None:  # built without validation (model_construct)
            self._start_spec = parse_time(self.start)
        return self._start_spec

    @property
    def end_spec(self) -> TimeSpec:
        """``end``, parsed."""
        if self._end_spec is None:
            self._end_spec = parse_time(self.end)
        return self._end_spec

    @property
    def uses_sun(self) -> bool:
        """True when start or end is a sun time."""
        return self.start_spec.is_sun or self.end_spec.is_sun


def schedule_problems(location: Location | None,
                      windows: Sequence[ScheduleWindow]) -> list[str]:
    """Return ``dotted.path: message`` lines for what no single window can check.

    Window names are unique; sun times need a location.
    """
    problems = []
    seen: dict[str, int] = {}
    for i, w in enumerate(windows):
        if w.name in seen:
            problems.append(f"schedule.{i}.name: {w.name!r} is already the name of "
                            f"schedule.{seen[w.name]}; window names must be unique")
        else:
            seen[w.name] = i
        if location is None:
            for key, spec in (("start", w.start_spec), ("end", w.end_spec)):
                if spec.is_sun:
                    problems.append(f"schedule.{i}.{key}: {spec.kind} needs `location` "
                                    "(latitude and longitude) to be set")
    return problems
