"""Where replies may go: topics.reply_topic_problem (CONTRACT.md section 5)."""

from __future__ import annotations

import pytest

from appliance.wire import topics

ALLOWED = [
    "lightbox/_reply/homeassistant",
    "lightbox/_reply/lightbox-bridge-kitchen-1a2b3c/http",
    "lightbox/_reply/a/b/c",
    "scripts/me/replies",          # outside both the base topic and the discovery prefix
    "lightboxes/x",                # a different first level, not under lightbox/
    "homeassistantish/x",
    "/lightbox/kitchen/status",    # a leading slash is another topic tree
    "lightbox/_reply/" + "x" * (topics.MAX_REPLY_TOPIC_BYTES - len("lightbox/_reply/")),
]
REFUSED = {
    "": "empty",
    "lightbox/kitchen/status": "LightBox topic",
    "lightbox/kitchen/state": "LightBox topic",
    "lightbox/kitchen/response": "LightBox topic",
    "lightbox/other/x": "LightBox topic",
    "lightbox/all/cmd/power": "LightBox topic",
    "lightbox/group/den/set": "LightBox topic",
    "lightbox": "LightBox topic",
    "lightbox/_reply": "LightBox topic",
    "lightbox/_reply/": "LightBox topic",
    "lightbox/_replyx/a": "LightBox topic",
    "homeassistant/device/lightbox_kitchen/config": "discovery prefix",
    "homeassistant/status": "discovery prefix",
    "homeassistant": "discovery prefix",
    "lightbox/#": "wildcard",
    "lightbox/_reply/+": "wildcard",
    "#": "wildcard",
    "$SYS/broker/clients": "broker topic",
    "lightbox/_reply/a\x00b": "control character",
    "lightbox/_reply/a\nb": "control character",
    "lightbox/_reply/" + "x" * topics.MAX_REPLY_TOPIC_BYTES: "longer than 256 bytes",
    "lightbox/_reply/" + "é" * 130: "longer than 256 bytes",  # 260 bytes in UTF-8
}


@pytest.mark.parametrize("topic", ALLOWED)
def test_reply_topics_that_are_allowed(topic: str) -> None:
    assert topics.reply_topic_problem(topic, "lightbox", "homeassistant") is None


@pytest.mark.parametrize(("topic", "why"), REFUSED.items())
def test_reply_topics_that_are_refused_say_why(topic: str, why: str) -> None:
    problem = topics.reply_topic_problem(topic, "lightbox", "homeassistant")
    assert problem is not None and why in problem
    assert "lightbox/_reply/" in problem  # tells the sender where replies belong


def test_a_refused_topic_is_quoted_and_cut_in_the_message() -> None:
    problem = topics.reply_topic_problem("lightbox/k/" + "s" * 200, "lightbox", "homeassistant")
    assert problem is not None and "'lightbox/k/sss" in problem and "..." in problem
    assert len(problem) < 200


def test_other_base_topics_and_prefixes_are_honoured() -> None:
    assert topics.reply_topic_problem("home/panels/_reply/x", "home/panels", "ha") is None
    assert topics.reply_topic_problem("home/panels/k/status", "home/panels", "ha") is not None
    assert topics.reply_topic_problem("ha/device/x/config", "home/panels", "ha") is not None
    assert topics.reply_topic_problem("lightbox/_reply/x", "home/panels", "ha") is None
