"""Answering one command: its ``Responder`` and the payload encoding replies use.

A Responder publishes a reply on the command's MQTT 5 Response Topic (with its
Correlation Data) and, when the reply carries a transaction, on the device's
``response`` topic. It publishes through anything with ``raw_publish`` (the engine's
``MQTTLink``), so it never touches paho itself. Knows nothing of what a command
does: the reply body is built elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from appliance.settings import MQTTSettings
from appliance.wire import commands as wire
from appliance.wire import jsonsafe, topics

if TYPE_CHECKING:
    from appliance.mqtt.client import MQTTMessage, Properties

__all__ = ["Publisher", "Responder", "encode", "responder_for"]


class Publisher(Protocol):
    """What a Responder publishes through."""

    def raw_publish(self, topic: str, payload: bytes, *, qos: int = 0, retain: bool = False,
                    properties: Properties | None = None) -> None: ...


def encode(payload: Any) -> bytes:
    """Encode a payload: bytes as-is, str as UTF-8, anything else as compact, finite JSON."""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode()
    return jsonsafe.dumps(payload).encode()


class Responder:
    """Answers one command: on its MQTT 5 Response Topic and, with a transaction, on response.

    ``refusal`` says why the command's Response Topic may not be answered on
    (``topics.reply_topic_problem``); such a Responder never publishes there, and
    the command must be refused with ``bad_response_topic``. ``source`` is where
    the command says it came from (``wire.command_source``): a label for the
    config history, never a permission.
    """

    def __init__(self, link: Publisher, response_topic: str | None,
                 correlation: bytes | None, transaction_topic: str,
                 refusal: str | None = None, source: str = "mqtt") -> None:
        self.link = link
        self.source = source
        self.response_topic = None if refusal is not None else response_topic
        self.correlation = correlation
        self.transaction_topic = transaction_topic
        self.refusal = refusal

    def __call__(self, body: Mapping[str, Any]) -> None:
        """Send the reply body (qos 0: see ``MQTTLink.publish`` for why not 1)."""
        if self.response_topic:
            from appliance.mqtt.client import publish_properties  # loaded by the link's start

            props = publish_properties(correlation=self.correlation)
            self.link.raw_publish(self.response_topic, encode(body), qos=0, properties=props)
        if body.get("transaction") is not None:
            self.link.raw_publish(self.transaction_topic, encode(body), qos=0)


def responder_for(link: Publisher, msg: MQTTMessage, cfg: MQTTSettings,
                  base: str) -> Responder:
    """Return the Responder of a command, its Response Topic checked (contract 5)."""
    props = getattr(msg, "properties", None)
    response_topic = getattr(props, "ResponseTopic", None) if props else None
    correlation = getattr(props, "CorrelationData", None) if props else None
    refusal = None
    if response_topic is not None:
        refusal = topics.reply_topic_problem(response_topic, cfg.base_topic,
                                             cfg.discovery_prefix)
    user_props = getattr(props, "UserProperty", None) if props else None
    return Responder(link, response_topic, correlation,
                     topics.state_topic(base, "response"), refusal,
                     wire.command_source(user_props))
