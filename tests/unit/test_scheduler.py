"""The scheduler thread's decisions, driven by hand: fake wall and monotonic clocks, no sleep.

Each test calls ``Scheduler.check()`` (one look at the clocks) as the thread would,
with the product's evaluator (``appliance.content.schedule``) on fixed ``HH:MM:SS`` windows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from appliance import scheduler as scheduler_mod
from appliance.content import schedule as schedule_eval
from appliance.content.schedule_model import InForce, LookAction
from appliance.render.own_commands import ApplySchedule
from appliance.scheduler import JUMP_S, STEP_S, Scheduler
from appliance.settings import Settings, validate
from appliance.wire.command_base import Meta
from appliance.wire.look_commands import SetSchedule
from appliance.wire.replies import Reply

#: 2026-12-02 20:00:00 UTC, a Wednesday.
T0 = datetime(2026, 12, 2, 20, 0, 0, tzinfo=UTC).timestamp()


class Clocks:
    def __init__(self) -> None:
        self.wall_s, self.mono_s = T0, 1000.0

    def wall(self) -> float:
        return self.wall_s

    def mono(self) -> float:
        return self.mono_s

    def advance(self, seconds: float) -> None:
        self.wall_s += seconds
        self.mono_s += seconds


class Rig:
    """A scheduler with recorded submits and publishes."""

    def __init__(self, tmp: Path, settings: Settings, evaluator: Any = schedule_eval) -> None:
        self.clocks = Clocks()
        self.settings = settings
        self.submitted: list[tuple[ApplySchedule, Any]] = []
        self.published: list[tuple[str, Any]] = []
        self.folder = tmp
        self.sched = Scheduler(evaluator, lambda: self.settings, self._submit, self._publish,
                               tmp, wall=self.clocks.wall, mono=self.clocks.mono)

    def _submit(self, cmd: ApplySchedule, reply: Any) -> None:
        self.submitted.append((cmd, reply))

    def _publish(self, name: str, body: Any) -> None:
        self.published.append((name, body))

    def in_force(self) -> InForce:
        return self.submitted[-1][0].in_force

    def doc(self) -> dict[str, Any]:
        return [b for n, b in self.published if n == "schedule"][-1]


def windows(*spec: tuple[str, str, str, dict[str, Any]], tz: str = "UTC") -> Settings:
    return validate({"timezone": tz, "schedule": [
        {"name": n, "start": s, "end": e, "action": a} for n, s, e, a in spec]})


NIGHT = ("night", "20:00:10", "20:00:20", {"brightness_max": 10})
OFF = ("off", "19:59:00", "20:01:00", {"power": "OFF"})


def test_start_applies_what_is_open_now_and_publishes_the_document(tmp_path: Path) -> None:
    rig = Rig(tmp_path, windows(("off", "20:59:00", "21:01:00", {"power": "OFF"}),
                                ("night", "21:00:10", "21:00:20", {"brightness_max": 10}),
                                tz="Europe/Berlin"))  # 20:00 UTC is 21:00 in Berlin
    rig.sched.check()
    assert rig.in_force() == InForce(("off",), LookAction("off"), "off", None)
    doc = rig.doc()
    assert doc["enabled"] is True and doc["active"] == ["off"]
    assert doc["timezone"] == "Europe/Berlin"
    assert doc["next"] == {"name": "night", "at": "2026-12-02T21:00:10+01:00",
                           "change": "start"}
    assert len(doc["week"]) == 7 and doc["week"][0]["date"] == "2026-12-02"


def test_it_sleeps_in_short_steps_and_wakes_at_the_boundary(tmp_path: Path) -> None:
    rig = Rig(tmp_path, windows(NIGHT))
    assert rig.sched.check() == STEP_S  # ten seconds to go: never longer than a step
    assert rig.in_force() == InForce()
    for _ in range(9):
        rig.clocks.advance(1.0)
        rig.sched.check()
    assert len(rig.submitted) == 1  # nothing changed: nothing sent
    rig.clocks.advance(0.6)
    assert rig.sched.check() == pytest.approx(0.4)  # wakes right at the start
    rig.clocks.advance(0.4)
    rig.sched.check()
    assert rig.in_force().brightness_max == 10 and rig.doc()["active"] == ["night"]
    assert rig.doc()["next"]["change"] == "end"
    rig.clocks.advance(10.0)
    rig.sched.check()
    assert rig.in_force() == InForce() and rig.doc()["next"]["name"] == "night"


def test_a_clock_jump_reevaluates_at_once(tmp_path: Path) -> None:
    rig = Rig(tmp_path, windows(("evening", "21:00:00", "23:00:00", {"preset": "calm"})))
    rig.sched.check()
    assert rig.in_force() == InForce()
    rig.clocks.mono_s += 0.5
    rig.clocks.wall_s += 0.5 + JUMP_S * 0.9  # drift within the tolerance: nothing
    rig.sched.check()
    assert len(rig.submitted) == 1 and rig.sched.evaluations == 1
    rig.clocks.mono_s += 1.0
    rig.clocks.wall_s += 3600.0 + 1.0  # NTP sets the clock an hour on
    rig.sched.check()
    assert rig.in_force().active == ("evening",)
    assert rig.in_force().look == LookAction("preset", "calm")
    rig.clocks.mono_s += 1.0
    rig.clocks.wall_s -= 7200.0  # and back
    rig.sched.check()
    assert rig.in_force() == InForce()


def test_a_settings_change_reevaluates_and_sends_only_a_change(tmp_path: Path) -> None:
    rig = Rig(tmp_path, windows(OFF))
    rig.sched.check()
    published = len(rig.published)
    rig.settings = windows(OFF)  # a new object that says the same
    rig.sched.check()
    assert rig.sched.evaluations == 2
    assert len(rig.submitted) == 1 and len(rig.published) == published
    rig.settings = windows(("off", "19:59:00", "20:01:00", {"preset": "calm"}))
    rig.sched.check()
    assert rig.in_force().look == LookAction("preset", "calm")


def test_pause_and_resume_persist_and_answer(tmp_path: Path) -> None:
    rig = Rig(tmp_path, windows(OFF, NIGHT))
    rig.sched.check()
    replies: list[Reply] = []
    meta = Meta(transaction="t1", source="mqtt")
    rig.sched.request(SetSchedule(False, meta=meta), replies.append)
    rig.sched.check()
    cmd, reply = rig.submitted[-1]
    assert cmd.in_force == InForce() and cmd.meta == meta and reply == replies.append
    assert rig.doc()["enabled"] is False and rig.doc()["next"] is None
    assert rig.doc()["active"] == []
    flag = tmp_path / scheduler_mod.PAUSE_FILE
    written = flag.stat().st_mtime_ns
    rig.clocks.advance(15.0)  # a boundary passes while paused: nothing in force
    rig.sched.check()
    assert rig.in_force() == InForce()
    rig.sched.request(SetSchedule(False), None)  # paused again: answered, file untouched
    rig.sched.check()
    assert flag.stat().st_mtime_ns == written
    # A restart keeps the pause.
    again = Rig(tmp_path, windows(OFF, NIGHT))
    again.sched.enabled = again.sched._load_enabled()
    again.sched.check()
    assert again.in_force() == InForce() and again.doc()["enabled"] is False
    rig.sched.request(SetSchedule(True), None)
    rig.sched.check()
    assert rig.in_force().active == ("off", "night")
    assert rig.doc()["enabled"] is True


def test_an_unreadable_flag_file_means_enabled(tmp_path: Path) -> None:
    (tmp_path / scheduler_mod.PAUSE_FILE).write_text("{not json")
    rig = Rig(tmp_path, windows(OFF))
    assert rig.sched._load_enabled() is True


class Broken:
    def resolve_timezone(self, name: str | None) -> Any:
        raise RuntimeError("boom")


def test_an_evaluator_failure_is_logged_and_retried_not_raised(tmp_path: Path) -> None:
    rig = Rig(tmp_path, windows(OFF), evaluator=Broken())
    assert rig.sched.check() == STEP_S
    assert rig.submitted == [] and rig.sched.evaluations == 0
    rig.sched.request(SetSchedule(False), None)
    rig.sched.check()
    assert len(rig.submitted) == 1  # the command is still answered


def test_republish_sends_the_last_document(tmp_path: Path) -> None:
    rig = Rig(tmp_path, windows(OFF))
    rig.sched.republish()
    assert rig.published == []
    rig.sched.check()
    rig.sched.republish()
    assert rig.published[-1] == rig.published[-2]


def test_start_evaluates_before_it_returns_and_the_thread_stops(tmp_path: Path) -> None:
    import threading

    rig = Rig(tmp_path, windows(OFF))
    stop = threading.Event()
    rig.sched.start(stop)
    assert rig.in_force().active == ("off",)  # queued before the first frame could draw
    stop.set()
    rig.sched.request(SetSchedule(True), None)  # wakes the thread, which then ends
    for t in threading.enumerate():
        if t.name == "schedule":
            t.join(timeout=5)
            assert not t.is_alive()


def test_with_nothing_scheduled_it_still_refreshes_hourly(tmp_path: Path) -> None:
    rig = Rig(tmp_path, windows())
    rig.sched.check()
    assert rig.doc()["next"] is None and rig.doc()["week"][0]["date"] == "2026-12-02"
    for _ in range(int(scheduler_mod.REFRESH_S) - 1):
        rig.clocks.advance(1.0)
        rig.sched.check()
    assert rig.sched.evaluations == 1
    rig.clocks.advance(14400.0 - scheduler_mod.REFRESH_S + 1)  # past midnight: a new week
    rig.sched.check()
    assert rig.sched.evaluations == 2 and rig.doc()["week"][0]["date"] == "2026-12-03"
