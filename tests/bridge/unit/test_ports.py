"""The bridge's port to the engine, and the topics it is built from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from appliance.settings import Settings
from appliance.wire import topics
from bridge.link import MqttEngineLink, decode
from bridge.ports import EngineLink
from tests.bridge.unit.fake_link import FakeEngineLink

ROOT = Path(__file__).resolve().parents[3]


def test_the_app_does_not_load_paho_or_the_harness() -> None:
    code = ("import sys, bridge.app; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'paho'}), "
            "[m for m in sys.modules if m.startswith('appliance.testing')])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[] []"


def test_both_links_are_engine_links() -> None:
    links: list[EngineLink] = [MqttEngineLink(Settings(device_id="x")), FakeEngineLink()]
    assert [link.engine_status() for link in links] == ["unknown", "online"]


def test_the_mqtt_link_takes_its_topics_from_the_wire_package() -> None:
    link = MqttEngineLink(Settings(device_id="kitchen"), client_id="c1")
    assert link.base == "lightbox/kitchen"
    assert link.reply_topic == "lightbox/_reply/c1/http"
    assert topics.reply_topic_problem(link.reply_topic, "lightbox", "homeassistant") is None


def test_topic_helpers() -> None:
    base = topics.base("lightbox", "kitchen")
    assert topics.under_base(base) == "lightbox/kitchen/+"
    assert topics.name_under(base, "lightbox/kitchen/state") == "state"
    assert topics.name_under(base, "lightbox/kitchen/cmd/power") is None
    assert topics.name_under(base, "lightbox/kitchenette/state") is None
    assert topics.name_under(base, "lightbox/kitchen/") is None
    assert set(topics.SSE_FORWARDED) == {*topics.RETAINED, *topics.LIVE}
    assert set(topics.SSE_SNAPSHOT) | {"status"} == set(topics.RETAINED)
    assert set(topics.HTTP_READABLE) < set(topics.RETAINED)


def test_decode_keeps_preview_bytes_and_status_text() -> None:
    assert decode("preview", b"\x00\x01") == b"\x00\x01"
    assert decode("status", b" online\n") == "online"
    assert decode("state", b'{"a":1}') == {"a": 1}
    assert decode("state", b"{nope") == "{nope"
