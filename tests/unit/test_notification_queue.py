"""The notification queue's rules (contract section 7) on a fake clock: pure, no engine."""

from __future__ import annotations

from appliance.content.notifications import QUEUE_MAX, Note, NoteEvent, NotificationQueue


def names(events: list[NoteEvent]) -> list[tuple[str, str, str | None]]:
    return [(e.name, e.id, e.reason) for e in events]


def showing(q: NotificationQueue) -> str | None:
    return None if q.active is None else q.active.note.id


def test_first_shows_at_once_and_expires_after_its_duration() -> None:
    q = NotificationQueue()
    assert names(q.add(Note("a", "hi", duration_s=8), 100.0, True)) == [
        ("notification_shown", "a", None)]
    assert q.step(107.9, True) == []
    assert names(q.step(108.0, True)) == [("notification_ended", "a", "expired")]
    assert q.active is None


def test_equal_priorities_show_in_arrival_order() -> None:
    q = NotificationQueue()
    for i, name in enumerate("abc"):
        q.add(Note(name, name, duration_s=5), 100.0 + i, True)
    assert showing(q) == "a"
    assert [n.id for n in q.queue] == ["b", "c"]
    q.step(105.0, True)
    assert showing(q) == "b"
    q.step(110.0, True)
    assert showing(q) == "c"


def test_higher_priority_preempts_and_the_preempted_resumes_with_its_remaining_time() -> None:
    q = NotificationQueue()
    q.add(Note("low", "x", priority=10, duration_s=10), 100.0, True)
    q.add(Note("mid", "x", priority=10, duration_s=10), 101.0, True)
    ev = q.add(Note("high", "x", priority=90, duration_s=4), 103.0, True)
    assert names(ev) == [("notification_ended", "low", "preempted"),
                         ("notification_shown", "high", None)]
    assert [n.id for n in q.queue] == ["low", "mid"]  # back at the head, before its equal
    assert names(q.step(107.0, True)) == [("notification_ended", "high", "expired"),
                                         ("notification_shown", "low", None)]
    assert q.active is not None and q.active.ends_at == 107.0 + 7.0  # 3 of 10 s were shown


def test_lower_or_equal_priority_waits() -> None:
    q = NotificationQueue()
    q.add(Note("a", "x", priority=50), 0.0, True)
    q.add(Note("b", "x", priority=50), 1.0, True)
    q.add(Note("c", "x", priority=20), 1.0, True)
    q.add(Note("d", "x", priority=70), 2.0, True)  # pre-empts a
    assert showing(q) == "d"
    assert [n.id for n in q.queue] == ["a", "b", "c"]


def test_replace_by_id_in_place_restarts_its_time() -> None:
    q = NotificationQueue()
    q.add(Note("door", "ring", duration_s=8), 100.0, True)
    ev = q.add(Note("door", "ring again", duration_s=8), 105.0, True)
    assert names(ev) == [("notification_ended", "door", "replaced"),
                         ("notification_shown", "door", None)]
    assert q.active is not None and q.active.note.text == "ring again"
    assert q.active.ends_at == 113.0
    q.add(Note("a", "x"), 106.0, True)
    q.add(Note("b", "x"), 106.0, True)
    assert q.add(Note("a", "new a"), 107.0, True) == []
    assert [(n.id, n.text) for n in q.queue] == [("a", "new a"), ("b", "x")]


def test_hold_shows_until_dismissed() -> None:
    q = NotificationQueue()
    q.add(Note("h", "x", hold=True), 0.0, True)
    assert q.active is not None and q.active.ends_at is None
    assert q.step(1e6, True) == []
    assert q.document(lambda t: t)["active"]["ends_at"] is None
    assert names(q.dismiss(None, False, 1e6, True) or []) == [
        ("notification_ended", "h", "dismissed")]


def test_every_dismiss_form() -> None:
    q = NotificationQueue()
    for name in "abcd":
        q.add(Note(name, "x", hold=True), 0.0, True)
    assert names(q.dismiss("c", False, 1.0, True) or []) == [
        ("notification_ended", "c", "dismissed")]  # a queued one, by id
    assert [n.id for n in q.queue] == ["b", "d"]
    assert names(q.dismiss("a", False, 1.0, True) or []) == [
        ("notification_ended", "a", "dismissed"), ("notification_shown", "b", None)]
    assert names(q.dismiss(None, False, 2.0, True) or []) == [
        ("notification_ended", "b", "dismissed"), ("notification_shown", "d", None)]
    assert q.dismiss("nope", False, 2.0, True) is None
    q.add(Note("e", "x", hold=True), 3.0, True)
    assert names(q.dismiss(None, True, 3.0, True) or []) == [
        ("notification_ended", "d", "dismissed")]
    assert q.active is None and q.queue == []
    assert q.dismiss(None, False, 4.0, True) is None


def test_power_off_drops_without_wake_and_shows_with_it() -> None:
    q = NotificationQueue()
    assert names(q.add(Note("a", "x"), 0.0, False)) == [("notification_dropped", "a", "power_off")]
    assert names(q.add(Note("w", "x", wake=True, duration_s=3), 0.0, False)) == [
        ("notification_shown", "w", None)]
    assert q.shows(False) is not None
    assert names(q.step(3.0, False)) == [("notification_ended", "w", "expired")]


def test_a_non_wake_one_showing_when_the_power_goes_off_is_not_shown() -> None:
    q = NotificationQueue()
    q.add(Note("a", "x"), 0.0, True)
    assert q.shows(True) is not None and q.shows(False) is None


def test_ttl_drops_one_that_has_not_begun() -> None:
    q = NotificationQueue()
    q.add(Note("hold", "x", hold=True), 0.0, True)
    q.add(Note("late", "x", ttl_s=60), 0.0, True)
    assert q.step(59.9, True) == []
    assert names(q.step(60.0, True)) == [("notification_dropped", "late", "ttl")]


def test_ttl_does_not_drop_a_preempted_one() -> None:
    q = NotificationQueue()
    q.add(Note("a", "x", ttl_s=5, duration_s=100), 0.0, True)
    q.add(Note("b", "x", priority=90, hold=True), 1.0, True)
    assert q.step(50.0, True) == []
    assert [n.id for n in q.queue] == ["a"]


def test_a_full_queue_drops_the_lowest_priority_oldest() -> None:
    q = NotificationQueue()
    q.add(Note("shown", "x", priority=100, hold=True), 0.0, True)
    for i in range(QUEUE_MAX):
        q.add(Note(f"n{i}", "x", priority=10 if i in (3, 7) else 50), float(i), True)
    assert len(q.queue) == QUEUE_MAX
    ev = q.add(Note("n32", "x", priority=50), 40.0, True)
    assert names(ev) == [("notification_dropped", "n3", "queue_full")]
    ev = q.add(Note("tiny", "x", priority=0), 41.0, True)  # the lowest of all: itself
    assert names(ev) == [("notification_dropped", "tiny", "queue_full")]
    assert len(q.queue) == QUEUE_MAX


def test_the_document() -> None:
    q = NotificationQueue()
    q.add(Note("a", "hello", priority=60, duration_s=8), 10.0, True)
    q.add(Note("b", "later", priority=20), 11.0, True)
    doc = q.document(lambda t: t + 1000.0)
    assert doc == {
        "active": {"id": "a", "text": "hello", "priority": 60, "started_at": 1010.0,
                   "ends_at": 1018.0},
        "queue": [{"id": "b", "text": "later", "priority": 20, "queued_at": 1011.0}]}
