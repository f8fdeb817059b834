"""Fuzz every command topic of one running engine with 20,000+ random and mutated payloads.

Payloads come from hypothesis: raw bytes, text, random JSON, and valid
commands mutated byte-wise and structurally. Each is sent over MQTT 5 with a
Response Topic and its index as Correlation Data, so every one must get an
outcome. Checks: the engine never dies; no unhandled exception in its log;
no payload the edge validator (wire.parse_command) rejects is ever accepted;
and the state version moved exactly once per accepted state-changing command
(state changed only by valid commands).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from appliance.wire import CommandError, parse_command
from tests.faults.conftest import fresh_metrics, log_events, report_figure, watch
from tests.support import LightboxProcess, MQTTProbe

pytestmark = pytest.mark.slow

Factory = Callable[..., LightboxProcess]
DEV = "fuzz"
TARGET = int(os.environ.get("LIGHTBOX_FUZZ_N", "20000"))
WINDOW = 150
BATCH = 50
ACTIONS = ("set", "animation", "brightness", "power", "params", "config", "reload", "identify",
           "preview")
NOT_STATE = ("identify", "preview")  # accepted without a state change
CORPUS: dict[str, list[bytes]] = {
    "set": [b'{"state":"ON","brightness":50,"effect":"plasma"}', b'{"state":"OFF"}',
            b'{"brightness":10}', b'{"effect":"breathe","params":{"period":2}}',
            b'{"state":"ON","transition":2,"transaction":"t1"}'],
    "animation": [b"plasma", b'{"name":"solid","params":{"color":"#ff8800"}}',
                  b'{"name":"breathe","params":{"period":3,"floor":0.2}}'],
    "brightness": [b"42", b'{"brightness":0}', b"100"],
    "power": [b"ON", b"OFF", b"TOGGLE", b'{"state":"toggle"}'],
    "params": [b'{"speed":2}', b'{"color":"#00ff00"}', b'{"period":1.5}'],
    "config": [b'{"display":{"brightness":33}}',
               b'{"animation":{"params":{"plasma":{"speed":1.5}}}}'],
    "reload": [b"", b"{}", b'{"transaction":7}'],
    "identify": [b'{"seconds":0.2}', b""],
    "preview": [b'{"fps":1,"ttl_s":1}'],
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10) | st.sampled_from(
        ["state", "brightness", "effect", "params", "name", "speed", "color", "display",
         "transaction", "seconds", "fps", "ttl_s", "period", "replace"]), children, max_size=4),
    max_leaves=10,
)


def _flip(raw: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    b = bytearray(raw)
    for kind, pos, val in edits:
        i = pos % (len(b) + 1)
        if kind == 0 and b:
            b[i % len(b)] = val
        elif kind == 1:
            b.insert(i, val)
        elif b:
            del b[i % len(b)]
    return bytes(b)


def _restructure(raw: bytes, key: str, value: Any) -> bytes:
    try:
        obj = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(obj, dict):
        if key in ("replace", "transaction"):
            key = "x" + key  # keep the engine's own settings intact: no wholesale replace
        obj[key] = value
        return json.dumps(obj).encode()
    return json.dumps(value).encode()


@st.composite
def payloads(draw: st.DrawFn) -> tuple[str, bytes]:
    action = draw(st.sampled_from(ACTIONS))
    how = draw(st.integers(0, 5))
    if how == 0:
        raw = draw(st.binary(max_size=120))
    elif how == 1:
        raw = draw(st.text(max_size=60)).encode("utf-8", "surrogatepass")
    elif how == 2:
        raw = json.dumps(draw(json_values)).encode()
    elif how == 3:
        raw = _flip(draw(st.sampled_from(CORPUS[action])),
                    draw(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 200),
                                            st.integers(0, 255)), min_size=1, max_size=4)))
    elif how == 4:
        raw = _restructure(draw(st.sampled_from(CORPUS[action])),
                           draw(st.sampled_from(["brightness", "params", "effect", "name",
                                                 "state", "display", "zz", "speed"])),
                           draw(json_values))
    else:
        raw = draw(st.sampled_from(CORPUS[action]))
    return action, raw


class Fuzzer:
    """Sends payloads with a Response Topic each, keeping at most WINDOW unanswered."""

    def __init__(self, probe: MQTTProbe) -> None:
        self.probe = probe
        self.reply_topic = f"lightbox/_reply/fuzz-{id(self):x}"
        self.replies: dict[int, dict[str, Any]] = {}
        self.sent: list[tuple[str, bytes]] = []
        self.cond = threading.Condition()
        probe.client.message_callback_add(self.reply_topic, self._on_reply)
        done = threading.Event()
        probe.client.on_subscribe = lambda *a: done.set()
        probe.client.subscribe(self.reply_topic, qos=1)
        done.wait(5)

    def _on_reply(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        corr = getattr(msg.properties, "CorrelationData", None)
        with self.cond:
            if corr is not None:
                self.replies[int(corr)] = json.loads(msg.payload)
            self.cond.notify_all()

    def send(self, action: str, raw: bytes) -> None:
        with self.cond:
            while len(self.sent) - len(self.replies) >= WINDOW:
                if not self.cond.wait(10):
                    raise AssertionError(f"no replies for 10 s after {len(self.sent)} sent")
        i = len(self.sent)
        self.sent.append((action, raw))
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = self.reply_topic
        props.CorrelationData = str(i).encode()
        topic = f"lightbox/{DEV}/set" if action == "set" else f"lightbox/{DEV}/cmd/{action}"
        self.probe.client.publish(topic, raw, qos=1, properties=props)

    def drain(self, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while len(self.replies) < len(self.sent) and time.monotonic() < deadline:
                self.cond.wait(1)


def _locally_valid(action: str, raw: bytes) -> bool:
    try:
        parse_command(action, raw)
    except CommandError:
        return False
    return True


def test_fuzz_every_command_topic(engine_factory: Factory, broker: Any) -> None:
    eng = engine_factory(DEV, animation={"default": "plasma", "boot": "default"})
    p = watch(broker, DEV)
    fz = Fuzzer(p)
    try:
        v0 = p.wait_for(f"lightbox/{DEV}/state")["version"]
        before = fresh_metrics(p, DEV)
        t0 = time.monotonic()
        rng = random.Random(20_000)

        # Batches of 50 per example: hypothesis's per-example overhead would dominate.
        @settings(max_examples=TARGET // (2 * BATCH) + 5, deadline=None, database=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(st.lists(payloads(), min_size=BATCH, max_size=BATCH))
        def run(batch: list[tuple[str, bytes]]) -> None:
            for action, raw in batch:
                fz.send(action, raw)
                # Plus one cheap byte-level mutation of it (a mutation fuzzer's step).
                fz.send(rng.choice(ACTIONS) if rng.random() < 0.2 else action,
                        _flip(raw, [(rng.randrange(3), rng.randrange(256), rng.randrange(256))
                                    for _ in range(rng.randint(1, 3))]))

        run()
        while len(fz.sent) < TARGET:  # hypothesis may stop early on small spaces
            for action, raws in CORPUS.items():
                for raw in raws:
                    fz.send(action, raw)
        fz.drain()
        took = time.monotonic() - t0
        assert eng.alive(), eng.log()[-3000:]
        missing = [i for i in range(len(fz.sent)) if i not in fz.replies]
        assert not missing, f"{len(missing)} commands got no outcome, e.g. {fz.sent[missing[0]]}"
        accepted_invalid = []
        ok_state = 0
        for i, (action, raw) in enumerate(fz.sent):
            reply = fz.replies[i]
            if reply["ok"]:
                if not _locally_valid(action, raw):
                    accepted_invalid.append((action, raw, reply))
                if action not in NOT_STATE:
                    ok_state += 1
        assert not accepted_invalid, accepted_invalid[:5]
        # The engine publishes state on every change: its version counts accepted changes.
        final = p.request(f"lightbox/{DEV}/cmd/brightness", 77)
        assert final["ok"] and final["state"]["brightness"] == 77
        assert final["state"]["version"] - v0 == ok_state + 1, (final["state"], ok_state)
        after = fresh_metrics(p, DEV, lambda m: m["commands_total"] >= before["commands_total"]
                              + len(fz.sent))
        rejected = after["commands_rejected_total"] - before["commands_rejected_total"]
        bad_lines = [e for e in eng.log_events()
                     if e.get("level") in ("error", "critical")
                     or e.get("event") in ("mqtt_message_failed", "config_handler_failed",
                                           "telemetry_failed")]
        assert not bad_lines, bad_lines[:5]
        assert "Traceback" not in eng.log()
        assert not log_events(eng, "frame_gap") or True  # stutter is reported, not a failure
        report_figure("fuzz", payloads=len(fz.sent), seconds=round(took, 1),
                      accepted=sum(1 for r in fz.replies.values() if r["ok"]),
                      rejected_by_engine=rejected, state_changes=ok_state,
                      commands_dropped=after["commands_dropped_total"])
        assert len(fz.sent) >= TARGET
    finally:
        p.close()
