"""Bounded resources: every buffer that could grow has a bound and a drop counter.

In-process (no broker needed): the command queue, the event rate limit and the
recent-events buffer, the failure records, the hung-thread limit of the draw
sandbox, the MQTT link's outbox and its refusal to queue retained documents offline.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from animations import REGISTRY
from appliance.display.virtual import VirtualDisplay
from appliance.mqtt.link import MQTTLink, Outbox, Outgoing
from appliance.render.engine import Engine
from appliance.render.loop import COMMAND_QUEUE_SIZE, CommandQueue, Pending
from appliance.render.sandbox import AnimationHang, Sandbox
from appliance.settings import MQTTSettings, Settings
from appliance.wire.commands import Meta, SetBrightness


def _engine(**animation: Any) -> Engine:
    s = Settings.model_validate({"device_id": "b", "display": {"driver": "virtual"},
                                 "animation": {"default": "plasma", **animation},
                                 "health": {"events_per_minute": 10}})
    e = Engine(s, VirtualDisplay(64, 32), REGISTRY)
    e.start()
    return e


def test_command_queue_keeps_the_newest_and_counts_what_it_drops() -> None:
    q = CommandQueue()
    told: list[dict[str, Any]] = []
    for i in range(COMMAND_QUEUE_SIZE + 100):
        q.put(Pending(SetBrightness(i % 100 + 1, meta=Meta(i)), lambda r: told.append(r.as_json())))
    assert len(q) == COMMAND_QUEUE_SIZE and q.dropped == 100
    assert len(told) == 100 and all(r["error"]["code"] == "superseded" for r in told)
    assert q.drain()[-1].command.transaction == COMMAND_QUEUE_SIZE + 99


def test_events_are_rate_limited_and_the_recent_buffer_is_bounded() -> None:
    e = _engine()
    for i in range(500):
        e.event("command_rejected", n=i)
    assert len(e.events.recent) == 10
    assert e.events.suppressed_total == 490
    e.events._times.clear()  # a new minute
    for i in range(200):
        e.events._times.clear()
        e.event("x", n=i)
    assert len(e.events.recent) == 100 and e.events.dropped_total == 110
    snap = e.snapshot()
    assert snap["events_suppressed_total"] == 490 and snap["events_dropped_total"] == 110


def test_failure_records_are_bounded_per_animation() -> None:
    e = _engine()
    assert e.supervisor.requested is not None
    for i in range(1000):
        e.supervisor.failed(e.supervisor.requested, RuntimeError("x"), 1000.0 + i)
    assert list(e.supervisor.failures) == ["plasma"]
    assert len(e.supervisor.failures["plasma"].stamps) == 100


def test_hung_draw_threads_are_bounded() -> None:
    sb = Sandbox(max_abandoned=2)
    gate = threading.Event()
    for _ in range(2):
        w = sb.new_worker("stuck")
        w.submit(lambda t: gate.wait(), 0.0, time.monotonic())  # blocked in C: cannot be stopped
        assert w.result(0.05) is None
        sb.abandon(w)
    assert sb.live_abandoned() == 2
    with pytest.raises(AnimationHang):
        sb.new_worker("another")
    gate.set()
    deadline = time.monotonic() + 5
    while sb.live_abandoned() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sb.live_abandoned() == 0 and sb.abandoned_total == 2
    sb.new_worker("fine-again").retire()


def test_retained_documents_are_not_queued_while_offline() -> None:
    link = MQTTLink(MQTTSettings(port=1, max_queued_messages=10), "b", lambda *a: None,
                    lambda: None)
    link.start()  # nothing listens on port 1: stays disconnected
    try:
        for _ in range(50):
            link.publish("metrics", {"fps": 30}, retain=True)
            link.publish("events", {"event": "x"})
        # Retained ones are refused at once; events go through the outbox and are counted
        # by the mqtt-out thread when paho refuses them (qos 0, offline).
        deadline = time.monotonic() + 10
        while link.publish_dropped < 100 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert link.publish_dropped == 100
        assert link.status()["queue_depth"] == 0
    finally:
        link.stop()


def _msg(topic: str, payload: bytes = b"x") -> Outgoing:
    return Outgoing(topic, payload, 0, False)


def test_outbox_newest_state_wins_in_place() -> None:
    box = Outbox(maxlen=10)
    box.put(_msg("state", b"1"), key="state")
    box.put(_msg("reply"))
    box.put(_msg("state", b"2"), key="state")
    box.put(_msg("event"))
    box.put(_msg("event"))
    taken = box.take(0)
    # The newest state replaced the waiting one where it stood: still before the reply.
    assert [(m.topic, m.payload) for m in taken] == [
        ("state", b"2"), ("reply", b"x"), ("event", b"x"), ("event", b"x")]
    assert box.superseded == 1 and box.dropped == 0 and len(box) == 0


def test_outbox_is_bounded_and_drops_the_oldest() -> None:
    box = Outbox(maxlen=5)
    for i in range(12):
        box.put(_msg(f"e{i}"))
    assert box.dropped == 7
    assert [m.topic for m in box.take(0)] == ["e7", "e8", "e9", "e10", "e11"]
