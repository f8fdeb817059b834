"""The notification queue's rules (contract section 7), as pure state over a clock passed in.

Owns which notification shows and which wait: priorities with pre-emption (the
pre-empted one goes back to the head of the queue with its remaining time), equal
priorities in arrival order, replacement by id in place (its time restarts), hold,
wake (only wake ones show or start while the power is off; others sent while off
are dropped), ttl (dropped if not begun by then) and a bounded queue (when full the
lowest-priority, oldest one is dropped). Every call takes ``now`` (monotonic
seconds) and returns the events it caused. Knows nothing of drawing, MQTT or threads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

#: The most notifications that may wait (the showing one is not counted).
QUEUE_MAX = 32

EndReason = Literal["expired", "dismissed", "replaced", "preempted"]
DropReason = Literal["queue_full", "ttl", "power_off"]


@dataclass(frozen=True, eq=False)
class Note:
    """One notification as the queue keeps it (what to draw travels in ``look``)."""

    id: str
    text: str
    priority: int = 50
    duration_s: float = 8.0
    hold: bool = False
    wake: bool = False
    ttl_s: float = 600.0
    #: What the drawing needs (colours, icon, position); opaque to the queue.
    look: Any = None
    #: Set by the queue: when it arrived (monotonic) and its arrival number.
    queued_at: float = 0.0
    seq: int = 0
    #: Seconds left to show (None: its full duration; held ones never run out).
    remaining_s: float | None = None
    #: True once it has begun showing (ttl no longer applies).
    begun: bool = False


@dataclass(frozen=True)
class NoteEvent:
    """Something the queue did: ``notification_shown``, ``_ended`` or ``_dropped``."""

    name: str
    id: str
    reason: str | None = None

    def fields(self) -> dict[str, str]:
        """The event's key-values, as published."""
        return {"id": self.id} if self.reason is None else {"id": self.id, "reason": self.reason}


@dataclass
class Showing:
    """The notification on the panel and when it began and ends (monotonic; None: held)."""

    note: Note
    started_at: float
    ends_at: float | None


@dataclass
class NotificationQueue:
    """The showing notification and those waiting, ordered by priority then arrival."""

    max_queue: int = QUEUE_MAX
    active: Showing | None = None
    queue: list[Note] = field(default_factory=list)
    _seq: int = 0

    # ------------------------------------------------------------------ commands
    def add(self, note: Note, now: float, power_on: bool) -> list[NoteEvent]:
        """A new notification: replaces the one of its id, or waits, or shows at once."""
        self._seq += 1
        note = replace(note, queued_at=now, seq=self._seq, remaining_s=None, begun=False)
        events: list[NoteEvent] = []
        if self.active is not None and self.active.note.id == note.id:
            events.append(NoteEvent("notification_ended", note.id, "replaced"))
            self.active = None
            self._show(note, now, events)
        elif any(q.id == note.id for q in self.queue):
            at = next(i for i, q in enumerate(self.queue) if q.id == note.id)
            self.queue[at] = note
            self.queue.sort(key=lambda q: -q.priority)  # stable: keeps its place among equals
        elif not power_on and not note.wake:
            return [NoteEvent("notification_dropped", note.id, "power_off")]
        else:
            self._insert(note, before_equal=False)
        return events + self.step(now, power_on)

    def dismiss(self, target: str | None, everything: bool, now: float,
                power_on: bool) -> list[NoteEvent] | None:
        """End one by id, every one, or the showing one (None when there is no such one)."""
        events: list[NoteEvent] = []
        if everything:
            self.queue.clear()
        elif target is not None and (self.active is None or self.active.note.id != target):
            kept = [q for q in self.queue if q.id != target]
            if len(kept) == len(self.queue):
                return None
            self.queue = kept
            return [NoteEvent("notification_ended", target, "dismissed")]
        elif self.active is None:
            return None
        if self.active is not None:
            events.append(NoteEvent("notification_ended", self.active.note.id, "dismissed"))
            self.active = None
        return events + self.step(now, power_on)

    # ------------------------------------------------------------------ time
    def step(self, now: float, power_on: bool) -> list[NoteEvent]:
        """Expire, drop stale ones, pre-empt and start the next: call once a frame."""
        events: list[NoteEvent] = []
        act = self.active
        if act is not None and act.ends_at is not None and now >= act.ends_at:
            events.append(NoteEvent("notification_ended", act.note.id, "expired"))
            self.active = None
        if not self.queue:  # the usual frame: nothing stale, next or to trim
            return events
        stale = [q for q in self.queue if not q.begun and now >= q.queued_at + q.ttl_s]
        if stale:
            gone = {q.seq for q in stale}
            self.queue = [q for q in self.queue if q.seq not in gone]
            events += [NoteEvent("notification_dropped", q.id, "ttl") for q in stale]
        nxt = next((q for q in self.queue if power_on or q.wake), None)
        if nxt is not None and (self.active is None or nxt.priority > self.active.note.priority):
            self.queue.remove(nxt)
            if self.active is not None:
                events.append(self._preempt(now))
            self._show(nxt, now, events)
        return events + self._trim()

    def shows(self, power_on: bool) -> Showing | None:
        """What the panel shows: the active one, unless the power is off and it is no wake one."""
        act = self.active
        return act if act is not None and (power_on or act.note.wake) else None

    # ------------------------------------------------------------------ the document
    def document(self, to_wall: Callable[[float], float]) -> dict[str, Any]:
        """The retained ``notifications`` document (times as epoch seconds)."""
        act = self.active
        active = None if act is None else {
            "id": act.note.id, "text": act.note.text, "priority": act.note.priority,
            "started_at": round(to_wall(act.started_at), 3),
            "ends_at": None if act.ends_at is None else round(to_wall(act.ends_at), 3)}
        return {"active": active, "queue": [
            {"id": q.id, "text": q.text, "priority": q.priority,
             "queued_at": round(to_wall(q.queued_at), 3)} for q in self.queue]}

    # ------------------------------------------------------------------ inside
    def _show(self, note: Note, now: float, events: list[NoteEvent]) -> None:
        left = note.duration_s if note.remaining_s is None else note.remaining_s
        self.active = Showing(replace(note, begun=True), now, None if note.hold else now + left)
        events.append(NoteEvent("notification_shown", note.id))

    def _preempt(self, now: float) -> NoteEvent:
        act = self.active
        assert act is not None
        left = None if act.ends_at is None else max(0.0, act.ends_at - now)
        self.active = None
        self._insert(replace(act.note, remaining_s=left), before_equal=True)
        return NoteEvent("notification_ended", act.note.id, "preempted")

    def _insert(self, note: Note, before_equal: bool) -> None:
        """Place ``note`` after higher priorities; among equals first or last."""
        p = note.priority
        at = next((i for i, q in enumerate(self.queue)
                   if (q.priority <= p if before_equal else q.priority < p)), len(self.queue))
        self.queue.insert(at, note)

    def _trim(self) -> list[NoteEvent]:
        events = []
        while len(self.queue) > self.max_queue:
            victim = min(self.queue, key=lambda q: (q.priority, q.seq))
            self.queue.remove(victim)
            events.append(NoteEvent("notification_dropped", victim.id, "queue_full"))
        return events
