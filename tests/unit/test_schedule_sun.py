"""Sun times: astral's answers against an independent NOAA computation, and polar days.

The reference below is NOAA's solar calculator (its spreadsheet's formulas: Julian
century, the sun's apparent longitude, obliquity, declination, equation of time,
and the hour angle for a zenith of 90.833 degrees), written here from the published
formulas and iterated at the event's own time, in UTC, with no astral and no zones.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from appliance.content.schedule import evaluate, week_plan
from appliance.content.sun import SunEvent, solar_noon, sun_time, sun_times
from appliance.settings.schedule_schema import Location, ScheduleWindow

TOLERANCE_S = 120
EVENTS: tuple[SunEvent, ...] = ("sunrise", "sunset")

PLACES = {  # name: (latitude, longitude, zone)
    "Berlin": (52.52, 13.405, "Europe/Berlin"),
    "New York": (40.7128, -74.006, "America/New_York"),
    "Sydney": (-33.8688, 151.2093, "Australia/Sydney"),
    "Quito": (-0.1807, -78.4678, "America/Guayaquil"),
    "Reykjavik": (64.1466, -21.9426, "Atlantic/Reykjavik"),
    "Honolulu": (21.3069, -157.8583, "Pacific/Honolulu"),
}
DATES = [dt.date(2026, 3, 20), dt.date(2026, 6, 21), dt.date(2026, 9, 23),
         dt.date(2026, 12, 21), dt.date(2027, 2, 14)]
TROMSO = Location(latitude=69.65, longitude=18.96)
SVALBARD = Location(latitude=78.22, longitude=15.65)
OSLO_TZ = ZoneInfo("Europe/Oslo")


def noaa(event: str, lat: float, lon: float, date: dt.date) -> float | None:
    """Epoch seconds of sunrise/sunset near local ``date``, or None if the sun does not."""
    midnight = dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC).timestamp()
    minutes = 720.0 - 4 * lon  # solar noon, to start
    for _ in range(4):  # evaluate the sun's position at the event itself
        t = (midnight + minutes * 60) / 86400 + 2440587.5  # Julian day
        c = (t - 2451545.0) / 36525  # Julian centuries since J2000
        l0 = math.radians((280.46646 + c * (36000.76983 + c * 0.0003032)) % 360)
        m = math.radians(357.52911 + c * (35999.05029 - 0.0001537 * c))
        e = 0.016708634 - c * (0.000042037 + 0.0000001267 * c)
        centre = (math.sin(m) * (1.914602 - c * (0.004817 + 0.000014 * c))
                  + math.sin(2 * m) * (0.019993 - 0.000101 * c) + math.sin(3 * m) * 0.000289)
        omega = math.radians(125.04 - 1934.136 * c)
        apparent = math.radians(math.degrees(l0) + centre - 0.00569 - 0.00478 * math.sin(omega))
        obliquity = math.radians(23 + (26 + (21.448 - c * (46.815 + c * (0.00059 - c * 0.001813)))
                                       / 60) / 60 + 0.00256 * math.cos(omega))
        decl = math.asin(math.sin(obliquity) * math.sin(apparent))
        y = math.tan(obliquity / 2) ** 2
        eqtime = 4 * math.degrees(y * math.sin(2 * l0) - 2 * e * math.sin(m)
                                  + 4 * e * y * math.sin(m) * math.cos(2 * l0)
                                  - 0.5 * y * y * math.sin(4 * l0) - 1.25 * e * e * math.sin(2 * m))
        phi = math.radians(lat)
        cos_ha = (math.cos(math.radians(90.833)) / (math.cos(phi) * math.cos(decl))
                  - math.tan(phi) * math.tan(decl))
        if abs(cos_ha) > 1:
            return None
        ha = math.degrees(math.acos(cos_ha))
        minutes = 720 - 4 * (lon + (ha if event == "sunrise" else -ha)) - eqtime
    return midnight + minutes * 60


@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize("date", DATES, ids=str)
def test_sun_times_agree_with_noaa(place: str, date: dt.date) -> None:
    lat, lon, zone = PLACES[place]
    tz = ZoneInfo(zone)
    rise, set_ = sun_times(lat, lon, date, tz)
    ref_rise, ref_set = noaa("sunrise", lat, lon, date), noaa("sunset", lat, lon, date)
    assert rise is not None and set_ is not None and ref_rise and ref_set
    assert abs(rise - ref_rise) < TOLERANCE_S, (rise - ref_rise)
    assert abs(set_ - ref_set) < TOLERANCE_S, (set_ - ref_set)
    noon = solar_noon(lat, lon, date, tz)
    assert dt.datetime.fromtimestamp(noon, tz).date() == date
    assert noon - 13 * 3600 < rise < noon < set_ < noon + 13 * 3600  # the date's own


def test_a_sunset_after_midnight_is_the_evening_s() -> None:
    """Reykjavik, 21 June: the sun sets at about 00:04 on the 22nd; that is the 21st's."""
    lat, lon, zone = PLACES["Reykjavik"]
    tz = ZoneInfo(zone)
    set_21 = sun_time("sunset", lat, lon, dt.date(2026, 6, 21), tz)
    assert set_21 is not None
    assert dt.datetime.fromtimestamp(set_21, tz).strftime("%d %H") == "22 00"
    set_20 = sun_time("sunset", lat, lon, dt.date(2026, 6, 20), tz)
    assert set_20 is not None and 86000 < set_21 - set_20 < 86800
    loc = Location(latitude=lat, longitude=lon)
    plan = week_plan([win("dusk", "sunset-1h", "sunset+1h")], tz, loc,
                     dt.datetime(2026, 6, 21, 12, tzinfo=tz).timestamp())
    assert plan[0]["sunset"] in ("00:03", "00:04", "00:05")
    early, late = plan[0]["spans"]
    assert (early["start"], early["end"][:4]) == ("00:00", "01:0")  # the 20th's, ending
    assert (late["start"][:4], late["end"]) == ("23:0", "24:00")  # the 21st's, starting


