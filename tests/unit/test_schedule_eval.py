"""The schedule evaluator: windows in force at a moment and the next boundary.

Fixed time zones and explicit epoch times (built from UTC wall times); no clock,
no sleeping. 2026-06-01 is a Monday.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from appliance.content.schedule import evaluate, local_instant, week_plan
from appliance.content.schedule_model import Boundary, LookAction
from appliance.settings.schedule_schema import Location, ScheduleWindow

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
H = 3600


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> float:
    """Epoch seconds of a UTC wall time."""
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=dt.UTC).timestamp()


def win(name: str, start: str, end: str, action: dict[str, Any] | None = None,
        **extra: Any) -> ScheduleWindow:
    return ScheduleWindow.model_validate({"name": name, "start": start, "end": end,
                                          "action": action or {"power": "OFF"}, **extra})


def active(windows: list[ScheduleWindow], now: float, tz: ZoneInfo = UTC) -> tuple[str, ...]:
    return evaluate(windows, tz, None, now).in_force.active


def nxt(windows: list[ScheduleWindow], now: float, tz: ZoneInfo = UTC) -> Boundary | None:
    return evaluate(windows, tz, None, now).next


# --- kinds of window -------------------------------------------------------------------


def test_a_same_day_window_is_open_from_start_until_just_before_end() -> None:
    ws = [win("day", "08:00", "18:00:30")]
    assert active(ws, utc(2026, 6, 1, 7, 59, 59)) == ()
    assert active(ws, utc(2026, 6, 1, 8)) == ("day",)
    assert active(ws, utc(2026, 6, 1, 18, 0, 29)) == ("day",)
    assert active(ws, utc(2026, 6, 1, 18, 0, 30)) == ()
    assert nxt(ws, utc(2026, 6, 1, 7)) == Boundary("day", utc(2026, 6, 1, 8), "start")
    assert nxt(ws, utc(2026, 6, 1, 8)) == Boundary("day", utc(2026, 6, 1, 18, 0, 30), "end")
    assert nxt(ws, utc(2026, 6, 1, 19)) == Boundary("day", utc(2026, 6, 2, 8), "start")


def test_a_window_crossing_midnight_ends_the_next_day() -> None:
    ws = [win("night", "22:00", "06:00")]
    assert active(ws, utc(2026, 6, 1, 23)) == ("night",)
    assert active(ws, utc(2026, 6, 2, 5, 59)) == ("night",)
    assert active(ws, utc(2026, 6, 2, 6)) == ()
    assert nxt(ws, utc(2026, 6, 1, 23)) == Boundary("night", utc(2026, 6, 2, 6), "end")


def test_end_at_midnight_is_the_next_day() -> None:
    ws = [win("evening", "18:00", "00:00")]
    assert active(ws, utc(2026, 6, 1, 23, 59, 59)) == ("evening",)
    assert active(ws, utc(2026, 6, 2)) == ()
    assert nxt(ws, utc(2026, 6, 1, 19)) == Boundary("evening", utc(2026, 6, 2), "end")


def test_seconds_count() -> None:
    ws = [win("blink", "12:00:05", "12:00:07")]
    assert active(ws, utc(2026, 6, 1, 12, 0, 4)) == ()
    assert active(ws, utc(2026, 6, 1, 12, 0, 5)) == ("blink",)
    assert active(ws, utc(2026, 6, 1, 12, 0, 6) + 0.999) == ("blink",)
    assert active(ws, utc(2026, 6, 1, 12, 0, 7)) == ()


@pytest.mark.parametrize(("action", "look", "cap"), [
    ({"preset": "Warm"}, LookAction("preset", "Warm"), None),
    ({"playlist": "Party"}, LookAction("playlist", "Party"), None),
    ({"power": "OFF"}, LookAction("off"), None),
    ({"brightness_max": 30}, None, 30),
])
def test_every_action_kind_lands_in_its_channel(action: dict[str, Any], look: LookAction | None,
                                                cap: int | None) -> None:
    ws = [win("w", "08:00", "09:00", action)]
    f = evaluate(ws, UTC, None, utc(2026, 6, 1, 8, 30)).in_force
    assert (f.look, f.brightness_max, f.active) == (look, cap, ("w",))
    assert f.look_window == ("w" if look else None)
    assert not f.empty
    assert evaluate(ws, UTC, None, utc(2026, 6, 1, 9, 30)).in_force.empty


# --- days of the week ------------------------------------------------------------------


def test_days_are_the_days_a_window_starts() -> None:
    ws = [win("mon-night", "23:00", "01:00", days=["mon"])]
    assert active(ws, utc(2026, 6, 1, 0, 30)) == ()  # Monday 00:30 belongs to Sunday
    assert active(ws, utc(2026, 6, 1, 23, 30)) == ("mon-night",)
    assert active(ws, utc(2026, 6, 2, 0, 30)) == ("mon-night",)  # Tuesday, started Monday
    assert active(ws, utc(2026, 6, 2, 23, 30)) == ()
    assert nxt(ws, utc(2026, 6, 2, 2)) == Boundary("mon-night", utc(2026, 6, 8, 23), "start")


def test_weekend_only() -> None:
    ws = [win("weekend", "10:00", "12:00", days=["sat", "sun"])]
    opened = [d for d in range(1, 8) if active(ws, utc(2026, 6, d, 11))]
    assert opened == [6, 7]
    assert nxt(ws, utc(2026, 6, 1)) == Boundary("weekend", utc(2026, 6, 6, 10), "start")
    assert nxt(ws, utc(2026, 6, 7, 13)) == Boundary("weekend", utc(2026, 6, 13, 10), "start")


def test_days_use_the_local_date() -> None:
    ws = [win("tue", "00:30", "01:30", days=["tue"])]
    now = utc(2026, 6, 1, 22, 45)  # Monday in UTC, Tuesday 00:45 in Berlin
    assert active(ws, now, BERLIN) == ("tue",)
    assert active(ws, now, UTC) == ()


# --- overlaps, disabled ----------------------------------------------------------------


def test_overlaps_later_window_wins_each_channel() -> None:
    ws = [win("evening", "18:00", "23:00", {"preset": "Warm"}),
          win("dim", "20:00", "06:00", {"brightness_max": 20}),
          win("quiet", "21:00", "22:00", {"power": "OFF"}),
          win("dimmer", "21:30", "21:45", {"brightness_max": 5})]
    f = evaluate(ws, UTC, None, utc(2026, 6, 1, 21, 40)).in_force
    assert f.active == ("evening", "dim", "quiet", "dimmer")
    assert (f.look, f.look_window, f.brightness_max) == (LookAction("off"), "quiet", 5)
    f = evaluate(ws, UTC, None, utc(2026, 6, 1, 22, 30)).in_force
    assert (f.look, f.look_window, f.brightness_max) == (LookAction("preset", "Warm"),
                                                         "evening", 20)
    f = evaluate(ws, UTC, None, utc(2026, 6, 2, 1)).in_force
    assert (f.active, f.look, f.brightness_max) == (("dim",), None, 20)


def test_the_list_order_decides_not_the_start_time() -> None:
    late_first = [win("quiet", "21:00", "22:00", {"power": "OFF"}),
                  win("evening", "18:00", "23:00", {"preset": "Warm"})]
    f = evaluate(late_first, UTC, None, utc(2026, 6, 1, 21, 30)).in_force
    assert (f.look, f.look_window) == (LookAction("preset", "Warm"), "evening")


def test_disabled_windows_are_ignored() -> None:
    ws = [win("off", "08:00", "20:00", enabled=False), win("on", "12:00", "13:00")]
    assert active(ws, utc(2026, 6, 1, 9)) == ()
    assert nxt(ws, utc(2026, 6, 1, 9)) == Boundary("on", utc(2026, 6, 1, 12), "start")
    assert nxt([ws[0]], utc(2026, 6, 1, 9)) is None
    assert evaluate([], UTC, None, utc(2026, 6, 1)).next is None


# --- next boundary ---------------------------------------------------------------------


def test_next_is_the_earliest_start_or_end_of_any_window() -> None:
    ws = [win("a", "08:00", "12:00"), win("b", "09:00", "10:00", days=["tue"]),
          win("c", "23:00", "07:00")]
    steps = []
    t = utc(2026, 6, 1, 7, 30)  # Monday
    for _ in range(6):
        b = nxt(ws, t)
        assert b is not None and b.at > t
        steps.append((b.name, b.change, dt.datetime.fromtimestamp(b.at, UTC).strftime("%a %H:%M")))
        t = b.at
    assert steps == [("a", "start", "Mon 08:00"), ("a", "end", "Mon 12:00"),
                     ("c", "start", "Mon 23:00"), ("c", "end", "Tue 07:00"),
                     ("a", "start", "Tue 08:00"), ("b", "start", "Tue 09:00")]


def test_next_is_strictly_after_now() -> None:
    ws = [win("a", "08:00", "12:00")]
    assert nxt(ws, utc(2026, 6, 1, 8)) == Boundary("a", utc(2026, 6, 1, 12), "end")
    assert nxt(ws, utc(2026, 6, 1, 12)) == Boundary("a", utc(2026, 6, 2, 8), "start")


def test_a_weekly_window_is_found_a_week_ahead() -> None:
    ws = [win("mon", "08:00", "09:00", days=["mon"])]
    assert nxt(ws, utc(2026, 6, 1, 9)) == Boundary("mon", utc(2026, 6, 8, 8), "start")


def test_back_to_back_windows_report_the_first_in_the_list() -> None:
    ws = [win("a", "08:00", "10:00"), win("b", "10:00", "12:00")]
    assert nxt(ws, utc(2026, 6, 1, 9)) == Boundary("a", utc(2026, 6, 1, 10), "end")
    assert active(ws, utc(2026, 6, 1, 10)) == ("b",)


# --- clock jumps -----------------------------------------------------------------------


def test_evaluation_after_clock_jumps_forward_and_back() -> None:
    """No state: a Pi booting in 1970 (no RTC), then NTP, then a jump back, all agree."""
    ws = [win("night", "22:00", "06:00", {"brightness_max": 10}),
          win("lunch", "12:00", "13:00", {"preset": "Sun"})]
    times = [0.0, utc(2026, 6, 1, 23), utc(2026, 6, 1, 10, 30), utc(2031, 1, 1, 3),
             utc(2026, 6, 1, 8, 30), utc(2026, 6, 1, 23)]
    fresh = [evaluate(ws, BERLIN, None, t) for t in times]
    again = [evaluate(ws, BERLIN, None, t) for t in reversed(times)][::-1]
    assert fresh == again
    assert fresh[0].in_force.active == ("night",)  # 1970-01-01 01:00 Berlin
    assert fresh[3].in_force.active == ("night",)  # 2031-01-01 04:00 CET
    assert fresh[1].in_force.active == ("night",)
    assert fresh[2].in_force.active == ("lunch",)  # 12:30 CEST
    assert fresh[1] == fresh[5]
    assert fresh[4].next == Boundary("lunch", utc(2026, 6, 1, 10), "start")


def test_non_finite_now_is_refused() -> None:
    with pytest.raises(ValueError):
        evaluate([], UTC, None, float("nan"))


# --- DST -------------------------------------------------------------------------------


def test_local_instant_in_the_gap_is_the_jump_and_in_the_repeat_the_first() -> None:
    # Berlin 2026-03-29: 02:00 CET -> 03:00 CEST at 01:00 UTC.
    assert local_instant(dt.date(2026, 3, 29), 2 * H + 1800, BERLIN) == utc(2026, 3, 29, 1)
    assert local_instant(dt.date(2026, 3, 29), 2 * H, BERLIN) == utc(2026, 3, 29, 1)
    assert local_instant(dt.date(2026, 3, 29), 3 * H, BERLIN) == utc(2026, 3, 29, 1)
    # Berlin 2026-10-25: 03:00 CEST -> 02:00 CET at 01:00 UTC; 02:30 happens twice.
    assert local_instant(dt.date(2026, 10, 25), 2 * H + 1800, BERLIN) == utc(2026, 10, 25, 0, 30)
    # New York 2026-03-08 02:00 EST -> 03:00 EDT (07:00 UTC); 2026-11-01 01:00-02:00 twice.
    assert local_instant(dt.date(2026, 3, 8), 2 * H + 900, NEW_YORK) == utc(2026, 3, 8, 7)
    assert local_instant(dt.date(2026, 11, 1), H + 1800, NEW_YORK) == utc(2026, 11, 1, 5, 30)


def test_berlin_spring_window_opening_in_the_gap_opens_at_the_jump() -> None:
    ws = [win("early", "02:30", "04:00", days=["sun"])]
    assert nxt(ws, utc(2026, 3, 29, 0, 30), BERLIN) == Boundary("early", utc(2026, 3, 29, 1),
                                                                "start")
    assert active(ws, utc(2026, 3, 29, 1) - 1, BERLIN) == ()
    assert active(ws, utc(2026, 3, 29, 1), BERLIN) == ("early",)  # 03:00 CEST
    assert nxt(ws, utc(2026, 3, 29, 1), BERLIN) == Boundary("early", utc(2026, 3, 29, 2), "end")


def test_berlin_spring_window_inside_the_gap_does_not_open_that_day() -> None:
    ws = [win("lost", "02:10", "02:50")]
    assert nxt(ws, utc(2026, 3, 29, 0), BERLIN) == Boundary("lost", utc(2026, 3, 30, 0, 10),
                                                            "start")
    assert all(active(ws, utc(2026, 3, 29, 0) + m * 60, BERLIN) == () for m in range(0, 180, 5))


def test_berlin_night_window_is_seven_hours_in_spring_and_nine_in_autumn() -> None:
    ws = [win("night", "22:00", "06:00", days=["sat"])]
    spring_start, spring_end = utc(2026, 3, 28, 21), utc(2026, 3, 29, 4)
    assert nxt(ws, spring_start - 1, BERLIN) == Boundary("night", spring_start, "start")
    assert nxt(ws, spring_start, BERLIN) == Boundary("night", spring_end, "end")
    assert spring_end - spring_start == 7 * H
    autumn_start, autumn_end = utc(2026, 10, 24, 20), utc(2026, 10, 25, 5)
    assert nxt(ws, autumn_start, BERLIN) == Boundary("night", autumn_end, "end")
    assert autumn_end - autumn_start == 9 * H
    for t in (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)):  # 02:30 CEST, 02:30 CET
        assert active(ws, t, BERLIN) == ("night",)


def test_berlin_autumn_repeated_hour_counts_once() -> None:
    opens_in_repeat = [win("late", "02:30", "05:00", days=["sun"])]
    assert nxt(opens_in_repeat, utc(2026, 10, 25), BERLIN) == Boundary(
        "late", utc(2026, 10, 25, 0, 30), "start")  # the first 02:30 (CEST)
    assert active(opens_in_repeat, utc(2026, 10, 25, 1, 30), BERLIN) == ("late",)
    ends_in_repeat = [win("short", "01:00", "02:30", days=["sun"])]
    assert active(ends_in_repeat, utc(2026, 10, 25, 0, 15), BERLIN) == ("short",)
    assert active(ends_in_repeat, utc(2026, 10, 25, 0, 30), BERLIN) == ()
    assert active(ends_in_repeat, utc(2026, 10, 25, 1, 15), BERLIN) == ()  # second 02:15


def test_new_york_spring_and_autumn() -> None:
    gap = [win("gap", "02:15", "03:30", days=["sun"])]
    assert nxt(gap, utc(2026, 3, 8, 6), NEW_YORK) == Boundary("gap", utc(2026, 3, 8, 7), "start")
    assert nxt(gap, utc(2026, 3, 8, 7), NEW_YORK) == Boundary("gap", utc(2026, 3, 8, 7, 30),
                                                              "end")
    span = [win("span", "23:00", "01:30", days=["sat"])]  # ends in the repeated hour
    assert nxt(span, utc(2026, 10, 31, 12), NEW_YORK) == Boundary("span", utc(2026, 11, 1, 3),
                                                                  "start")
    assert nxt(span, utc(2026, 11, 1, 3), NEW_YORK) == Boundary("span", utc(2026, 11, 1, 5, 30),
                                                                "end")
    assert active(span, utc(2026, 11, 1, 6, 15), NEW_YORK) == ()  # the second 01:15 (EST)
    night = [win("night", "22:00", "06:00")]
    assert nxt(night, utc(2026, 3, 8, 3), NEW_YORK) == Boundary("night", utc(2026, 3, 8, 10),
                                                                "end")  # 7 h
    assert nxt(night, utc(2026, 11, 1, 3), NEW_YORK) == Boundary("night", utc(2026, 11, 1, 11),
                                                                 "end")  # 9 h


def test_evaluating_across_the_change_in_both_directions() -> None:
    """The same answers whichever way the clock steps over a DST change."""
    ws = [win("a", "01:30", "02:30"), win("b", "02:45", "03:15"), win("c", "03:00", "04:00")]
    start = utc(2026, 10, 24, 22)
    steps = [start + k * 600 for k in range(50)]
    forward = [active(ws, t, BERLIN) for t in steps]
    backward = [active(ws, t, BERLIN) for t in reversed(steps)][::-1]
    assert forward == backward
    assert ("a",) in forward and ("b",) in forward and ("c",) in forward


# --- week plan -------------------------------------------------------------------------


def test_week_plan_clips_spans_to_each_date() -> None:
    ws = [win("night", "22:00", "06:00", days=["mon"]), win("noon", "12:00", "13:30:20"),
          win("off", "01:00", "02:00", enabled=False)]
    plan = week_plan(ws, UTC, None, utc(2026, 6, 1, 15))
    assert [d["date"] for d in plan] == [f"2026-06-0{d}" for d in range(1, 8)]
    assert plan[0] == {"date": "2026-06-01", "sunrise": None, "sunset": None, "spans": [
        {"name": "noon", "start": "12:00", "end": "13:30"},
        {"name": "night", "start": "22:00", "end": "24:00"}]}
    assert plan[1]["spans"] == [{"name": "night", "start": "00:00", "end": "06:00"},
                                {"name": "noon", "start": "12:00", "end": "13:30"}]
    assert plan[2]["spans"] == [{"name": "noon", "start": "12:00", "end": "13:30"}]
    json.dumps(plan, allow_nan=False)


def test_week_plan_shows_a_window_that_started_yesterday_today() -> None:
    ws = [win("night", "22:00", "06:00", days=["sun"])]
    plan = week_plan(ws, UTC, None, utc(2026, 6, 1, 3))  # Monday 03:00
    assert plan[0]["spans"] == [{"name": "night", "start": "00:00", "end": "06:00"}]
    assert plan[6]["spans"] == [{"name": "night", "start": "22:00", "end": "24:00"}]


def test_week_plan_has_sun_times_and_local_dst_times() -> None:
    loc = Location(latitude=52.52, longitude=13.405)
    ws = [win("night", "22:00", "06:00")]
    plan = week_plan(ws, BERLIN, loc, utc(2026, 3, 28, 12))
    sat, sun = plan[0], plan[1]
    assert sun["spans"] == [{"name": "night", "start": "00:00", "end": "06:00"},
                            {"name": "night", "start": "22:00", "end": "24:00"}]
    assert sat["sunrise"] is not None and sun["sunrise"] is not None
    assert sat["sunrise"] < "06:00" < sun["sunrise"] < "07:30"  # an hour later after the jump
    assert sat["sunset"] is not None and sat["sunset"] < "19:00" < str(sun["sunset"])
