"""Fuzz every command topic of one running engine with 20,000+ random and mutated payloads.

Payloads come from hypothesis: raw bytes, text, random JSON, and valid
commands mutated byte-wise and structurally. Each is sent over MQTT 5 with a
Response Topic and its index as Correlation Data, so every one must get an
outcome. Checks: the engine never dies; no unhandled exception in its log;
no payload the edge validator (wire.parse_command) rejects is ever accepted;
and the state version moved exactly once per accepted state-changing command
(state changed only by valid commands).

Then JSON beyond the limits of contract section 5 (deep nesting up to tens of
thousands of levels, integers of 21 to 60,000 digits, ``NaN``/``Infinity``,
``1e309`` and the like, duplicate keys, each inside otherwise valid commands), on
every command topic and on every HTTP write route of the real bridge: every one
must get a clean rejection (``bad_json``: a reply, or a 400 JSON error; never a
500, never silence), and the engine must still serve afterwards.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from appliance.ops.broker import LocalBroker
from appliance.wire.commands import CommandError, parse_command
from tests.bridge.conftest import start_stack, unique_id
from tests.faults.conftest import fresh_metrics, log_events, report_figure, watch
from tests.support import LightboxProcess, MQTTProbe

pytestmark = pytest.mark.slow

Factory = Callable[..., LightboxProcess]
DEV = "fuzz"
TARGET = int(os.environ.get("LIGHTBOX_FUZZ_N", "20000"))
WINDOW = 150
#: Payloads beyond the JSON limits: on MQTT in all, and per HTTP write route.
JSON_N = int(os.environ.get("LIGHTBOX_FUZZ_JSON_N", "5000"))
HTTP_N = int(os.environ.get("LIGHTBOX_FUZZ_HTTP_N", "250"))
MAX_FUZZ_BYTES = 60_000  # under the 64 KiB cap, so that every refusal is about the JSON
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

    def __init__(self, probe: MQTTProbe, device: str = DEV) -> None:
        self.probe = probe
        self.device = device
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
        base = f"lightbox/{self.device}"
        topic = f"{base}/set" if action == "set" else f"{base}/cmd/{action}"
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


# ---------------------------------------------------------------------- beyond the JSON limits
#: Where a refused value goes, per action: valid commands with one slot (``%s``).
SLOTS: dict[str, list[str]] = {
    "set": ["%s", '{"brightness":%s}', '{"state":"ON","params":{"speed":%s}}',
            '{"effect":"plasma","start_at":%s}', '{"transition":%s}', '{"transaction":%s}'],
    "animation": ["%s", '{"name":"plasma","params":{"speed":%s}}',
                  '{"name":"plasma","start_at":%s}', '{"name":%s}',
                  '{"name":"plasma","params":%s}'],
    "brightness": ["%s", '{"brightness":%s}', '{"brightness":50,"transaction":%s}'],
    "power": ["%s", '{"state":%s}', '{"state":"ON","transaction":%s}'],
    "params": ["%s", '{"speed":%s}', '{"color":"#ff0000","x":[1,%s]}'],
    "config": ['{"display":{"brightness":%s}}', '{"animation":{"params":{"plasma":{"speed":%s}}}}',
               '{"display":%s}', "%s"],
    "reload": ["%s", '{"transaction":%s}'],
    "identify": ["%s", '{"seconds":%s}'],
    "preview": ["%s", '{"fps":%s,"ttl_s":1}'],
    "login": ["%s", '{"token":%s}'],
    "preset": ["%s", '{"save":%s}', '{"save":"a","animation":"solid","params":{"color":%s}}'],
    "playlist": ["%s", '{"save":"p","items":[{"animation":"plasma","duration_s":%s}]}',
                 '{"save":"p","items":%s}'],
    "schedule": ["%s", '{"enabled":%s}'],
    "live": ["%s", '{"mode":%s}'],
}
#: Valid objects whose keys get duplicated, per action.
OBJECTS: dict[str, list[dict[str, Any]]] = {
    "set": [{"state": "ON", "brightness": 50, "effect": "plasma"},
            {"effect": "breathe", "params": {"period": 2, "floor": 0.1}}],
    "animation": [{"name": "solid", "params": {"color": "#ff8800"}},
                  {"name": "breathe", "params": {"period": 3}}],
    "brightness": [{"brightness": 40}, {"brightness": 0, "transaction": "t"}],
    "power": [{"state": "ON"}, {"state": "TOGGLE", "transaction": 3}],
    "params": [{"speed": 2}, {"speed": 1, "scale": 2}],
    "config": [{"display": {"brightness": 33}},
               {"animation": {"params": {"plasma": {"speed": 1}}}}],
    "reload": [{"transaction": 7}],
    "identify": [{"seconds": 0.2}],
    "preview": [{"fps": 1, "ttl_s": 1}],
    "login": [{"token": "x" * 12}],
    "preset": [{"save": "a", "animation": "solid", "params": {"color": "#ff0000"}}],
    "playlist": [{"save": "p", "items": [{"animation": "plasma", "duration_s": 5}]}],
    "schedule": [{"enabled": False}],
    "live": [{"mode": "ignore"}],
}


def _deep(rng: random.Random) -> str:
    depth = rng.choice([33, 34, 40, 64, 100, 1000, rng.randint(33, 12_000), 12_000])
    levels = [rng.choice(("[", '{"k":')) for _ in range(depth)]
    inner = rng.choice(["1", '"x"', "[]", "{}", "null"])
    if rng.random() < 0.3:
        return "".join(levels)  # never closed: a parser would recurse all the way down
    return "".join(levels) + inner + "".join("]" if o == "[" else "}" for o in reversed(levels))


def _huge_int(rng: random.Random) -> str:
    digits = rng.choice([21, 22, 30, 100, 309, 400, 4300, 4301, 5000, 20_000, 50_000])
    body = str(rng.randint(1, 9)) + "".join(rng.choices("0123456789", k=digits - 1))
    return ("-" if rng.random() < 0.3 else "") + body


def _odd_float(rng: random.Random) -> str:
    return rng.choice(["1e309", "-1e309", "1.8e308", "2E308", "1e400", "-1e999", "9" * 400 + ".5",
                       "1" + "0" * 400 + ".0", "NaN", "Infinity", "-Infinity"])


def _key(k: str, rng: random.Random) -> str:
    if rng.random() < 0.3:  # the same key, spelt with an escape
        return f'"\\u{ord(k[0]):04x}' + json.dumps(k[1:])[1:]
    return json.dumps(k)


def _with_dup(value: Any, target: int, rng: random.Random, count: list[int]) -> str:
    """Serialise ``value``, duplicating a key of its ``target``-th object."""
    if isinstance(value, dict):
        mine = count[0]
        count[0] += 1
        pairs = [(_key(k, rng) if mine == target else json.dumps(k),
                  _with_dup(v, target, rng, count)) for k, v in value.items()]
        if mine == target:
            k, v = rng.choice(list(value.items()))
            pairs.insert(rng.randrange(len(pairs) + 1), (_key(k, rng), json.dumps(v)))
        return "{" + ",".join(f"{k}:{v}" for k, v in pairs) + "}"
    return json.dumps(value)


def _objects_in(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(_objects_in(v) for v in value.values())
    return 0


def bad_json(action: str, rng: random.Random) -> tuple[str, bytes]:
    """One payload for ``action`` that breaks a JSON limit: (kind, payload)."""
    kind = rng.choice(["deep", "deep", "huge_int", "odd_float", "duplicate_key"])
    if kind == "duplicate_key":
        obj = rng.choice(OBJECTS[action])
        text = _with_dup(obj, rng.randrange(_objects_in(obj)), rng, [0])
    else:
        core = {"deep": _deep, "huge_int": _huge_int, "odd_float": _odd_float}[kind](rng)
        text = rng.choice(SLOTS[action]).replace("%s", core)
        if rng.random() < 0.15:
            text = " \n" + text.replace(":", ": ", 3) + "\n"
    return kind, text.encode()[:MAX_FUZZ_BYTES]


def test_fuzz_json_beyond_the_limits_on_every_command_topic(engine_factory: Factory,
                                                            broker: Any) -> None:
    dev = "fuzzjson"
    eng = engine_factory(dev, animation={"default": "plasma", "boot": "default"})
    p = watch(broker, dev)
    fz = Fuzzer(p, dev)
    try:
        v0 = p.wait_for(f"lightbox/{dev}/state")["version"]
        before = fresh_metrics(p, dev)
        rng = random.Random(5_309)
        kinds: dict[str, int] = {}
        t0 = time.monotonic()
        for i in range(JSON_N):
            action = ACTIONS[i % len(ACTIONS)]
            kind, raw = bad_json(action, rng)
            kinds[kind] = kinds.get(kind, 0) + 1
            fz.send(action, raw)
        fz.drain()
        took = time.monotonic() - t0
        assert eng.alive(), eng.log()[-3000:]
        clean = [i for i, r in fz.replies.items()
                 if r.get("ok") is False and r["error"]["code"] == "bad_json"]
        unclean = [(fz.sent[i], fz.replies.get(i)) for i in range(len(fz.sent))
                   if i not in set(clean)]
        share = 100.0 * len(clean) / len(fz.sent)
        report_figure("fuzz_json_mqtt", payloads=len(fz.sent), clean_rejections=len(clean),
                      clean_share_pct=round(share, 2), seconds=round(took, 1), kinds=kinds)
        assert not unclean, f"{len(unclean)} not cleanly rejected, e.g. {_short(unclean[:3])}"
        # Still serving, and nothing changed: one valid command moves the version by one.
        final = p.request(f"lightbox/{dev}/cmd/brightness", 66)
        assert final["ok"] and final["state"]["version"] == v0 + 1, final
        after = fresh_metrics(p, dev, lambda m: m["commands_total"] >= before["commands_total"]
                              + len(fz.sent) + 1)
        assert after["commands_rejected_total"] - before["commands_rejected_total"] == JSON_N
        bad_lines = [e for e in eng.log_events() if e.get("level") in ("error", "critical")
                     or e.get("event") == "mqtt_message_failed"]
        assert not bad_lines, bad_lines[:5]
        assert "Traceback" not in eng.log()
    finally:
        p.close()


def _short(items: list[Any]) -> str:
    return "; ".join(repr(x)[:200] for x in items)


#: HTTP write routes that read a JSON body: (method, path, the action whose slots fit).
HTTP_JSON_ROUTES = [("POST", "/api/animation", "animation"),
                    ("POST", "/api/brightness", "brightness"), ("POST", "/api/power", "power"),
                    ("POST", "/api/params", "params"),
                    ("POST", "/api/identify", "identify"), ("PATCH", "/api/config", "config"),
                    ("POST", "/api/config/restore", "config"), ("POST", "/api/login", "login"),
                    ("POST", "/api/presets", "preset"), ("POST", "/api/playlists", "playlist"),
                    ("POST", "/api/schedule", "schedule"), ("POST", "/api/live", "live")]
#: The other write routes (no JSON body): each answers JSON, never a 5xx.
HTTP_OTHER_ROUTES = [("POST", "/api/images", 415), ("DELETE", "/api/images/nope", 404),
                     ("POST", "/api/logout", 200), ("DELETE", "/api/presets/nope", 404),
                     ("POST", "/api/playlist/next", 409)]
FUZZ_TOKEN = "fuzz-token-0123456789abcdef"


def _answer(session: requests.Session, url: str, method: str, raw: bytes,
            auth: bool) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", "X-Filename": "fuzz.json"}
    if auth:
        headers["Authorization"] = f"Bearer {FUZZ_TOKEN}"
    r = session.request(method, url, data=raw, headers=headers, timeout=30)
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} in a response")
    try:
        return r.status_code, json.loads(r.content, parse_constant=refuse)
    except ValueError:
        return r.status_code, None


def test_fuzz_json_beyond_the_limits_on_every_http_write(broker: LocalBroker,
                                                         tmp_path: Path) -> None:
    stack = start_stack(broker, tmp_path / "stack", unique_id("fuzzhttp"), token=FUZZ_TOKEN,
                        bridge={"rate_limit_login": "1000 per second",
                                "rate_limit_uploads": "1000 per second"})
    session = requests.Session()
    try:
        settings_before = stack.engine.settings_path.read_bytes()
        version = stack.get("/api/state").json()["version"]
        rng = random.Random(4_301)
        sent = clean = 0
        unclean: list[Any] = []
        t0 = time.monotonic()
        for i in range(HTTP_N):
            for method, path, action in HTTP_JSON_ROUTES:
                _, raw = bad_json(action, rng)
                status, body = _answer(session, stack.url + path, method, raw,
                                       auth=path != "/api/login")
                sent += 1
                if status == 400 and body is not None and body["error"]["code"] == "bad_json":
                    clean += 1
                else:
                    unclean.append((path, raw[:80], status, body))
            method, path, want = HTTP_OTHER_ROUTES[i % len(HTTP_OTHER_ROUTES)]
            _, raw = bad_json(rng.choice(ACTIONS), rng)
            status, body = _answer(session, stack.url + path, method, raw, auth=True)
            sent += 1
            if status == want and body is not None:
                clean += 1
            else:
                unclean.append((path, raw[:80], status, body))
        took = time.monotonic() - t0
        share = 100.0 * clean / sent
        report_figure("fuzz_json_http", requests=sent, clean_answers=clean,
                      clean_share_pct=round(share, 2), seconds=round(took, 1),
                      routes=len(HTTP_JSON_ROUTES) + len(HTTP_OTHER_ROUTES))
        assert not unclean, f"{len(unclean)} not cleanly answered, e.g. {_short(unclean[:3])}"
        # Nothing changed, and both processes still serve.
        assert stack.engine.settings_path.read_bytes() == settings_before
        assert stack.get("/api/state").json()["version"] == version
        r = stack.post("/api/brightness", {"brightness": 44})
        assert r.status_code == 200 and r.json()["state"]["version"] == version + 1, r.text
        assert stack.get("/api/health").status_code == 200
        assert stack.engine.alive() and stack.bridge.alive()
        log = stack.bridge.log()
        assert "bridge_request_failed" not in log and "Traceback" not in log
    finally:
        session.close()
        stack.stop()
