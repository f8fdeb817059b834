"""Properties of the schedule evaluator over random windows, zones, places and moments.

Places and zones are paired at random on purpose: a box left on UTC with a location
on the other side of the world is a real configuration.

Nothing changes between ``now`` and ``next.at``; ``next`` is after ``now``; a start
boundary opens its window; and for plain clock windows in fixed-offset zones the
answer matches a naive wall-clock reading of the window list.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from appliance.content.schedule import HORIZON_S, evaluate, occurrence, week_plan
from appliance.settings.schedule_schema import DAYS, Location, ScheduleWindow, TimeSpec

ZONES = [ZoneInfo(z) for z in ("UTC", "Europe/Berlin", "America/New_York",
                               "Australia/Lord_Howe", "Asia/Kolkata", "America/Santiago",
                               # Far from most places' solar time, for the bounds:
                               "Pacific/Kiritimati", "Pacific/Pago_Pago")]
PLACES = [Location(latitude=52.52, longitude=13.405), Location(latitude=69.65, longitude=18.96),
          Location(latitude=-33.87, longitude=151.21), Location(latitude=-0.18, longitude=-78.47),
          Location(latitude=78.22, longitude=15.65), Location(latitude=-17.7, longitude=178.0),
          Location(latitude=64.15, longitude=-21.94)]
# DST changes in 2026 (Berlin, New York, Lord Howe, Santiago): moments worth landing near.
CHANGES = [dt.datetime(*d, tzinfo=dt.UTC).timestamp() for d in (
    (2026, 3, 29, 1), (2026, 10, 25, 1), (2026, 3, 8, 7), (2026, 11, 1, 6),
    (2026, 4, 4, 15), (2026, 10, 3, 15), (2026, 4, 5, 3), (2026, 9, 6, 4))]
YEAR_2026 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _clock(seconds: int) -> str:
    return str(TimeSpec("clock", seconds))


clock_times = st.one_of(st.integers(0, 23).map(lambda h: h * 3600),
                        st.integers(0, 1439).map(lambda m: m * 60),
                        st.integers(0, 86399)).map(_clock)
sun_times = st.builds(lambda kind, off: str(TimeSpec(kind, off)),
                      st.sampled_from(["sunrise", "sunset"]),
                      st.one_of(st.just(0), st.integers(-720, 720).map(lambda m: m * 60),
                                st.integers(-43200, 43200)))
actions = st.one_of(st.builds(lambda n: {"preset": n}, st.sampled_from(["Warm", "Cool"])),
                    st.just({"playlist": "Mix"}), st.just({"power": "OFF"}),
                    st.builds(lambda n: {"brightness_max": n}, st.integers(1, 100)))
days = st.lists(st.sampled_from(DAYS), min_size=1, max_size=7, unique=True)


@st.composite
def window_lists(draw: st.DrawFn, times: st.SearchStrategy[str]) -> list[ScheduleWindow]:
    out = []
    for i in range(draw(st.integers(1, 5))):
        start, end = draw(times), draw(times)
        assume(start != end)
        raw: dict[str, Any] = {"name": f"w{i}", "start": start, "end": end,
                               "days": draw(days), "action": draw(actions),
                               "enabled": draw(st.booleans() | st.just(True))}
        try:
            out.append(ScheduleWindow.model_validate(raw))
        except ValueError:
            assume(False)  # e.g. sunset and sunset+0m: the same time twice
    return out


moments = st.one_of(
    st.floats(YEAR_2026, YEAR_2026 + 2 * 365 * 86400),
    st.builds(lambda c, d: c + d, st.sampled_from(CHANGES), st.floats(-3 * 86400, 3 * 86400)),
)
any_times = st.one_of(clock_times, sun_times)


def _check_stable(ws: list[ScheduleWindow], tz: ZoneInfo, loc: Location | None,
                  now: float) -> None:
    ev = evaluate(ws, tz, loc, now)
    active = ev.in_force.active
    end = now + HORIZON_S
    if ev.next is None:
        probes = [now + k * 86400 / 3 for k in range(1, 24)]
    else:
        end = ev.next.at
        span = ev.next.at - now
        assert 0 < span <= HORIZON_S
        probes = [now + span * f for f in (0.001, 0.25, 0.5, 0.75, 0.999)] + [ev.next.at - 1e-3]
        at = evaluate(ws, tz, loc, ev.next.at)
        if ev.next.change == "start":
            assert ev.next.name in at.in_force.active
        assert at.next is None or at.next.at > ev.next.at
    for t in probes:
        if now < t < end:  # float rounding may put a probe on either edge
            assert evaluate(ws, tz, loc, t).in_force.active == active, (t - now)
    assert set(active) <= {w.name for w in ws if w.enabled}


@PROPS
@given(window_lists(any_times), st.sampled_from(ZONES), st.sampled_from(PLACES), moments)
def test_nothing_changes_before_the_next_boundary(ws: list[ScheduleWindow], tz: ZoneInfo,
                                                  loc: Location, now: float) -> None:
    _check_stable(ws, tz, loc, now)


@PROPS
@given(window_lists(clock_times), st.sampled_from(ZONES), moments)
def test_clock_windows_are_stable_across_dst(ws: list[ScheduleWindow], tz: ZoneInfo,
                                             now: float) -> None:
    _check_stable(ws, tz, None, now)


def _naive_open(w: ScheduleWindow, local: dt.datetime) -> bool:
    """Read a clock window off a wall clock, the way a person would."""
    tod = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    day, prev = DAYS[local.weekday()], DAYS[(local.weekday() - 1) % 7]
    a, b = w.start_spec.seconds, w.end_spec.seconds
    if a < b:
        return day in w.days and a <= tod < b
    return (day in w.days and tod >= a) or (prev in w.days and tod < b)


@PROPS
@given(window_lists(clock_times), st.sampled_from([ZoneInfo("UTC"), ZoneInfo("Asia/Kolkata")]),
       moments)
def test_clock_windows_match_a_wall_clock_reading(ws: list[ScheduleWindow], tz: ZoneInfo,
                                                  now: float) -> None:
    local = dt.datetime.fromtimestamp(now, tz)
    expected = tuple(w.name for w in ws if w.enabled and _naive_open(w, local))
    f = evaluate(ws, tz, None, now).in_force
    assert f.active == expected
    looks = [w for w in ws if w.name in expected and "brightness_max" not in w.action.model_dump()]
    assert f.look_window == (looks[-1].name if looks else None)


@PROPS
@given(window_lists(any_times), st.sampled_from(ZONES), st.sampled_from(PLACES), moments)
def test_the_week_plan_is_well_formed(ws: list[ScheduleWindow], tz: ZoneInfo, loc: Location,
                                      now: float) -> None:
    plan = week_plan(ws, tz, loc, now)
    assert len(plan) == 7
    dates = [dt.date.fromisoformat(d["date"]) for d in plan]
    assert all(b - a == dt.timedelta(days=1) for a, b in itertools.pairwise(dates))
    names = {w.name for w in ws if w.enabled}
    for day in plan:
        for span in day["spans"]:
            assert span["name"] in names
            assert "00:00" <= span["start"] <= span["end"] <= "24:00"


def _brute_force(ws: list[ScheduleWindow], tz: ZoneInfo, loc: Location,
                 now: float) -> tuple[tuple[str, ...], float | None]:
    """Every occurrence over a wide range of days: the open windows and the next boundary."""
    today = dt.datetime.fromtimestamp(now, tz).date()
    open_, bounds = set(), []
    for k in range(-7, 16):
        date = today + dt.timedelta(days=k)
        for i, w in enumerate(ws):
            if not w.enabled or DAYS[date.weekday()] not in w.days:
                continue
            occ = occurrence(w, date, tz, loc)
            if occ is None:
                continue
            if occ[0] <= now < occ[1]:
                open_.add(i)
            bounds += [t for t in occ if now < t <= now + HORIZON_S]
    return tuple(ws[i].name for i in sorted(open_)), min(bounds, default=None)


@PROPS
@given(window_lists(any_times), st.sampled_from(ZONES), st.sampled_from(PLACES), moments)
def test_the_day_range_searched_misses_nothing(ws: list[ScheduleWindow], tz: ZoneInfo,
                                               loc: Location, now: float) -> None:
    ev = evaluate(ws, tz, loc, now)
    assert (ev.in_force.active, ev.next.at if ev.next else None) == _brute_force(ws, tz, loc, now)
