"""What the render loop does with ``ApplySchedule``: a real engine on a fake clock.

The brightness cap and power OFF go through the real panel; a window's preset or
playlist goes through a recording stand-in for ``Looks`` (its own tests cover it),
so these tests see exactly what the schedule asked of it and when.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from animations import REGISTRY
from appliance.content.schedule_model import InForce, LookAction
from appliance.display.virtual import VirtualDisplay
from appliance.render.clock import FakeClock
from appliance.render.engine import Engine
from appliance.render.looks import Looks, LookSnapshot
from appliance.render.own_commands import ApplySchedule
from appliance.render.schedule_apply import ScheduleInForce
from appliance.settings import validate
from appliance.wire.commands import CommandError, parse_command

W, H = 64, 32
NIGHT = InForce(("night",), brightness_max=10)
OFF = InForce(("off",), LookAction("off"), "off")


def make_engine() -> tuple[Engine, VirtualDisplay, FakeClock]:
    settings_ = validate({"device_id": "unit", "animation": {"default": "solid"},
                          "display": {"brightness": 80}})
    display = VirtualDisplay(W, H)
    clock = FakeClock()
    eng = Engine(settings_, display, REGISTRY, clock=clock)
    eng.start()
    return eng, display, clock


def tick(eng: Engine, clock: FakeClock) -> None:
    clock.advance(1 / 30)
    eng.tick(clock.monotonic())


def schedule(eng: Engine, clock: FakeClock, in_force: InForce) -> None:
    eng.submit(ApplySchedule(in_force=in_force))
    tick(eng, clock)


def send(eng: Engine, clock: FakeClock, action: str, payload: str) -> None:
    eng.submit(parse_command(action, payload.encode(), now=clock.wall()))
    tick(eng, clock)


def dark(display: VirtualDisplay) -> bool:
    return not np.asarray(display.frame()).any()


class RecordingLooks:
    """Stands in for ``Looks``: records what the schedule asks of it."""

    def __init__(self, looks: Looks) -> None:
        self.real = looks
        self.calls: list[tuple[str, Any]] = []
        self.on_hand_made = looks.on_hand_made
        self.showing = LookSnapshot("solid", {}, True)
        self.missing: set[str] = set()

    def apply_preset(self, name: str, now: float, by: str = "hand") -> None:
        if name in self.missing:
            raise CommandError("unknown_preset", f"no preset {name!r}", "apply")
        self.calls.append(("preset", (name, by)))
        self.showing = LookSnapshot("solid", {}, True, preset=name)

    def play(self, name: str, now: float, by: str = "hand", index: int = 0) -> None:
        self.calls.append(("play", (name, by)))
        self.showing = LookSnapshot("solid", {}, True, playlist=name)

    def snapshot(self) -> LookSnapshot:
        return replace(self.showing, power_on=self.real.panel.power_on)

    def restore(self, snap: LookSnapshot, now: float) -> None:
        self.calls.append(("restore", snap))
        self.showing = snap

    def by_hand(self, name: str) -> None:
        """What a person's cmd/preset would do: show it, then tell the schedule."""
        self.showing = LookSnapshot("solid", {}, True, preset=name)
        self.on_hand_made()


def with_looks(eng: Engine) -> RecordingLooks:
    looks = RecordingLooks(eng.looks)
    eng.schedule = ScheduleInForce(looks, eng.panel, eng.state_changed)  # type: ignore[arg-type]
    looks.on_hand_made = eng.schedule.hand_made
    return looks


def test_the_cap_limits_the_display_and_leaves_the_stored_brightness() -> None:
    eng, display, clock = make_engine()
    tick(eng, clock)
    assert display.brightness_pct == 80
    schedule(eng, clock, NIGHT)
    assert display.brightness_pct == 10
    state = eng.state()
    assert state["brightness"] == 80 and state.get("brightness_max") == 10
    send(eng, clock, "brightness", "50")  # a person's level is stored; the cap holds
    assert display.brightness_pct == 10 and eng.state()["brightness"] == 50
    send(eng, clock, "brightness", "5")
    assert display.brightness_pct == 5
    send(eng, clock, "brightness", "60")
    schedule(eng, clock, InForce())
    assert display.brightness_pct == 60 and "brightness_max" not in eng.state()
    assert eng.snapshot()["display_brightness_pct"] == 60


