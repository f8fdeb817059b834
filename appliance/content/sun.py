"""Sunrise and sunset for a place and a local date, computed offline (astral).

Owns the one call into astral and its cache. Polar day and polar night (the sun does
not rise or set that date) give None, never an exception. Knows no windows,
settings files or clocks.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from astral import Observer
from astral.sun import sunrise, sunset

SunEvent = Literal["sunrise", "sunset"]


@lru_cache(maxsize=4096)
def sun_time(event: SunEvent, latitude: float, longitude: float, date: dt.date,
             tz: ZoneInfo) -> float | None:
    """Return the epoch seconds of ``event`` on the local ``date`` in ``tz``.

    None when it does not happen that date (polar day or night, or the days around
    them when the sun touches the horizon once).
    """
    observer = Observer(latitude=latitude, longitude=longitude)
    try:
        when = (sunrise if event == "sunrise" else sunset)(observer, date, tz)
    except (ValueError, ArithmeticError):  # astral's "always above/below the horizon"
        return None
    return when.timestamp()


def sun_times(latitude: float, longitude: float, date: dt.date,
              tz: ZoneInfo) -> tuple[float | None, float | None]:
    """Return (sunrise, sunset) of the local ``date``, each epoch seconds or None."""
    return (sun_time("sunrise", latitude, longitude, date, tz),
            sun_time("sunset", latitude, longitude, date, tz))
