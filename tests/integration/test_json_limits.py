"""Deep JSON, odd numbers, duplicate keys and far-off start times over a real mosquitto.

Each bad payload must get what any bad payload gets (contract section 5): a
``bad_json`` (or ``out_of_range``) reply on its Response Topic, a
``command_rejected`` event, the rejected counter, and no change. And whatever was
sent, the retained state must stay standard JSON (no ``Infinity``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support import LightboxProcess, MQTTProbe

pytestmark = pytest.mark.integration

Probe = Callable[..., MQTTProbe]
Factory = Callable[..., LightboxProcess]
DEV = "jsonlim"
BASE = f"lightbox/{DEV}"
DEEP = b"[" * 1000 + b"]" * 1000
HUGE = b"9" * 4301


def strict(raw: bytes) -> Any:
    """Parse as a standard JSON parser would (Home Assistant, browsers): no NaN/Infinity."""
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")
    return json.loads(raw, parse_constant=refuse)


#: (topic, payload, field the error must name)
BAD_JSON = [
    ("cmd/animation", DEEP, None),
    ("cmd/animation", b'{"name":"plasma","params":' + DEEP + b"}", None),
    ("set", b"{" * 1000, None),
    ("cmd/config", b'{"display":' * 1000 + b"1" + b"}" * 1000, None),
    ("cmd/brightness", HUGE, None),
    ("cmd/params", b'{"speed":' + HUGE + b"}", "speed"),
    ("cmd/params", b'{"speed":' + b"9" * 400 + b"}", "speed"),  # once killed the render loop
    ("cmd/animation", b'{"name":"plasma","start_at":1e309}', "start_at"),
    ("set", b'{"effect":"plasma","start_at":1e309}', "start_at"),
    ("cmd/params", b'{"speed":NaN}', "speed"),
    ("cmd/brightness", b"-Infinity", None),
    ("cmd/brightness", b'{"brightness":10,"brightness":90}', "brightness"),
    ("cmd/params", b'{"speed":1,"speed":4}', "speed"),
    ("cmd/identify", b'{"seconds":1,"seconds":2}', "seconds"),
]


def _metrics(p: MQTTProbe, pred: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    return p.wait_for(f"{BASE}/metrics", pred, timeout_s=20, since=0)  # type: ignore[no-any-return]


def test_bad_json_gets_a_reply_an_event_and_the_counter(engine_factory: Factory,
                                                         probe: Probe) -> None:
    eng = engine_factory(DEV)
    p = probe().subscribe(f"{BASE}/#")
    before = p.wait_for(f"{BASE}/state")
    start = _metrics(p, lambda m: True)
    mark = p.mark()
    for topic, payload, field in BAD_JSON:
        reply = p.request(f"{BASE}/{topic}", payload, timeout_s=10)
        assert reply["ok"] is False, (topic, payload[:60], reply)
        assert reply["error"]["code"] == "bad_json", (topic, payload[:60], reply)
        assert reply["error"].get("field") == field and reply["error"]["message"]
    rejected = [e for e in _events(p, mark) if e["event"] == "command_rejected"]
    assert len(rejected) >= len(BAD_JSON) and all(e["code"] == "bad_json" for e in rejected)
    m = _metrics(p, lambda m: m["commands_rejected_total"] - start["commands_rejected_total"]
                 >= len(BAD_JSON))
    assert m["commands_rejected_total"] - start["commands_rejected_total"] == len(BAD_JSON)
    after = p.request(f"{BASE}/cmd/brightness", before["brightness"])
    assert after["ok"] and after["state"]["version"] == before["version"] + 1  # nothing changed
    assert eng.alive()
    failed = [e for e in eng.log_events() if e.get("event") == "mqtt_message_failed"]
    assert not failed, failed[:3]
    assert "RecursionError" not in eng.log() and "Traceback" not in eng.log()


def _events(p: MQTTProbe, since: int) -> list[dict[str, Any]]:
    out = []
    for msg in p.messages[since:]:
        if msg.topic == f"{BASE}/events":
            out.append(json.loads(msg.payload))
    return out


def test_start_at_far_off_or_infinite_never_reaches_the_retained_state(
        engine_factory: Factory, probe: Probe) -> None:
    eng = engine_factory(DEV, animation={"default": "plasma", "boot": "default"})
    p = probe().subscribe(f"{BASE}/state")
    before = p.wait_for(f"{BASE}/state")
    assert before["effect"] == "plasma"
    for topic, body in (("cmd/animation", b'{"name":"breathe","start_at":1e309}'),
                        ("set", b'{"effect":"breathe","start_at":1e309}'),
                        ("cmd/animation", b'{"name":"breathe","start_at":1e15}'),
                        ("set", b'{"effect":"breathe","start_at":1e15}'),
                        ("cmd/animation", b'{"name":"breathe","start_at":%d}'
                         % (time.time() - 3 * 86400))):
        reply = p.request(f"{BASE}/{topic}", body, timeout_s=10)
        assert reply["ok"] is False and reply["error"]["field"] == "start_at", (body, reply)
        assert reply["error"]["code"] in ("bad_json", "out_of_range")
    # A fresh subscriber gets the retained state: standard JSON, the old animation.
    fresh = probe().subscribe(f"{BASE}/state", wait_s=0)
    fresh.wait_for(f"{BASE}/state", timeout_s=10)
    raw = next(m.payload for m in fresh.messages if m.topic == f"{BASE}/state")
    state = strict(raw)
    assert state["effect"] == "plasma" and state["version"] == before["version"], state
    # And one within the window is obeyed.
    ok = p.request(f"{BASE}/cmd/animation",
                   {"name": "breathe", "start_at": round(time.time() + 1, 3)}, timeout_s=10)
    assert ok["ok"] and ok["state"]["effect"] == "breathe"
    strict(json.dumps(ok).encode())
    assert eng.alive()
