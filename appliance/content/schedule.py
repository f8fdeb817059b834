"""The schedule evaluator (contract section 8): what the windows put in force at a moment.

Owns the meaning of a window in time: which days it opens, where it starts and ends
(midnight crossing, DST gaps and repeats, sun times), what is in force at ``now``
and the next boundary, and the week plan the UI draws. Pure and stateless: the time
(``now``, epoch seconds) and the time zone are arguments, so a clock jump in either
direction is just another call. Knows no threads, MQTT, render loop or files (but
``resolve_timezone``, which reads the system's zone once).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TypedDict, assert_never
from zoneinfo import ZoneInfo

from appliance.content.schedule_model import Boundary, Evaluation, InForce, LookAction
from appliance.content.sun import sun_time
from appliance.settings.schedule_schema import (
    DAYS,
    MAX_SUN_OFFSET_S,
    BrightnessCapAction,
    Location,
    PlaylistAction,
    PowerAction,
    PresetAction,
    ScheduleWindow,
    TimeSpec,
    check_timezone,
)

#: How far ahead ``next`` is searched (a weekly window always changes within it).
HORIZON_S = 8 * 86400
_ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class _Reach:
    """How far a window opening on day D can lie from D, in whole days and seconds.

    An occurrence of D starts no earlier than ``lead_s`` before D's local midnight and
    is over by the end of day D + ``back_days``. Clock windows: D itself (1 h for
    DST), ending by D+1. A sun time lies within 12.5 h of its solar noon, which lies
    on day D, and may be offset by 12 h: 24.5 h before D, ending by D+3.
    """

    back_days: int  # days before today whose windows may still be open
    ahead_days: int  # days after today whose windows may already be open
    lead_s: float


_CLOCK_REACH = _Reach(back_days=1, ahead_days=0, lead_s=3600)
_SUN_REACH = _Reach(back_days=3, ahead_days=2, lead_s=MAX_SUN_OFFSET_S + 14 * 3600)


@lru_cache(maxsize=8192)
def local_instant(date: dt.date, seconds: int, tz: ZoneInfo) -> float:
    """Return the epoch seconds of the wall time ``seconds`` after midnight on ``date``.

    A repeated wall time (DST ends) is its first occurrence; a skipped one (DST
    starts) is the moment the clock jumps past it.
    """
    h, rest = divmod(seconds, 3600)
    wall = dt.datetime(date.year, date.month, date.day, h, rest // 60, rest % 60, tzinfo=tz)
    t = wall.timestamp()  # fold=0: the earlier reading of a repeated time
    if dt.datetime.fromtimestamp(t, tz).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return t
    # In a gap: the jump lies between the readings with the offsets after and before it.
    lo, hi = int(wall.replace(fold=1).timestamp()), int(t)
    after = dt.datetime.fromtimestamp(hi, tz).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if dt.datetime.fromtimestamp(mid, tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return float(hi)


def _instant(spec: TimeSpec, date: dt.date, tz: ZoneInfo, loc: Location | None) -> float | None:
    """Return when ``spec`` happens on ``date``; None for a sun time that does not."""
    if spec.kind == "clock":
        return local_instant(date, spec.seconds, tz)
    if loc is None:
        return None
    sun = sun_time(spec.kind, loc.latitude, loc.longitude, date, tz)
    return None if sun is None else sun + spec.seconds


@dataclass(frozen=True)
class _Window:
    """A window as the evaluator reads it: parsed once per call, no pydantic lookups."""

    index: int
    weekdays: frozenset[int]
    start: TimeSpec
    end: TimeSpec


def _compiled(windows: Sequence[ScheduleWindow]) -> tuple[list[_Window], _Reach]:
    out = [_Window(i, frozenset(DAYS.index(d) for d in w.days), w.start_spec, w.end_spec)
           for i, w in enumerate(windows) if w.enabled]
    sun = any(w.start.is_sun or w.end.is_sun for w in out)
    return out, (_SUN_REACH if sun else _CLOCK_REACH)


def occurrence(window: ScheduleWindow, date: dt.date, tz: ZoneInfo,
               loc: Location | None) -> tuple[float, float] | None:
    """Return (start, end) of ``window`` opening on ``date``; None if it does not open.

    Ignores ``days`` and ``enabled``. The end is on the same date, or the next one
    when it is not after the start (the window crosses midnight).
    """
    return _span(window.start_spec, window.end_spec, date, tz, loc)


def _span(a: TimeSpec, b: TimeSpec, date: dt.date, tz: ZoneInfo,
          loc: Location | None) -> tuple[float, float] | None:
    start = _instant(a, date, tz, loc)
    if start is None:
        return None
    if a.kind == "clock" and b.kind == "clock":  # wall clock decides the day
        end: float | None = local_instant(date if b.seconds > a.seconds else date + _ONE_DAY,
                                          b.seconds, tz)
    else:
        end = _instant(b, date, tz, loc)
        if end is None or end <= start:
            end = _instant(b, date + _ONE_DAY, tz, loc)
    if end is None or end <= start:  # a sun time that never comes, or both in one DST gap
        return None
    return start, end


def _occurrences(windows: list[_Window], date: dt.date, tz: ZoneInfo,
                 loc: Location | None) -> Iterator[tuple[int, float, float]]:
    """Yield (index, start, end) for every window that opens on ``date``."""
    day = date.weekday()
    for w in windows:
        if day in w.weekdays:
            occ = _span(w.start, w.end, date, tz, loc)
            if occ is not None:
                yield w.index, occ[0], occ[1]


def _look_of(window: ScheduleWindow) -> tuple[LookAction | None, int | None]:
    """Return (look, brightness cap) of a window's action: one of them is None."""
    action = window.action
    match action:
        case PresetAction():
            return LookAction("preset", action.preset), None
        case PlaylistAction():
            return LookAction("playlist", action.playlist), None
        case PowerAction():
            return LookAction("off"), None
        case BrightnessCapAction():
            return None, action.brightness_max
        case _:
            assert_never(action)


