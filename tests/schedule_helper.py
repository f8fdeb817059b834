"""A minimal private schedule evaluator for the scheduler's tests (fixed ``HH:MM[:SS]`` only).

Stands in for ``appliance.content.schedule`` until that module exists: the unit tests
pass it to ``Scheduler`` directly, and an engine subprocess gets it through the public
test hook ``$LIGHTBOX_EXTRA_ANIMATIONS=tests.schedule_helper``, which registers it
under the product's name only when the product has no evaluator of its own (so the
real one always wins). Not product code: no sun times, no validation.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from appliance.content.schedule_model import Boundary, Evaluation, InForce, LookAction
from appliance.settings.schedule_schema import (
    DAYS,
    BrightnessCapAction,
    Location,
    PlaylistAction,
    PowerAction,
    PresetAction,
    ScheduleWindow,
)

PRODUCT = "appliance.content.schedule"


def resolve_timezone(name: str | None) -> ZoneInfo:
    """The zone named, or UTC."""
    return ZoneInfo(name or "UTC")


def _clock(text: str) -> time:
    parts = [int(p) for p in text.split(":")]
    return time(*parts)


def _spans(w: ScheduleWindow, tz: ZoneInfo, now: float) -> list[tuple[float, float]]:
    """The window's open spans (epoch seconds) starting from yesterday to a week ahead."""
    today = datetime.fromtimestamp(now, tz).date()
    out = []
    for k in range(-1, 9):
        day = today + timedelta(days=k)
        if DAYS[day.weekday()] not in w.days:
            continue
        start = datetime.combine(day, _clock(w.start), tz)
        end = datetime.combine(day, _clock(w.end), tz)
        if end <= start:
            end += timedelta(days=1)
        out.append((start.timestamp(), end.timestamp()))
    return out


def _look(w: ScheduleWindow) -> LookAction | None:
    a = w.action
    if isinstance(a, PresetAction):
        return LookAction("preset", a.preset)
    if isinstance(a, PlaylistAction):
        return LookAction("playlist", a.playlist)
    if isinstance(a, PowerAction):
        return LookAction("off")
    return None


def evaluate(windows: list[ScheduleWindow], tz: ZoneInfo, location: Location | None,
             now: float) -> Evaluation:
    """What the windows put in force at ``now`` and the next boundary."""
    active, look, look_window, cap = [], None, None, None
    nxt: Boundary | None = None
    for w in windows:
        if not w.enabled:
            continue
        for start, end in _spans(w, tz, now):
            if start <= now < end:
                active.append(w.name)
                if _look(w) is not None:
                    look, look_window = _look(w), w.name
                if isinstance(w.action, BrightnessCapAction):
                    cap = w.action.brightness_max
            for at, change in ((start, "start"), (end, "end")):
                if at > now and (nxt is None or at < nxt.at):
                    nxt = Boundary(w.name, at, change)  # type: ignore[arg-type]
    names = tuple(dict.fromkeys(active))
    return Evaluation(now, InForce(names, look, look_window, cap), nxt)


def week_plan(windows: list[ScheduleWindow], tz: ZoneInfo, location: Location | None,
              now: float) -> list[dict[str, Any]]:
    """Seven local dates from today, without sun times or spans (enough for the tests)."""
    today = datetime.fromtimestamp(now, tz).date()
    return [{"date": (today + timedelta(days=k)).isoformat(), "sunrise": None, "sunset": None,
             "spans": []} for k in range(7)]


if importlib.util.find_spec(PRODUCT) is None:
    sys.modules[PRODUCT] = sys.modules[__name__]
