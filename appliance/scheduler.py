"""The scheduler: when the schedule's windows open and close, off the frame path (section 8).

Owns the scheduler thread: it evaluates the windows at start (before the first
frame), then sleeps until the next boundary in steps of at most ``STEP_S`` so it
notices a clock jump (the wall clock drifting from the monotonic one by more than
``JUMP_S``: NTP setting a Pi's clock at boot), a settings change and
``cmd/schedule``; each time it re-evaluates. Every evaluation that changes what
is in force queues ``ApplySchedule`` for the render loop and publishes the
retained ``schedule`` document. Owns the paused flag (``cmd/schedule``) and its
file in the state folder, written atomically and only when it changes. The
windows' arithmetic (days, sun times, DST) is the evaluator's
(``appliance.content.schedule``), what a window does is the render loop's
(``render.schedule_apply``). Clocks, the evaluator, the engine and the publisher
are injected. Knows nothing of paho or displays.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import structlog

from appliance import settings as settings_mod
from appliance.content.schedule_model import Boundary, Evaluation, InForce
from appliance.render.loop import ReplyFn
from appliance.render.own_commands import ApplySchedule
from appliance.settings import Settings
from appliance.settings.schedule_schema import Location, ScheduleWindow
from appliance.wire.command_base import Meta
from appliance.wire.look_commands import SetSchedule

log = structlog.get_logger("schedule")

#: The longest sleep between two looks at the clocks, in seconds.
STEP_S = 1.0
#: A wall clock that moved this much more (or less) than the monotonic one has jumped.
JUMP_S = 2.0
#: Re-evaluate at least this often (the week plan and the offsets of ``next`` stay fresh).
REFRESH_S = 3600.0
#: After a failed evaluation (a bug, an unknown zone), try again this much later.
RETRY_S = 60.0
#: The paused flag's file in the state folder.
PAUSE_FILE = "schedule.json"


class Evaluator(Protocol):
    """What the scheduler needs from the pure evaluator (``appliance.content.schedule``)."""

    def evaluate(self, windows: Sequence[ScheduleWindow], tz: ZoneInfo,
                 location: Location | None, now: float) -> Evaluation: ...

    def resolve_timezone(self, name: str | None) -> ZoneInfo: ...

    def week_plan(self, windows: Sequence[ScheduleWindow], tz: ZoneInfo,
                  location: Location | None, now: float) -> Sequence[Mapping[str, object]]: ...


Submit = Callable[[ApplySchedule, ReplyFn | None], None]


class Scheduler:
    """Evaluates the schedule on boundaries, clock jumps, settings changes and commands."""

    def __init__(self, evaluator: Evaluator, settings: Callable[[], Settings], submit: Submit,
                 publish: Callable[[str, Any], None], state_folder: Path, *,
                 wall: Callable[[], float] = time.time,
                 mono: Callable[[], float] = time.monotonic) -> None:
        self.evaluator = evaluator
        self.settings = settings
        self.submit = submit
        self.publish = publish
        self.pause_file = state_folder / PAUSE_FILE
        self.wall = wall
        self.mono = mono
        self.enabled = True
        self.document: dict[str, Any] | None = None
        self.evaluations = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._requests: list[tuple[SetSchedule, ReplyFn | None]] = []
        self._seen: Settings | None = None
        self._next: Boundary | None = None
        self._due = 0.0  # wall time of the next evaluation that nothing else triggers
        self._anchor = (0.0, 0.0)  # (wall, monotonic) at the last look at the clocks
        self._sent: InForce | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, stop: threading.Event) -> None:
        """Read the paused flag, evaluate now (before the first frame), then run the thread."""
        self.enabled = self._load_enabled()
        self.check()
        threading.Thread(target=self._run, args=(stop,), name="schedule", daemon=True).start()

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                delay = self.check()
            except Exception as exc:  # a bug here must not end the schedule for good
                log.exception("schedule_check_failed", error=str(exc))
                delay = STEP_S
            self._wake.wait(delay)
            self._wake.clear()

    def request(self, cmd: SetSchedule, reply: ReplyFn | None) -> None:
        """``cmd/schedule`` (thread-safe): answered once what it puts in force is applied."""
        with self._lock:
            self._requests.append((cmd, reply))
        self._wake.set()

    def republish(self) -> None:
        """Publish the retained document again (after the MQTT link reconnects)."""
        doc = self.document
        if doc is not None:
            self.publish("schedule", doc)

    # ------------------------------------------------------------------ one look
    def check(self) -> float:
        """Evaluate if anything calls for it; return how long to sleep before the next look."""
        with self._lock:
            requests, self._requests = self._requests, []
        for cmd, _ in requests:
            self._set_enabled(cmd.enabled)
        settings, wall, mono = self.settings(), self.wall(), self.mono()
        reason = self._reason(settings, wall, mono)
        self._anchor = (wall, mono)
        if requests:
            reason = "command"
        if reason is not None:
            self._evaluate(settings, wall, reason, requests)
        return self._delay(self.wall())

    def _reason(self, settings: Settings, wall: float, mono: float) -> str | None:
        if self._seen is None:
            return "start"
        if settings is not self._seen:
            return "settings"
        anchor_wall, anchor_mono = self._anchor
        if abs((wall - anchor_wall) - (mono - anchor_mono)) > JUMP_S:
            return "clock_jump"
        if self._next is not None and wall >= self._next.at:
            return "boundary"
        if wall >= self._due:
            return "refresh"
        return None

    def _delay(self, wall: float) -> float:
        until = self._due if self._next is None else min(self._due, self._next.at)
        return max(0.01, min(STEP_S, until - wall))

    def _evaluate(self, settings: Settings, wall: float, reason: str,
                  requests: list[tuple[SetSchedule, ReplyFn | None]]) -> None:
        self._seen = settings
        try:
            in_force, doc = self._compute(settings, wall)
        except Exception as exc:  # an evaluator bug must not stop the box: try again later
            log.exception("schedule_evaluation_failed", reason=reason, error=str(exc))
            self._next, self._due = None, wall + RETRY_S
            for cmd, reply in requests:  # still answered: the flag is stored
                self.submit(ApplySchedule(in_force=self._sent or InForce(), meta=cmd.meta), reply)
            return
        self.evaluations += 1
        self._due = wall + REFRESH_S
        if doc != self.document:
            self.document = doc
            self.publish("schedule", doc)
        if in_force != self._sent or reason == "start":
            log.info("schedule_evaluated", reason=reason, active=list(in_force.active),
                     next=doc["next"], enabled=self.enabled)
        if requests:
            for cmd, reply in requests:
                self.submit(ApplySchedule(in_force=in_force, meta=cmd.meta), reply)
        elif in_force != self._sent:
            self.submit(ApplySchedule(in_force=in_force, meta=Meta(source="schedule")), None)
        self._sent = in_force

    def _compute(self, settings: Settings, wall: float) -> tuple[InForce, dict[str, Any]]:
        """What is in force at ``wall`` and the retained document saying so."""
        ev = self.evaluator
        tz = ev.resolve_timezone(settings.timezone)
        windows = [w for w in settings.schedule if w.enabled]
        result = ev.evaluate(windows, tz, settings.location, wall)
        week = ev.week_plan(windows, tz, settings.location, wall)
        paused = not self.enabled
        in_force = InForce() if paused else result.in_force
        self._next = None if paused else result.next
        return in_force, {
            "enabled": self.enabled,
            "active": list(in_force.active),
            "next": None if self._next is None else _boundary(self._next, tz),
            "timezone": tz.key,
            "week": [dict(day) for day in week],
        }

    # ------------------------------------------------------------------ the paused flag
    def _set_enabled(self, enabled: bool) -> None:
        if enabled == self.enabled:
            return
        self.enabled = enabled
        log.info("schedule_enabled" if enabled else "schedule_paused")
        try:
            settings_mod.atomic_write(self.pause_file,
                                      settings_mod.to_json_bytes({"enabled": enabled}), 0o644)
        except OSError as exc:  # in force now; lost at the next restart
            log.warning("schedule_flag_save_failed", path=str(self.pause_file), error=str(exc))

    def _load_enabled(self) -> bool:
        try:
            data = json.loads(self.pause_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return True
        except (OSError, ValueError) as exc:
            log.warning("schedule_flag_unreadable", path=str(self.pause_file), error=str(exc))
            return True
        enabled = data.get("enabled") if isinstance(data, dict) else None
        return enabled if isinstance(enabled, bool) else True


def _boundary(b: Boundary, tz: ZoneInfo) -> dict[str, Any]:
    """``next`` in the retained document: ``at`` in ISO 8601 with the zone's offset."""
    at = datetime.fromtimestamp(b.at, tz).isoformat(timespec="seconds")
    return {"name": b.name, "at": at, "change": b.change}