def win(name: str, start: str, end: str, **extra: Any) -> ScheduleWindow:
    return ScheduleWindow.model_validate({"name": name, "start": start, "end": end,
                                          "action": {"power": "OFF"}, **extra})


@pytest.mark.parametrize("place", ["Berlin", "Sydney", "New York"])
def test_a_sun_window_opens_at_the_independent_sunset_minus_offset(place: str) -> None:
    lat, lon, zone = PLACES[place]
    tz, loc = ZoneInfo(zone), Location(latitude=lat, longitude=lon)
    ws = [win("dusk", "sunset-30m", "sunrise+1h")]
    date = dt.date(2026, 5, 5)
    noon = dt.datetime(2026, 5, 5, 12, tzinfo=tz).timestamp()
    ev = evaluate(ws, tz, loc, noon)
    ref_set = noaa("sunset", lat, lon, date)
    ref_rise = noaa("sunrise", lat, lon, date + dt.timedelta(days=1))
    assert ev.in_force.active == () and ev.next is not None and ref_set and ref_rise
    assert ev.next.change == "start" and abs(ev.next.at - (ref_set - 1800)) < TOLERANCE_S
    after = evaluate(ws, tz, loc, ev.next.at)
    assert after.in_force.active == ("dusk",) and after.next is not None
    assert after.next.change == "end" and abs(after.next.at - (ref_rise + 3600)) < TOLERANCE_S


# --- polar day and night ---------------------------------------------------------------


@pytest.mark.parametrize(("loc", "date"), [(TROMSO, dt.date(2026, 6, 21)),
                                          (TROMSO, dt.date(2026, 12, 21)),
                                          (SVALBARD, dt.date(2026, 6, 1)),
                                          (SVALBARD, dt.date(2026, 12, 1))], ids=str)
def test_no_sunrise_or_sunset_in_polar_day_and_night(loc: Location, date: dt.date) -> None:
    assert sun_times(loc.latitude, loc.longitude, date, OSLO_TZ) == (None, None)
    assert noaa("sunset", loc.latitude, loc.longitude, date) is None  # the reference agrees


@pytest.mark.parametrize("month", [6, 12])
@pytest.mark.parametrize("loc", [TROMSO, SVALBARD], ids=["Tromso", "Svalbard"])
def test_a_window_whose_sun_time_never_comes_never_opens(loc: Location, month: int) -> None:
    ws = [win("dusk", "sunset-30m", "23:00"), win("night", "sunset", "sunrise"),
          win("day", "sunrise", "sunset"), win("morning", "05:00", "sunrise+1h")]
    t0 = dt.datetime(2026, month, 18, tzinfo=OSLO_TZ).timestamp()
    for hour in range(0, 24 * 7, 3):
        ev = evaluate(ws, OSLO_TZ, loc, t0 + hour * 3600)
        assert ev.in_force.active == () and ev.next is None
    plan = week_plan(ws, OSLO_TZ, loc, t0)
    assert all(d["sunrise"] is None and d["sunset"] is None and d["spans"] == [] for d in plan)
    json.dumps(plan, allow_nan=False)


