"""Schedule settings: the window time grammar, the checks across windows, the time zone."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from appliance import settings as s
from appliance.content.schedule import resolve_timezone
from appliance.settings.schedule_schema import DAYS, ScheduleWindow, TimeSpec, parse_time

BERLIN = {"latitude": 52.52, "longitude": 13.405}


def window(name: str = "w", start: str = "22:00", end: str = "06:00",
           **extra: Any) -> dict[str, Any]:
    return {"name": name, "start": start, "end": end,
            "action": extra.pop("action", {"power": "OFF"}), **extra}


def lines_for(data: object) -> list[str]:
    with pytest.raises(s.SettingsError) as info:
        s.validate(data)
    return info.value.lines()


@pytest.mark.parametrize(("text", "spec"), [
    ("00:00", TimeSpec("clock", 0)),
    ("07:30", TimeSpec("clock", 7 * 3600 + 1800)),
    ("23:59:59", TimeSpec("clock", 86399)),
    ("sunrise", TimeSpec("sunrise", 0)),
    ("sunset", TimeSpec("sunset", 0)),
    ("sunset-30m", TimeSpec("sunset", -1800)),
    ("sunrise+1h", TimeSpec("sunrise", 3600)),
    ("sunrise+1h30m", TimeSpec("sunrise", 5400)),
    ("sunset-90s", TimeSpec("sunset", -90)),
    ("sunset+12h", TimeSpec("sunset", 43200)),
    ("sunrise-1h2m3s", TimeSpec("sunrise", -3723)),
])
def test_times_parse_into_typed_specs(text: str, spec: TimeSpec) -> None:
    assert parse_time(text) == spec


@pytest.mark.parametrize(("text", "canonical"), [
    ("07:30", "07:30"), ("07:30:05", "07:30:05"), ("07:30:00", "07:30"),
    ("sunset", "sunset"), ("sunset-90s", "sunset-1m30s"), ("sunrise+90m", "sunrise+1h30m"),
])
def test_a_spec_prints_in_the_grammar_it_came_from(text: str, canonical: str) -> None:
    assert str(parse_time(text)) == canonical
    assert parse_time(canonical) == parse_time(text)


@pytest.mark.parametrize("text", ["24:00", "7:30", "07:60", "07:30:60", "0730", "noon",
                                  "Sunset", "sunset -30m", "sunset-30", "sunset-m",
                                  "sunset+1m1h", "", " 07:30", "07:30 "])
def test_bad_times_are_refused_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        parse_time(text)


def test_an_offset_without_a_number_says_what_is_missing() -> None:
    with pytest.raises(ValueError, match="needs a number and a unit"):
        parse_time("sunset-")


@pytest.mark.parametrize("text", ["sunset+12h1s", "sunrise-13h", "sunset+721m", "sunset-99999s"])
def test_offsets_are_limited_to_twelve_hours(text: str) -> None:
    with pytest.raises(ValueError, match="more than 12h"):
        parse_time(text)


def test_a_valid_schedule_is_parsed_once_into_specs() -> None:
    cfg = s.validate({"timezone": "Europe/Berlin", "location": BERLIN, "schedule": [
        window("Night", "22:00", "06:30:15", days=["fri", "sat"]),
        window("Dusk", "sunset-30m", "23:00", action={"brightness_max": 40}),
    ]})
    night, dusk = cfg.schedule
    assert night.start_spec == TimeSpec("clock", 22 * 3600)
    assert night.end_spec == TimeSpec("clock", 6 * 3600 + 1815)
    assert dusk.start_spec == TimeSpec("sunset", -1800) and dusk.uses_sun
    assert night.days == ["fri", "sat"] and dusk.days == list(DAYS)
    assert s.dump(cfg)["schedule"][1]["start"] == "sunset-30m"  # the file keeps its words


def test_assigning_a_new_time_reparses_it() -> None:
    w = ScheduleWindow.model_validate(window(start="22:00"))
    w.start = "sunset"
    assert w.start_spec == TimeSpec("sunset", 0)


def test_bad_window_times_name_their_path() -> None:
    out = lines_for({"schedule": [window("a"), window("b", "25:00", "sunset-13h")]})
    assert out == [
        "schedule.1.start: '25:00' is not a time: use `HH:MM`, `HH:MM:SS`, `sunrise` or "
        "`sunset` with an optional offset such as `sunset-30m`, `sunrise+1h30m` or "
        "`sunset-90s`",
        "schedule.1.end: 'sunset-13h': the offset is more than 12h from sunset",
    ]


@pytest.mark.parametrize(("start", "end"), [("10:00", "10:00"), ("10:00", "10:00:00"),
                                            ("sunset", "sunset+0m")])
def test_a_window_without_length_is_refused(start: str, end: str) -> None:
    out = lines_for({"location": BERLIN, "schedule": [window(start=start, end=end)]})
    assert len(out) == 1 and out[0].startswith("schedule.0.end: the same as start")


def test_sunrise_to_sunset_and_back_are_windows() -> None:
    cfg = s.validate({"location": BERLIN, "schedule": [
        window("day", "sunrise", "sunset"), window("night", "sunset", "sunrise")]})
    assert len(cfg.schedule) == 2


def test_days_must_be_known_and_listed_once() -> None:
    out = lines_for({"schedule": [window(days=["mon", "tue", "mon", "tue", "sun"])]})
    assert out == ["schedule.0.days: mon, tue listed more than once; list each day once"]
    out = lines_for({"schedule": [window(days=["monday"])]})
    assert len(out) == 1 and out[0].startswith("schedule.0.days.0: ")
    assert lines_for({"schedule": [window(days=[])]})[0].startswith("schedule.0.days: ")


def test_window_names_are_unique_across_the_list() -> None:
    out = lines_for({"schedule": [window("Night"), window("Day", "08:00", "18:00"),
                                  window("Night", "01:00", "02:00")]})
    assert out == ["schedule.2.name: 'Night' is already the name of schedule.0; "
                   "window names must be unique"]


@pytest.mark.parametrize("name", ["", " lead", "trail ", "a/b", "x" * 41, "naïve"])
def test_window_names_are_readable_words(name: str) -> None:
    out = lines_for({"schedule": [window(name)]})
    assert len(out) == 1 and out[0].startswith("schedule.0.name: ")
    assert "1-40 letters" in out[0]


def test_sun_times_need_a_location() -> None:
    out = lines_for({"schedule": [window("a"), window("b", "sunset-30m", "sunrise")]})
    assert out == [
        "schedule.1.start: sunset needs `location` (latitude and longitude) to be set",
        "schedule.1.end: sunrise needs `location` (latitude and longitude) to be set",
    ]
    assert s.validate({"location": BERLIN, "schedule": [window(start="sunset")]})


def test_location_is_checked() -> None:
    out = lines_for({"location": {"latitude": 91, "longitude": 0}})
    assert out == ["location.latitude: Input should be less than or equal to 90"]
    assert lines_for({"location": {"latitude": 1}}) == ["location.longitude: Field required"]


@pytest.mark.parametrize("action", [{"preset": "Evening glow"}, {"playlist": "party-1"},
                                    {"power": "OFF"}, {"brightness_max": 1},
                                    {"brightness_max": 100}])
def test_every_action_kind_is_accepted(action: dict[str, Any]) -> None:
    assert s.validate({"schedule": [window(action=action)]}).schedule[0].action


@pytest.mark.parametrize("action", [{"brightness_max": 0}, {"brightness_max": 101},
                                    {"power": "ON"}, {"preset": "bad/name"}, {},
                                    {"preset": "a", "power": "OFF"}])
def test_bad_actions_are_refused_under_action(action: dict[str, Any]) -> None:
    out = lines_for({"schedule": [window(action=action)]})
    assert out and all(line.startswith("schedule.0.action") for line in out)


def test_at_most_100_windows() -> None:
    many = [window(f"w{i}") for i in range(101)]
    assert lines_for({"schedule": many})[0].startswith("schedule: List should have at most 100")
    assert len(s.validate({"schedule": many[:100]}).schedule) == 100


@pytest.mark.parametrize("name", ["Europe/Berlin", "America/New_York", "UTC", "Etc/GMT+5",
                                  "America/Argentina/Buenos_Aires", None])
def test_known_time_zones_are_accepted(name: str | None) -> None:
    assert s.validate({"timezone": name}).timezone == name


@pytest.mark.parametrize("name", ["Mars/Olympus", "Europe", "europe/berlin ", "../etc/passwd",
                                  "/etc/localtime", "Europe/../UTC", "localtime", "zone.tab",
                                  "", "A" * 200])
def test_unknown_time_zones_are_refused(name: str) -> None:
    out = lines_for({"timezone": name})
    assert len(out) == 1 and out[0].startswith("timezone: ")
    assert "time zone" in out[0] and "null means the system's" in out[0]


def test_resolve_timezone_by_name_and_refusal() -> None:
    assert resolve_timezone("Europe/Berlin").key == "Europe/Berlin"
    with pytest.raises(ValueError):
        resolve_timezone("Mars/Olympus")


def test_resolve_timezone_finds_the_systems(tmp_path: Path) -> None:
    link = tmp_path / "localtime"
    os.symlink("/usr/share/zoneinfo/America/New_York", link)
    tzfile = tmp_path / "timezone"
    tzfile.write_text("Asia/Tokyo\n")
    missing = tmp_path / "missing"
    assert resolve_timezone(None, env={"TZ": ":Europe/Berlin"}, localtime=link,
                            timezone_file=tzfile).key == "Europe/Berlin"
    assert resolve_timezone(None, env={"TZ": "CET-1CEST"}, localtime=link,
                            timezone_file=tzfile).key == "America/New_York"
    assert resolve_timezone(None, env={}, localtime=missing,
                            timezone_file=tzfile).key == "Asia/Tokyo"
    assert resolve_timezone(None, env={}, localtime=missing,
                            timezone_file=missing).key == "UTC"
    tzfile.write_text("Not/AZone\n")
    assert resolve_timezone(None, env={}, localtime=missing,
                            timezone_file=tzfile).key == "UTC"