def in_force(windows: Sequence[ScheduleWindow], open_: set[int]) -> InForce:
    """Return what the open windows (indices) put in force: the later one per channel."""
    look: LookAction | None = None
    look_window: str | None = None
    cap: int | None = None
    for i in sorted(open_):
        w_look, w_cap = _look_of(windows[i])
        if w_look is not None:
            look, look_window = w_look, windows[i].name
        if w_cap is not None:
            cap = w_cap
    return InForce(active=tuple(windows[i].name for i in sorted(open_)), look=look,
                   look_window=look_window, brightness_max=cap)


def evaluate(windows: Sequence[ScheduleWindow], tz: ZoneInfo, location: Location | None,
             now: float) -> Evaluation:
    """Return what is in force at ``now`` (epoch seconds) and the next boundary after it.

    ``next`` is the earliest start or end strictly after ``now`` within 8 days; None
    when nothing changes in that time. Disabled windows are ignored.
    """
    if not math.isfinite(now):
        raise ValueError("now must be a finite number of epoch seconds")
    today = dt.datetime.fromtimestamp(now, tz).date()
    compiled, reach = _compiled(windows)
    open_: set[int] = set()
    best: tuple[float, int, str] | None = None  # (at, index, change)
    for k in range(-reach.back_days, HORIZON_S // 86400 + reach.ahead_days + 1):
        date = today + dt.timedelta(days=k)
        if (k > reach.ahead_days and best is not None
                and local_instant(date, 0, tz) - reach.lead_s > best[0]):
            break  # every later boundary is after the best one found
        for i, start, end in _occurrences(compiled, date, tz, location):
            if start <= now < end:
                open_.add(i)
            for at, change in ((start, "start"), (end, "end")):
                if now < at <= now + HORIZON_S and (best is None or at < best[0]):
                    best = (at, i, change)
    boundary = None
    if best is not None:
        at, i, change = best
        boundary = Boundary(name=windows[i].name, at=at,
                            change="start" if change == "start" else "end")
    return Evaluation(now=now, in_force=in_force(windows, open_), next=boundary)


class Span(TypedDict):
    """A window's part within one date, local ``HH:MM`` (``end`` ``24:00`` at midnight)."""

    name: str
    start: str
    end: str


class DayPlan(TypedDict):
    """One local date of the week plan (JSON-ready)."""

    date: str  # YYYY-MM-DD
    sunrise: str | None
    sunset: str | None
    spans: list[Span]


def _hhmm(t: float, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(t, tz).strftime("%H:%M")


def _sun_hhmm(t: float | None, tz: ZoneInfo) -> str | None:
    """Return a sun time as local ``HH:MM``, to the nearest minute."""
    return None if t is None else _hhmm(round(t / 60) * 60, tz)


def week_plan(windows: Sequence[ScheduleWindow], tz: ZoneInfo, location: Location | None,
              now: float, days: int = 7) -> list[DayPlan]:
    """Return the next ``days`` local dates (today first) for the UI's 24-hour strips.

    Each: ``{"date", "sunrise", "sunset", "spans": [{"name", "start", "end"}]}`` with
    local ``HH:MM`` times (``end`` ``24:00`` at midnight); a span is a window clipped
    to that date, so one crossing midnight gives two. Sun times are null without a
    location or when the sun does not rise or set. Disabled windows are left out.
    """
    today = dt.datetime.fromtimestamp(now, tz).date()
    dates = [today + dt.timedelta(days=k) for k in range(days)]
    compiled, reach = _compiled(windows)
    occs = [occ for k in range(-reach.back_days, days + reach.ahead_days)
            for occ in _occurrences(compiled, today + dt.timedelta(days=k), tz, location)]
    plan: list[DayPlan] = []
    for date in dates:
        lo, hi = local_instant(date, 0, tz), local_instant(date + _ONE_DAY, 0, tz)
        clipped = sorted((max(s, lo), min(e, hi), i) for i, s, e in occs if s < hi and e > lo)
        spans = [Span(name=windows[i].name, start=_hhmm(s, tz),
                      end="24:00" if e >= hi else _hhmm(e, tz)) for s, e, i in clipped]
        rise = set_ = None
        if location is not None:
            rise = _sun_hhmm(sun_time("sunrise", location.latitude, location.longitude,
                                      date, tz), tz)
            set_ = _sun_hhmm(sun_time("sunset", location.latitude, location.longitude,
                                      date, tz), tz)
        plan.append(DayPlan(date=date.isoformat(), sunrise=rise, sunset=set_, spans=spans))
    return plan


def resolve_timezone(name: str | None, *, env: Mapping[str, str] | None = None,
                     localtime: Path = Path("/etc/localtime"),
                     timezone_file: Path = Path("/etc/timezone")) -> ZoneInfo:
    """Return the zone ``name``, or the system's when None (``TZ``, then
    /etc/localtime's link, then /etc/timezone; UTC when none names a zone).

    Raise ValueError for a name this system does not know.
    """
    if name is not None:
        return ZoneInfo(check_timezone(name) or "UTC")
    env = os.environ if env is None else env
    candidates = [env.get("TZ", "").removeprefix(":")]
    with contextlib.suppress(OSError):
        candidates.append(os.readlink(localtime).partition("zoneinfo/")[2])
    with contextlib.suppress(OSError, UnicodeDecodeError):
        candidates.append(timezone_file.read_text(encoding="utf-8").strip())
    for candidate in candidates:
        try:
            if candidate and check_timezone(candidate):
                return ZoneInfo(candidate)
        except ValueError:
            continue
    return ZoneInfo("UTC")
