"""Replies go only where they may (CONTRACT.md section 5), over a real mosquitto.

A client that may not write ``<base>/status`` or the discovery topic must not be
able to make the engine write there by naming it as its MQTT 5 Response Topic.
Each such command is refused with ``bad_response_topic``: not applied, counted,
logged, a ``command_rejected`` event, and (when it carries a transaction) the
error on ``<base>/response``. The clients are the project's broker users with the
shipped ACL; ``homeassistant`` may not publish ``<base>/status`` itself.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.support import LightboxProcess, MQTTProbe

pytestmark = pytest.mark.integration

Probe = Callable[..., MQTTProbe]
Factory = Callable[..., LightboxProcess]
DEV = "rr"
BASE = f"lightbox/{DEV}"
DISCOVERY = f"homeassistant/device/lightbox_{DEV}/config"
#: Response Topics the engine must never publish a reply on.
FORBIDDEN = [
    f"{BASE}/status",          # the bridge would think the engine is offline
    DISCOVERY,                 # junk in Home Assistant's discovery document
    f"{BASE}/state",           # one of the engine's own published topics
    "lightbox/other/x",        # another topic under the base topic
    "lightbox/#",              # a wildcard
    "lightbox/all/cmd/power",  # a command topic (fleet-wide)
    "homeassistant/status",    # Home Assistant's birth topic
    "$SYS/broker/x",           # the broker's own topics
    "lightbox/_reply/" + "x" * 300,  # too long
]


def props(response_topic: str) -> Properties:
    """PUBLISH properties with a Response Topic and fresh Correlation Data."""
    p = Properties(PacketTypes.PUBLISH)
    p.ResponseTopic = response_topic
    p.CorrelationData = uuid.uuid4().bytes
    return p


def rejected_total(p: MQTTProbe) -> int:
    """commands_rejected_total of the latest metrics (waits for one after ``mark``)."""
    return int(p.wait_for(f"{BASE}/metrics", timeout_s=15)["commands_rejected_total"])


def test_replies_to_forbidden_topics_are_refused_with_bad_response_topic(
        engine_factory: Factory, probe: Probe) -> None:
    engine_factory(DEV)
    watch = probe().subscribe(f"{BASE}/#", DISCOVERY, "homeassistant/status",
                             "lightbox/other/x", "lightbox/all/cmd/power", wait_s=0)
    watch.wait_for(f"{BASE}/status", lambda v: v == "online")
    discovery_before = watch.wait_for(DISCOVERY)
    before = watch.wait_for(f"{BASE}/state")
    start = rejected_total(watch)
    sender = probe()  # Home Assistant's user: it may not publish <base>/status itself
    mark = watch.mark()
    for i, topic in enumerate(FORBIDDEN):
        sender.publish(f"{BASE}/cmd/identify", {"seconds": 30, "transaction": f"id{i}"},
                       properties=props(topic))
        reply = watch.wait_for(f"{BASE}/response",
                               lambda r, i=i: isinstance(r, dict)
                               and r.get("transaction") == f"id{i}", since=mark)
        assert reply["ok"] is False, (topic, reply)
        assert reply["error"]["code"] == "bad_response_topic", (topic, reply)
    # A command that would change the state is refused before it is applied.
    sender.publish(f"{BASE}/cmd/brightness", {"brightness": 3, "transaction": "b"},
                   properties=props(f"{BASE}/status"))
    reply = watch.wait_for(f"{BASE}/response", lambda r: r.get("transaction") == "b",
                           since=mark)
    assert reply["error"]["code"] == "bad_response_topic"
    refused = len(FORBIDDEN) + 1
    ev = watch.wait_for(f"{BASE}/events", lambda e: e.get("code") == "bad_response_topic",
                        since=mark)
    assert ev["event"] == "command_rejected" and "_reply" in ev["error"]
    m = watch.wait_for(f"{BASE}/metrics",
                       lambda m: m["commands_rejected_total"] - start >= refused, since=mark)
    assert m["commands_rejected_total"] - start == refused
    # Nothing but the engine's own documents ever appeared on those topics.
    seen = {msg.topic: msg for msg in watch.messages[mark:]}
    assert all(msg.payload == b"online" for msg in watch.messages[mark:]
               if msg.topic == f"{BASE}/status")
    assert all(msg.payload != b"" and "state" in json.loads(msg.payload)
               for msg in watch.messages[mark:] if msg.topic == f"{BASE}/state")
    assert not {"homeassistant/status", "lightbox/other/x", "lightbox/all/cmd/power"} & set(seen)
    assert watch.last(f"{BASE}/state")["brightness"] == before["brightness"]
    # A fresh subscriber still finds the engine online and the discovery unchanged.
    fresh = probe("homeassistant").subscribe(f"{BASE}/status", DISCOVERY, wait_s=0)
    assert fresh.wait_for(f"{BASE}/status") == "online"
    assert fresh.wait_for(DISCOVERY) == discovery_before


def test_fleet_and_group_commands_are_refused_too(engine_factory: Factory,
                                                  probe: Probe) -> None:
    engine_factory(DEV, mqtt={"groups": ["den"]})
    watch = probe().subscribe(f"{BASE}/response", wait_s=0.3)
    sender = probe()
    mark = watch.mark()
    for i, topic in enumerate(("lightbox/all/cmd/identify", "lightbox/group/den/cmd/identify")):
        sender.publish(topic, {"seconds": 30, "transaction": f"f{i}"},
                       properties=props(f"{BASE}/status"))
        reply = watch.wait_for(f"{BASE}/response",
                               lambda r, i=i: r.get("transaction") == f"f{i}", since=mark)
        assert reply["error"]["code"] == "bad_response_topic", (topic, reply)


def test_a_reply_under_reply_still_works_and_without_a_transaction_the_event_tells(
        engine_factory: Factory, probe: Probe) -> None:
    engine_factory(DEV)
    p = probe().subscribe(f"{BASE}/events", f"{BASE}/response", wait_s=0.3)
    r = p.request(f"{BASE}/cmd/identify", {"seconds": 1})
    assert r["ok"] is True
    mark = p.mark()
    p.publish(f"{BASE}/cmd/identify", {"seconds": 1}, properties=props(f"{BASE}/status"))
    ev = p.wait_for(f"{BASE}/events", lambda e: e.get("code") == "bad_response_topic",
                    since=mark)
    assert ev["command"] == "identify" and f"{BASE}/status" in ev["error"]
    # A later command's answer on <base>/response is the only one there: the refusal
    # without a transaction went to the events and the log only.
    p.publish(f"{BASE}/cmd/brightness", {"brightness": 50, "transaction": "after"})
    p.wait_for(f"{BASE}/response", lambda r: r.get("transaction") == "after", since=mark)
    answers = [json.loads(m.payload) for m in p.messages[mark:]
               if m.topic == f"{BASE}/response"]
    assert [a.get("transaction") for a in answers] == ["after"]


def test_an_empty_response_topic_is_refused(engine_factory: Factory, probe: Probe) -> None:
    engine_factory(DEV)
    p = probe().subscribe(f"{BASE}/response", wait_s=0.3)
    mark = p.mark()
    p.publish(f"{BASE}/cmd/identify", {"seconds": 1, "transaction": "e"},
              properties=props(""))
    reply: dict[str, Any] = p.wait_for(f"{BASE}/response",
                                       lambda r: r.get("transaction") == "e", since=mark)
    assert reply["error"]["code"] == "bad_response_topic"
