"""The engine against a stock mosquitto (Nagle on, defaults), as most users' brokers are.

A qos 1 publish by the engine makes the broker send a PUBACK that the engine's kernel
acknowledges only with a delayed ACK, and a stock broker holds the next command for
the box until then (captured on loopback: docs/performance.md, "Stock broker"). So
the engine publishes its retained documents and replies at qos 0, ``status`` at
qos 1. A subscriber at qos 1 receives each at the qos it was published with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from appliance.ops.broker import LocalBroker
from appliance.testing.broker import start_broker
from tests.support import LightboxProcess, MQTTProbe

pytestmark = pytest.mark.integration

BASE = "lightbox/stock"


@pytest.fixture
def stock_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    b = start_broker(tmp_path / "stock", stock=True)
    yield b
    b.stop()


def test_stock_broker_config_is_auth_and_acl_only(stock_broker: LocalBroker) -> None:
    conf = (stock_broker.workdir / "mosquitto.conf").read_text()
    keys = {line.split()[0] for line in conf.splitlines() if line and not line.startswith("#")}
    assert "set_tcp_nodelay" not in keys and "max_inflight_messages" not in keys
    assert {"allow_anonymous", "password_file", "acl_file", "listener"} <= keys


def test_engine_publishes_state_and_replies_at_qos0_status_at_qos1(
        stock_broker: LocalBroker, engine_factory: Callable[..., LightboxProcess],
        probe: Callable[..., MQTTProbe]) -> None:
    engine_factory("stock", b=stock_broker)
    p = probe(b=stock_broker).subscribe(f"{BASE}/#", wait_s=0)
    p.wait_for(f"{BASE}/state", timeout_s=10)
    replies = probe(b=stock_broker).subscribe("lightbox/_reply/#", wait_s=0)
    reply = p.request(f"{BASE}/cmd/brightness", "37")
    assert reply["ok"] is True and reply["state"]["brightness"] == 37
    p.wait_for(f"{BASE}/state", lambda s: s["brightness"] == 37, timeout_s=10)
    p.wait_for(f"{BASE}/metrics", timeout_s=15)
    seen = {m.topic.rsplit("/", 1)[-1]: m.qos for m in list(p.messages)
            if m.topic.startswith(f"{BASE}/") and m.topic.count("/") == 2}
    assert seen["status"] == 1
    for name in ("state", "animations", "info", "metrics", "health"):
        assert seen[name] == 0, (name, seen)
    got = [m.qos for m in list(replies.messages) if "/_reply/" in m.topic]
    assert got and set(got) == {0}