def test_clock_windows_still_work_beside_polar_ones() -> None:
    ws = [win("dusk", "sunset", "23:00"), win("evening", "20:00", "22:00")]
    t = dt.datetime(2026, 6, 21, 12, tzinfo=OSLO_TZ).timestamp()
    ev = evaluate(ws, OSLO_TZ, TROMSO, t)
    assert ev.next is not None and ev.next.name == "evening"
    assert ev.next.at == dt.datetime(2026, 6, 21, 20, tzinfo=OSLO_TZ).timestamp()


@pytest.mark.parametrize("loc", [TROMSO, SVALBARD, Location(latitude=90, longitude=0),
                                 Location(latitude=-90, longitude=0),
                                 Location(latitude=-77.85, longitude=166.67)],
                         ids=["Tromso", "Svalbard", "north pole", "south pole", "McMurdo"])
def test_a_whole_year_near_the_poles_never_crashes(loc: Location) -> None:
    """Around the first and last sunsets the sun may set after midnight or not at all."""
    ws = [win("dusk", "sunset-30m", "sunrise+30m"), win("day", "sunrise", "sunset"),
          win("late", "22:00", "sunrise")]
    t = dt.datetime(2026, 1, 1, tzinfo=OSLO_TZ).timestamp()
    seen_open = set()
    for day in range(0, 366, 2):
        now = t + day * 86400 + 43200
        ev = evaluate(ws, OSLO_TZ, loc, now)
        seen_open |= set(ev.in_force.active)
        if ev.next is not None:
            assert now < ev.next.at <= now + 8 * 86400
        for key in EVENTS:
            value = sun_time(key, loc.latitude, loc.longitude,
                             dt.date(2026, 1, 1) + dt.timedelta(days=day), OSLO_TZ)
            assert value is None or math.isfinite(value)
    if abs(loc.latitude) < 80:
        assert "day" in seen_open  # sunrise and sunset do come in spring and autumn


def test_week_plan_shows_a_window_starting_the_evening_before_its_day() -> None:
    """`sunrise-12h` on a Tuesday starts on Monday evening: the strip shows it there."""
    lat, lon, zone = PLACES["Berlin"]
    tz, loc = ZoneInfo(zone), Location(latitude=lat, longitude=lon)
    ws = [win("vigil", "sunrise-12h", "sunrise", days=["tue"])]
    plan = week_plan(ws, tz, loc, dt.datetime(2026, 6, 2, 12, tzinfo=tz).timestamp())
    assert [d["date"] for d in (plan[0], plan[6])] == ["2026-06-02", "2026-06-08"]
    (ending,) = plan[0]["spans"]
    (starting,) = plan[6]["spans"]  # Tuesday 9 June's window, from Monday evening
    assert (ending["start"], ending["end"][:3]) == ("00:00", "04:")
    assert (starting["start"][:3], starting["end"]) == ("16:", "24:00")
    assert all(d["spans"] == [] for d in plan[1:6])


def test_a_sun_window_far_from_its_day_is_still_found() -> None:
    """Reykjavik's sun on Lord Howe Island's clock (UTC+10:30): solar noon falls at local
    midnight, so Thursday 25 June's `sunrise-12h` is on Wednesday at about 01:26,
    22.5 h before Thursday begins; a search that stops at nearer days would miss it."""
    tz, loc = ZoneInfo("Australia/Lord_Howe"), Location(latitude=64.15, longitude=-21.94)
    ws = [win("far", "sunrise-12h", "sunrise-11h", days=["thu"]),
          win("near", "06:00", "07:00", days=["wed"])]
    now = dt.datetime(2026, 6, 23, 12, tzinfo=tz).timestamp()  # Tuesday noon
    ev = evaluate(ws, tz, loc, now)
    assert ev.next is not None and ev.next.name == "far"
    local = dt.datetime.fromtimestamp(ev.next.at, tz)
    assert (local.strftime("%a %d"), local.hour) == ("Wed 24", 1)
    assert evaluate(ws, tz, loc, ev.next.at).in_force.active == ("far",)
