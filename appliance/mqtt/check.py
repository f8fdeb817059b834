"""The one-shot check client of `lightbox verify` and `lightbox decommission`.

A short-lived MQTT 5 client (from the factory) that logs in, reads retained
topics, publishes at qos 1 and reports the PUBACK code, and asks with MQTT 5
request/response. Knows nothing of what the checks conclude.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from appliance.mqtt.client import MQTTMessage, make_client, publish_properties
from appliance.settings import TLSSettings


class CheckClient:
    """A short-lived MQTT 5 client for checks: log in, read retained topics, publish, ask."""

    def __init__(self, host: str, port: int, username: str | None, password: str | None,
                 tls: TLSSettings | None = None, client_id: str = "lightbox-verify") -> None:
        self.client = make_client(f"{client_id}-{random.getrandbits(32):08x}",
                                  username=username, password=password, tls=tls)
        self.host, self.port = host, port
        self.messages: dict[str, bytes] = {}
        self.refused: str | None = None
        self._cond = threading.Condition()
        self._connack = threading.Event()
        self._acks: dict[int, int] = {}
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self._sub_done = threading.Event()
        self.client.on_subscribe = lambda *a: self._sub_done.set()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        self.refused = str(rc) if rc.is_failure else None
        self._connack.set()

    def _on_message(self, client: Any, userdata: Any, msg: MQTTMessage) -> None:
        with self._cond:
            self.messages[msg.topic] = bytes(msg.payload)
            self._cond.notify_all()

    def _on_publish(self, client: Any, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        with self._cond:
            self._acks[mid] = int(rc.value) if hasattr(rc, "value") else int(rc)
            self._cond.notify_all()

    def connect(self, timeout_s: float = 5.0) -> bool:
        """Connect; True when the broker accepted the login (else see ``refused``)."""
        try:
            self.client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            self.refused = f"cannot reach {self.host}:{self.port}: {exc}"
            return False
        self.client.loop_start()
        if not self._connack.wait(timeout_s):
            self.refused = "no answer from the broker"
            return False
        return self.refused is None

    def read(self, filters: list[str], wait_s: float = 2.0,
             until: Callable[[dict[str, bytes]], bool] | None = None) -> dict[str, bytes]:
        """Subscribe and collect messages (retained ones first) for up to ``wait_s``."""
        self._sub_done.clear()
        self.client.subscribe([(f, 1) for f in filters])
        self._sub_done.wait(5)
        deadline = time.monotonic() + wait_s
        with self._cond:
            while time.monotonic() < deadline:
                if until is not None and until(self.messages):
                    break
                self._cond.wait(max(0.0, deadline - time.monotonic()))
            return dict(self.messages)

    def publish(self, topic: str, payload: bytes, timeout_s: float = 5.0,
                retain: bool = False) -> int | None:
        """Publish at qos 1; return the PUBACK reason code (0 ok, 0x87 not authorized)."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while info.mid not in self._acks and time.monotonic() < deadline:
                self._cond.wait(max(0.0, deadline - time.monotonic()))
            return self._acks.get(info.mid)

    def request(self, topic: str, payload: bytes, reply_topic: str,
                timeout_s: float = 5.0) -> bytes | None:
        """MQTT 5 request/response: publish with a Response Topic, return the reply."""
        self.read([reply_topic], wait_s=0)
        props = publish_properties(response_topic=reply_topic,
                                   correlation=f"{random.getrandbits(64):016x}".encode())
        self.client.publish(topic, payload, qos=1, properties=props)
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while reply_topic not in self.messages and time.monotonic() < deadline:
                self._cond.wait(max(0.0, deadline - time.monotonic()))
            reply = self.messages.pop(reply_topic, None)
        self.client.unsubscribe(reply_topic)
        return reply

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()  # safe on a client that never connected
        self.client.loop_stop()
