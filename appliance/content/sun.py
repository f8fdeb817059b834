"""Sunrise and sunset for a place and a date, computed offline (astral).

Owns the one use of astral and its cache, and what "the sunset of a date" means:
the sunset after that date's solar noon, the sunrise before it (so in Reykjavik in
June, Saturday's sunset is a few minutes after midnight, Sunday morning). Polar day
and polar night (the sun does not rise or set that day) give None, never an
exception. Knows no windows, settings files or clocks.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

# astral is imported where a sun time is computed: only a schedule with a sunrise or
# sunset window needs it, so the engine's start-up does not load it otherwise.

SunEvent = Literal["sunrise", "sunset"]
#: A sunrise or sunset lies within half a day (hour angle <= 180 degrees) of its noon;
#: the extra half hour covers the equation of time.
_HALF_DAY_S = 12.5 * 3600
_ONE_DAY = dt.timedelta(days=1)


@lru_cache(maxsize=4096)
def _on_local_date(event: SunEvent, latitude: float, longitude: float, date: dt.date,
                   tz: ZoneInfo) -> float | None:
    """Return astral's sunrise/sunset whose local date is ``date``; None if there is none."""
    from astral import Observer
    from astral.sun import sunrise, sunset

    observer = Observer(latitude=latitude, longitude=longitude)
    try:
        when = (sunrise if event == "sunrise" else sunset)(observer, date, tz)
    except (ValueError, ArithmeticError):  # "always above/below the horizon", or no event
        return None
    return when.timestamp()


@lru_cache(maxsize=4096)
def solar_noon(latitude: float, longitude: float, date: dt.date, tz: ZoneInfo) -> float:
    """Return the epoch seconds of the solar noon on the local date ``date`` in ``tz``.

    (astral's noon is that of the UTC date; a zone far from the place's longitude,
    such as UTC+14 for Berlin, puts it on the local date before or after.)
    """
    from astral import Observer
    from astral.sun import noon

    observer = Observer(latitude=latitude, longitude=longitude)
    t = noon(observer, date, tz)
    shift = (date - t.date()).days  # -1, 0 or 1
    return (noon(observer, date + dt.timedelta(days=shift), tz) if shift else t).timestamp()


@lru_cache(maxsize=4096)
def sun_time(event: SunEvent, latitude: float, longitude: float, date: dt.date,
             tz: ZoneInfo) -> float | None:
    """Return the epoch seconds of ``date``'s sunrise (before its solar noon) or sunset
    (after it); None when the sun does not rise or set that day (polar day or night).
    """
    middle = solar_noon(latitude, longitude, date, tz)
    if event == "sunrise":
        for day in (date, date - _ONE_DAY):
            t = _on_local_date("sunrise", latitude, longitude, day, tz)
            if t is not None and middle - _HALF_DAY_S <= t < middle:
                return t
        return None
    for day in (date, date + _ONE_DAY):
        t = _on_local_date("sunset", latitude, longitude, day, tz)
        if t is not None and middle < t <= middle + _HALF_DAY_S:
            return t
    return None


def sun_times(latitude: float, longitude: float, date: dt.date,
              tz: ZoneInfo) -> tuple[float | None, float | None]:
    """Return (sunrise, sunset) of ``date``, each epoch seconds or None."""
    return (sun_time("sunrise", latitude, longitude, date, tz),
            sun_time("sunset", latitude, longitude, date, tz))
