"""MQTT 5 clients of the harness: paho logged in as one of the test broker's users.

Owns ``BrokerClient`` (connect, subscribe and wait for the SUBACK, close),
``MQTTProbe`` (tests: records every message, waits for one that matches,
MQTT 5 request/response) and ``Client`` (benchmarks: the latest value per
topic, timestamped on arrival in paho's thread, with an optional hook; no
Nagle). Harness code, not the product: the engine and the bridge get their
clients from ``appliance.mqtt``. Knows nothing of the engine's internals.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from appliance.ops.broker import LocalBroker
from appliance.wire import topics


def decode(payload: bytes | bytearray) -> Any:
    """JSON-decode a payload when possible, else return text (or bytes)."""
    try:
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        try:
            return bytes(payload).decode()
        except UnicodeDecodeError:
            return bytes(payload)


def no_delay(client: mqtt.Client) -> None:
    """Turn Nagle's algorithm off on a connected paho client's socket (as the engine does)."""
    sock = client.socket()
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class BrokerClient:
    """A paho client logged in as ``user`` on ``broker``; ``connect()`` starts its loop."""

    keepalive_s = 30

    def __init__(self, broker: LocalBroker, user: str, client_id: str,
                 protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5,
                 password: str | None = None) -> None:
        self.broker = broker
        self.user = user
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=protocol)
        self.client.username_pw_set(user, password if password is not None
                                    else broker.passwords.get(user))
        self.connect_rc: Any = None
        self._connected = threading.Event()
        self._cond = threading.Condition()
        self.client.on_connect = self._on_connect

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        self.connect_rc = rc
        self._connected.set()

    def _start(self, timeout_s: float) -> None:
        self.client.connect(self.broker.host, self.broker.port, keepalive=self.keepalive_s)
        self.client.loop_start()
        if not self._connected.wait(timeout_s):
            raise TimeoutError("no CONNACK from the broker")
        if self.connect_rc is not None and self.connect_rc.is_failure:
            raise ConnectionRefusedError(str(self.connect_rc))

    def _subscribe(self, filters: tuple[str, ...], timeout_s: float) -> bool:
        """Subscribe (qos 1); True once the SUBACK came within ``timeout_s``."""
        done = threading.Event()
        self.client.on_subscribe = lambda *a: done.set()
        self.client.subscribe([(f, 1) for f in filters])
        return done.wait(timeout_s)

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        with contextlib.suppress(Exception):
            self.client.disconnect()
        self.client.loop_stop()


class MQTTProbe(BrokerClient):
    """A test's own MQTT client: records every message it sees, sends commands."""

    def __init__(self, broker: LocalBroker, user: str = "homeassistant",
                 protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5,
                 password: str | None = None) -> None:
        super().__init__(broker, user, f"test-{user}-{uuid.uuid4().hex[:8]}", protocol, password)
        self.messages: list[mqtt.MQTTMessage] = []
        self.client.on_message = self._on_message

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()

    def connect(self, timeout_s: float = 5.0) -> MQTTProbe:
        """Connect and start the network loop; raise if refused."""
        self._start(timeout_s)
        return self

    def subscribe(self, *filters: str, wait_s: float = 0.3) -> MQTTProbe:
        """Subscribe (qos 1) and give the broker a moment to send retained messages."""
        self._subscribe(filters, 5)
        time.sleep(wait_s)
        return self

    def publish(self, topic: str, payload: Any, *, qos: int = 1, retain: bool = False,
                properties: Properties | None = None) -> mqtt.MQTTMessageInfo:
        """Publish (dicts as JSON) and wait until the broker has it."""
        if isinstance(payload, dict | list):
            payload = json.dumps(payload)
        info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if qos:
            info.wait_for_publish(5)
        return info

    def wait_for(self, topic: str, predicate: Callable[[Any], bool] | None = None,
                 timeout_s: float = 10.0, since: int = 0) -> Any:
        """Wait for a message on ``topic`` (JSON-decoded when it can be) matching ``predicate``."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for msg in self.messages[since:]:
                    if mqtt.topic_matches_sub(topic, msg.topic):
                        value = decode(msg.payload)
                        if predicate is None or predicate(value):
                            return value
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [m.topic for m in self.messages[-20:]]
                    raise TimeoutError(f"nothing matching on {topic} in {timeout_s}s; saw {seen}")
                self._cond.wait(left)

    def last(self, topic: str) -> Any:
        """The latest payload seen on ``topic`` (JSON-decoded), or None."""
        with self._cond:
            for msg in reversed(self.messages):
                if mqtt.topic_matches_sub(topic, msg.topic):
                    return decode(msg.payload)
        return None

    def mark(self) -> int:
        """Index to pass as ``since`` to only see later messages."""
        with self._cond:
            return len(self.messages)

    def request(self, topic: str, payload: Any, timeout_s: float = 5.0,
                user_properties: list[tuple[str, str]] | None = None) -> Any:
        """MQTT 5 request/response: publish with a Response Topic and wait for the reply."""
        corr = uuid.uuid4().hex.encode()
        reply_topic = topics.reply_prefix("lightbox", f"test-{uuid.uuid4().hex[:8]}")
        got: queue.Queue[Any] = queue.Queue()

        def on_reply(client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
            if getattr(msg.properties, "CorrelationData", None) == corr:
                got.put(decode(msg.payload))

        self.client.message_callback_add(reply_topic, on_reply)
        self._subscribe((reply_topic,), 5)
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = reply_topic
        props.CorrelationData = corr
        if user_properties:
            props.UserProperty = user_properties
        self.publish(topic, payload, properties=props)
        try:
            return got.get(timeout=timeout_s)
        finally:
            self.client.message_callback_remove(reply_topic)
            self.client.unsubscribe(reply_topic)


class Client(BrokerClient):
    """A benchmark's client: timestamps every message on arrival (in paho's thread)."""

    keepalive_s = 60

    def __init__(self, broker: LocalBroker, user: str = "homeassistant",
                 name: str = "bench") -> None:
        super().__init__(broker, user, f"{name}-{uuid.uuid4().hex[:8]}",
                         password=broker.passwords[user])
        self.latest: dict[str, Any] = {}
        self.latest_at: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.history: dict[str, list[tuple[float, Any]]] = {}
        self.keep_history: set[str] = set()
        #: Called with (arrival perf_counter, topic, raw payload) for every message.
        self.hook: Callable[[float, str, bytes], None] | None = None
        self.client.on_message = self._on_message

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        now = time.perf_counter()
        hook = self.hook
        if hook is not None:
            hook(now, msg.topic, bytes(msg.payload))
        try:
            value: Any = json.loads(msg.payload)
        except ValueError:
            value = msg.payload.decode(errors="replace")
        with self._cond:
            self.latest[msg.topic] = value
            self.latest_at[msg.topic] = now
            self.counts[msg.topic] = self.counts.get(msg.topic, 0) + 1
            if msg.topic in self.keep_history:
                self.history.setdefault(msg.topic, []).append((now, value))
            self._cond.notify_all()

    def connect(self, timeout_s: float = 10.0) -> Client:
        """Connect, start paho's network thread and turn Nagle off."""
        self._start(timeout_s)
        no_delay(self.client)
        return self

    def subscribe(self, *filters: str) -> None:
        """Subscribe (qos 1) and wait for the SUBACK."""
        if not self._subscribe(filters, 10):
            raise TimeoutError("no SUBACK")

    def wait(self, topic: str, predicate: Callable[[Any], bool] | None = None,
             timeout_s: float = 30.0) -> Any:
        """Wait until the latest value on ``topic`` satisfies ``predicate``."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                if topic in self.latest and (predicate is None or predicate(self.latest[topic])):
                    return self.latest[topic]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"nothing matching on {topic} within {timeout_s} s")
                self._cond.wait(left)

    def publish(self, topic: str, payload: str | bytes, qos: int = 1) -> None:
        """Publish without waiting."""
        self.client.publish(topic, payload, qos=qos)