def test_the_cap_holds_through_a_transition() -> None:
    eng, display, clock = make_engine()
    schedule(eng, clock, NIGHT)
    send(eng, clock, "power", "OFF")
    eng.submit(parse_command("set", b'{"state": "ON", "transition": 1}', now=clock.wall()))
    seen = []
    for _ in range(40):
        tick(eng, clock)
        seen.append(display.brightness_pct)
    assert max(seen) == 10 and seen[-1] == 10


def test_a_power_off_window_darkens_the_panel_and_its_end_brings_it_back() -> None:
    eng, display, clock = make_engine()
    tick(eng, clock)
    assert not dark(display)
    schedule(eng, clock, OFF)
    assert eng.state()["state"] == "OFF" and dark(display)
    schedule(eng, clock, InForce())
    assert eng.state()["state"] == "ON" and not dark(display)


def test_a_power_off_window_over_a_box_that_was_off_leaves_it_off() -> None:
    eng, _display, clock = make_engine()
    send(eng, clock, "power", "OFF")
    schedule(eng, clock, OFF)
    schedule(eng, clock, InForce())
    assert eng.state()["state"] == "OFF"


def test_the_same_active_set_again_changes_nothing() -> None:
    eng, _display, clock = make_engine()
    schedule(eng, clock, OFF)
    send(eng, clock, "power", "ON")  # by hand: wins
    schedule(eng, clock, OFF)  # re-sent (a settings change, a clock jump): nothing
    assert eng.state()["state"] == "ON"


def test_a_hand_made_power_wins_until_the_next_boundary_then_the_window_again() -> None:
    eng, display, clock = make_engine()
    schedule(eng, clock, OFF)
    send(eng, clock, "power", "ON")
    assert eng.state()["state"] == "ON"
    schedule(eng, clock, InForce(("off", "night"), LookAction("off"), "off", 10))
    assert eng.state()["state"] == "OFF" and display.brightness_pct == 10  # applied again
    schedule(eng, clock, InForce())
    assert eng.state()["state"] == "ON"  # the person's ON, from before the window took over


def test_after_a_hand_override_the_window_end_keeps_the_persons_choice() -> None:
    eng, _display, clock = make_engine()
    schedule(eng, clock, OFF)
    send(eng, clock, "power", "ON")
    schedule(eng, clock, InForce())
    assert eng.state()["state"] == "ON"
    send(eng, clock, "power", "OFF")  # and after an OFF by hand during the window: off
    schedule(eng, clock, OFF)
    send(eng, clock, "power", "TOGGLE")
    send(eng, clock, "power", "OFF")
    schedule(eng, clock, InForce())
    assert eng.state()["state"] == "OFF"


def test_a_preset_window_remembers_and_restores_what_showed_before() -> None:
    eng, _display, clock = make_engine()
    looks = with_looks(eng)
    before = looks.showing
    send(eng, clock, "power", "OFF")  # a preset window turns the light on
    schedule(eng, clock, InForce(("evening",), LookAction("preset", "calm"), "evening"))
    assert looks.calls == [("preset", ("calm", "schedule"))]
    assert eng.state()["state"] == "ON"
    # a cap window opens inside it: the preset is not applied again
    schedule(eng, clock, InForce(("evening", "night"), LookAction("preset", "calm"),
                                 "evening", 10))
    assert len(looks.calls) == 1
    # a later window's playlist takes the look over; the "before" stays the first one
    schedule(eng, clock, InForce(("evening", "party"), LookAction("playlist", "mix"), "party"))
    schedule(eng, clock, InForce())
    assert looks.calls[1:] == [("play", ("mix", "schedule")),
                               ("restore", LookSnapshot(before.animation, {}, False))]
    assert eng.state()["state"] == "OFF"


def test_a_hand_made_look_wins_then_the_window_applies_again_at_the_boundary() -> None:
    eng, _display, clock = make_engine()
    looks = with_looks(eng)
    schedule(eng, clock, InForce(("evening",), LookAction("preset", "calm"), "evening"))
    looks.by_hand("mine")
    schedule(eng, clock, InForce(("evening",), LookAction("preset", "calm"), "evening"))
    assert looks.calls == [("preset", ("calm", "schedule"))]  # same set: the person wins
    schedule(eng, clock, InForce(("evening", "night"), LookAction("preset", "calm"),
                                 "evening", 10))
    assert looks.calls[-1] == ("preset", ("calm", "schedule"))  # the boundary: again
    schedule(eng, clock, InForce())
    assert looks.calls[-1] == ("restore", LookSnapshot("solid", {}, True, preset="mine"))
    looks.by_hand("other")  # no window's look in force: nothing to override
    assert eng.schedule.overridden is False


