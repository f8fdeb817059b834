"""The bridge's one MQTT 5 client: a cache of the engine's retained topics and requests.

Owns the paho connection of the bridge process (its own broker user), the
cache of ``status``/``state``/``animations``/``health``/``metrics``/``info``/
``config``, MQTT 5 request/response (Response Topic + Correlation Data, one
reply topic subscribed once, a bounded wait) and the fan-out of every message
to listeners (the Server-Sent Events hub). Only retained messages count on the
retained topics: it subscribes with MQTT 5 retain-as-published, so a live
retained update keeps its flag, and a non-retained ``offline`` on ``status``
from anyone is ignored. ``MqttEngineLink`` is the real ``bridge.ports.EngineLink``;
every topic comes from ``appliance.wire.topics``. Knows nothing of Flask or HTTP.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any, cast

import structlog

from appliance.mqtt import client as mqtt
from appliance.mqtt.client import PacketTypes, Properties, SubscribeOptions, make_client
from appliance.settings import Settings, read_secret
from appliance.wire import commands as wire
from appliance.wire import jsonsafe, topics
from bridge.ports import Cached, EngineOffline, EngineTimeout, Listener, Reply, RetainedCache

__all__ = ["Cached", "EngineOffline", "EngineTimeout", "MqttEngineLink", "decode"]

log = structlog.get_logger("bridge.mqtt")

#: How often to renew a preview request while someone watches (engine ttl is 30 s).
PREVIEW_RENEW_S = 20.0
PREVIEW_TTL_S = 30.0
#: At most one warning a minute per topic about ignored non-retained messages.
IGNORED_LOG_EVERY_S = 60.0


class _Pending:
    __slots__ = ("event", "reply")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reply: Reply | None = None


def decode(name: str, payload: bytes) -> Any:
    """Decode a payload: preview stays bytes, status stays text, the rest is JSON."""
    if name == "preview":
        return bytes(payload)
    text = payload.decode("utf-8", errors="replace")
    if name == "status":
        return text.strip()
    try:
        return jsonsafe.loads(text)
    except jsonsafe.JSONError:
        return text


class MqttEngineLink(RetainedCache):
    """The real ``bridge.ports.EngineLink``: one MQTT client per bridge process.

    ``start()`` connects; ``stop()`` disconnects.
    """

    def __init__(self, settings: Settings, client_id: str | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.base = topics.base(settings.mqtt.base_topic, settings.device_id)
        self.client_id = client_id or f"lightbox-bridge-{settings.device_id}-{uuid.uuid4().hex[:6]}"
        self.reply_topic = topics.reply_topic(settings.mqtt.base_topic, self.client_id, "http")
        self.connects = 0
        self.last_error: str | None = None
        self._pending: dict[bytes, _Pending] = {}
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._client: mqtt.Client | None = None
        self._preview_until = 0.0
        self._preview_lock = threading.Lock()
        self.requests_total = 0
        self.timeouts_total = 0
        #: Non-retained messages on retained topics, ignored (not an engine document).
        self.non_retained_ignored = 0
        self._ignored_logged: dict[str, float] = {}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Connect in the background; paho reconnects with back-off."""
        cfg = self.settings.mqtt
        b = self.settings.bridge
        client = make_client(self.client_id, username=b.mqtt_username or None,
                             password=read_secret(b.mqtt_password_file) if b.mqtt_username
                             else None, tls=cfg.tls)
        # Floats, as in the engine's link: int() would turn 0.5 s into 0, a tight loop.
        client.reconnect_delay_set(cfg.reconnect_min_s, cfg.reconnect_max_s)  # type: ignore[arg-type]
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_connect_fail = self._on_connect_fail
        self._client = client
        client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
        client.loop_start()
        log.info("bridge_mqtt_connecting", broker=f"{cfg.host}:{cfg.port}", base=self.base,
                 username=b.mqtt_username)

    def stop(self) -> None:
        """Disconnect and stop the network thread."""
        client = self._client
        if client is None:
            return
        client.disconnect()
        client.loop_stop()
        self._client = None

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(name, value)`` for every message under the device's base."""
        self._listeners.append(listener)

    # ------------------------------------------------------------------ requests
    def request(self, action: str, body: Any, timeout_s: float | None = None) -> Reply:
        """Send ``cmd/<action>`` as an MQTT 5 request and return the engine's reply."""
        status = self.engine_status()
        client = self._client
        if status != "online" or client is None:
            raise EngineOffline(f"engine is {status}")
        timeout = self.settings.bridge.command_timeout_s if timeout_s is None else timeout_s
        corr = uuid.uuid4().bytes
        pending = _Pending()
        with self._lock:
            self._pending[corr] = pending
            self.requests_total += 1
        try:
            props = Properties(PacketTypes.PUBLISH)
            props.ResponseTopic = self.reply_topic
            props.CorrelationData = corr
            # A label for the engine's config history and change log, nothing more:
            # the ACL, not this property, decides who may send commands.
            props.UserProperty = [(wire.SOURCE_PROPERTY, "http")]
            payload = jsonsafe.dumps(body).encode()
            info = client.publish(topics.command(self.base, action), payload, qos=1,
                                  properties=props)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise EngineOffline(f"publish failed: {mqtt.error_string(info.rc)}")
            if not pending.event.wait(timeout):
                with self._lock:
                    self.timeouts_total += 1
                raise EngineTimeout(f"the engine did not answer within {timeout:g} s")
            assert pending.reply is not None
            return pending.reply
        finally:
            with self._lock:
                self._pending.pop(corr, None)

    def want_preview(self) -> None:
        """Keep the engine streaming preview frames (renewed at most every 20 s)."""
        now = time.monotonic()
        with self._preview_lock:
            if now < self._preview_until - (PREVIEW_TTL_S - PREVIEW_RENEW_S):
                return
            self._preview_until = now + PREVIEW_TTL_S
        client = self._client
        if client is None or self.engine_status() != "online":
            with self._preview_lock:
                self._preview_until = 0.0
            return
        body = {"fps": self.settings.bridge.preview_fps, "ttl_s": PREVIEW_TTL_S}
        client.publish(topics.command(self.base, "preview"), jsonsafe.dumps(body), qos=0)

    # ------------------------------------------------------------------ callbacks
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any,
                    reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            self.connected = False
            self.last_error = str(reason_code)
            log.error("bridge_mqtt_refused", error=str(reason_code),
                      username=self.settings.bridge.mqtt_username)
            return
        self.connected = True
        self.connects += 1
        self.last_error = None
        # Retain-as-published: without it a retained update delivered live arrives
        # with retain=False and could not be told from a stray non-retained message.
        retained = SubscribeOptions(qos=1, retainAsPublished=True)
        client.subscribe([(topics.under_base(self.base), retained),
                          (self.reply_topic, SubscribeOptions(qos=1))])
        with self._preview_lock:
            self._preview_until = 0.0
        log.info("bridge_mqtt_connected", base=self.base, reconnects=self.connects - 1)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self.connected = False
        self.last_error = "broker unreachable"

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any,
                       reason_code: Any, properties: Any) -> None:
        if self.connected:
            log.warning("bridge_mqtt_disconnected", reason=str(reason_code))
        self.connected = False
        self.last_error = f"disconnected: {reason_code}"
        self._notify("status", "unknown")

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            if msg.topic == self.reply_topic:
                self._on_reply(msg)
                return
            name = topics.name_under(self.base, msg.topic)
            if name is None or (name not in topics.RETAINED and name not in topics.LIVE):
                return
            if name in topics.RETAINED and not msg.retain:
                self._ignore_non_retained(name)
                return
            value = decode(name, bytes(msg.payload))
            if name in topics.RETAINED:
                self._cache[name] = Cached(value, time.monotonic(), time.time())
            self._notify(name, value)
        except Exception as exc:  # never let a message kill paho's thread
            log.error("bridge_mqtt_message_failed", topic=msg.topic,
                      error=f"{type(exc).__name__}: {exc}")

    def _ignore_non_retained(self, name: str) -> None:
        """Count a non-retained message on a retained topic; warn at most once a minute."""
        self.non_retained_ignored += 1
        now = time.monotonic()
        last = self._ignored_logged.get(name)
        if last is None or now - last >= IGNORED_LOG_EVERY_S:
            self._ignored_logged[name] = now
            log.warning("bridge_non_retained_ignored", topic=topics.state_topic(self.base, name),
                        ignored_total=self.non_retained_ignored,
                        hint="the engine publishes this topic retained only; "
                             "someone else published on it")

    def _on_reply(self, msg: mqtt.MQTTMessage) -> None:
        props = getattr(msg, "properties", None)
        corr = getattr(props, "CorrelationData", None) if props else None
        if corr is None:
            return
        with self._lock:
            pending = self._pending.get(bytes(corr))
        if pending is None:
            return  # a reply that arrived after its request gave up
        try:
            body = jsonsafe.loads(bytes(msg.payload).decode("utf-8"))
        except (jsonsafe.JSONError, UnicodeDecodeError):
            body = None
        # A reply is an object with a boolean "ok"; anything else is the engine's fault.
        ok = isinstance(body, dict) and isinstance(body.get("ok"), bool)
        pending.reply = cast(Reply, body) if ok else {"ok": False, "error": {
            "code": "invalid_reply", "message": "the engine sent an unreadable reply"}}
        pending.event.set()

    def _notify(self, name: str, value: Any) -> None:
        for listener in list(self._listeners):
            try:
                listener(name, value)
            except Exception as exc:  # a listener bug must not starve the others
                log.error("bridge_listener_failed", topic=name, error=str(exc))