def test_a_window_whose_preset_is_gone_keeps_the_look_and_says_so() -> None:
    eng, _display, clock = make_engine()
    looks = with_looks(eng)
    looks.missing.add("gone")
    events: list[tuple[str, dict[str, Any]]] = []
    eng.schedule.event = lambda name, **fields: events.append((name, fields))
    schedule(eng, clock, InForce(("evening",), LookAction("preset", "gone"), "evening"))
    assert looks.calls == [] and events[0][0] == "schedule_action_failed"
    assert events[0][1]["window"] == "evening"


def test_a_pause_returns_to_what_showed_before() -> None:
    eng, display, clock = make_engine()
    schedule(eng, clock, InForce(("off", "night"), LookAction("off"), "off", 10))
    schedule(eng, clock, InForce())  # cmd/schedule {"enabled": false} sends this
    assert eng.state()["state"] == "ON" and display.brightness_pct == 80


def test_nothing_of_the_schedule_runs_per_frame() -> None:
    eng, _display, clock = make_engine()
    schedule(eng, clock, InForce(("off", "night"), LookAction("off"), "off", 10))
    calls = []
    eng.schedule.apply = lambda cmd, now: calls.append(cmd)  # type: ignore[method-assign]
    for _ in range(30):
        tick(eng, clock)
    assert calls == []


def test_underlying_is_what_a_window_covers_until_a_person_wins() -> None:
    eng, _, clock = make_engine()
    assert eng.schedule.underlying() is None
    schedule(eng, clock, OFF)
    before = eng.schedule.underlying()
    assert before is not None and before.power_on is True
    send(eng, clock, "power", "ON")
    assert eng.schedule.underlying() is None  # the person's choice is what shows


class LevelLooks(RecordingLooks):
    """A preset that stores a brightness, as real presets do."""

    def apply_preset(self, name: str, now: float, by: str = "hand") -> None:
        super().apply_preset(name, now, by)
        self.real.panel.brightness_pct = 20
        self.real.panel.apply_brightness()


def test_a_preset_windows_brightness_goes_back_unless_a_person_changed_it() -> None:
    eng, display, clock = make_engine()
    looks = LevelLooks(eng.looks)
    eng.schedule = ScheduleInForce(looks, eng.panel, eng.state_changed)  # type: ignore[arg-type]
    evening = InForce(("evening",), LookAction("preset", "calm"), "evening")
    schedule(eng, clock, evening)
    assert eng.state()["brightness"] == 20 and display.brightness_pct == 20
    schedule(eng, clock, InForce())
    assert eng.state()["brightness"] == 80 and display.brightness_pct == 80
    schedule(eng, clock, evening)
    send(eng, clock, "brightness", "45")  # a person's level stays after the window
    schedule(eng, clock, InForce())
    assert eng.state()["brightness"] == 45


def test_the_schedules_own_commands_are_not_counted_as_commands() -> None:
    """`commands_total` counts what came from outside: a soak that sends N commands
    must read N, however many boundaries the scheduler crossed meanwhile."""
    eng, _, clock = make_engine()
    schedule(eng, clock, InForce(("night",), brightness_max=10))
    schedule(eng, clock, InForce())
    assert eng.counters.commands_total == 0
    send(eng, clock, "brightness", "40")
    assert eng.counters.commands_total == 1


def test_an_evaluation_that_changes_nothing_leaves_the_state_version() -> None:
    """The scheduler's first evaluation at boot (nothing in force) may reach the render
    loop after the first retained state went out: its version must not move for it."""
    eng, _, clock = make_engine()
    tick(eng, clock)
    v0 = eng.state()["version"]
    schedule(eng, clock, InForce())
    assert eng.state()["version"] == v0
    schedule(eng, clock, InForce(("night",), brightness_max=10))
    assert eng.state()["version"] == v0 + 1
