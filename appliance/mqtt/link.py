"""The engine's MQTT link: lifecycle, Last Will, subscriptions and publishing.

Gets its paho client from ``appliance.mqtt.client`` (TLS, credentials, no
Nagle). Knows nothing of animations, displays or Flask: it hands raw command
payloads with a ``Responder`` (``appliance.mqtt.reply``) to a callback and
publishes what it is given under the device's base topic.

Publishing never calls paho on the caller's thread: ``publish``/``raw_publish``
put the message in the ``Outbox`` (bounded, the newest state per topic wins) and
the link's own ``mqtt-out`` thread hands it to paho. paho's locks, its socket
writes and its reconnects therefore never stall the render loop.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from appliance.mqtt.outbox import OUTBOX_SIZE, Outbox, Outgoing
from appliance.mqtt.reply import Responder, encode, responder_for
from appliance.settings import MQTTSettings, read_secret
from appliance.wire import topics

if TYPE_CHECKING:
    from appliance.mqtt.client import Client, MQTTMessage, Properties

__all__ = ["OUTBOX_SIZE", "CommandHandler", "MQTTLink", "Outbox", "Outgoing", "Responder",
           "encode"]

log = structlog.get_logger("mqtt")

#: paho's CONNACK reason codes that mean "fix the credentials", not "try again".
AUTH_FAILURES = {"Bad user name or password", "Not authorized", "Bad username or password"}

#: Topics (under the base) where only the newest message matters even though not retained.
LATEST_ONLY = frozenset({"preview"})


CommandHandler = Callable[[str, bytes, Responder], None]


class MQTTLink:
    """One MQTT 5 connection for the engine, reconnecting with back-off."""

    def __init__(
        self,
        cfg: MQTTSettings,
        device_id: str,
        on_command: CommandHandler,
        on_connected: Callable[[], None],
        on_ha_online: Callable[[], None] | None = None,
        on_retained_command: Callable[[str], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.device_id = device_id
        self.base = topics.base(cfg.base_topic, device_id)
        self.subs = topics.engine_subscriptions(cfg.base_topic, device_id, cfg.groups)
        self.on_command = on_command
        self.on_connected = on_connected
        self.on_ha_online = on_ha_online
        #: Told the topic of each retained command it ignores (the service makes it an event).
        self.on_retained_command = on_retained_command
        self.connected = False
        self.connects = 0
        self.reconnects = 0
        self.last_error: str | None = None
        self.auth_failed = False
        #: Connection attempts (TCP connects started), for the "no tight loop" check.
        self.connect_attempts = 0
        self._client: Client | None = None
        self._ha_timer: threading.Timer | None = None
        self._stopping = False
        self.outbox = Outbox()
        self._sender: threading.Thread | None = None
        #: Publishes paho refused (its queue full, qos 0 offline) or retained ones offline.
        self._paho_dropped = 0
        #: Publishes handed to paho and not yet sent (qos 0) or acknowledged (qos 1).
        self._unacked: set[int] = set()
        #: on_publish can come before ``publish`` returns the mid: remember those.
        self._acked_early: set[int] = set()
        self._unacked_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Connect in the background; keeps trying until stopped."""
        # paho is loaded here, not on import: the engine starts the link after its
        # first frame, so the panel does not wait for paho (and ssl) at boot.
        from appliance.mqtt.client import make_client

        cfg = self.cfg
        client = make_client(cfg.client_id or f"lightbox-{self.device_id}",
                             username=cfg.username or None, password=self._password(),
                             tls=cfg.tls)
        client.will_set(topics.state_topic(self.base, "status"), "offline", qos=1, retain=True)
        # paho doubles the delay from min to max after every failed attempt (floats work,
        # int() would turn 0.5 into 0: a tight loop).
        client.reconnect_delay_set(cfg.reconnect_min_s, cfg.reconnect_max_s)  # type: ignore[arg-type]
        client.max_queued_messages_set(cfg.max_queued_messages)
        client.on_pre_connect = self._on_pre_connect
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_connect_fail = self._on_connect_fail
        client.on_publish = self._on_publish
        self._client = client
        self._sender = threading.Thread(target=self._send_loop, name="mqtt-out", daemon=True)
        self._sender.start()
        client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
        client.loop_start()
        log.info("mqtt_connecting", host=cfg.host, port=cfg.port, base=self.base,
                 username=cfg.username)

    def stop(self, timeout_s: float = 1.5) -> None:
        """Publish ``offline``, disconnect cleanly and stop the network thread."""
        client = self._client
        if client is None:
            return
        self._stopping = True
        if self._ha_timer is not None:
            self._ha_timer.cancel()
        self._stop_sender(timeout_s / 2)
        if self.connected:
            info = client.publish(topics.state_topic(self.base, "status"), "offline",
                                  qos=1, retain=True)
            deadline = time.monotonic() + timeout_s
            while not info.is_published() and time.monotonic() < deadline and self.connected:
                time.sleep(0.01)
        client.disconnect()
        client.loop_stop()
        self._client = None
        log.info("mqtt_stopped")

    # ------------------------------------------------------------------ publishing
    def publish(self, name: str, payload: Any, *, retain: bool = False) -> None:
        """Queue a publish on ``<base>/<name>`` at qos 0; never blocks.

        qos 0, retained or not: a qos 1 publish makes the broker answer with a 4-byte
        PUBACK that the engine's kernel acknowledges only with its delayed ACK (up to
        40 ms on Linux), and a stock mosquitto (Nagle on, no ``set_tcp_nodelay``)
        holds the next command for this box until that ACK comes: 20-40 ms on every
        command after a state change (captured on loopback: docs/performance.md).
        Nothing is lost by it: TCP delivers in order, and every retained document is
        republished on (re)connect. ``status`` (the Last Will's topic) stays qos 1.

        Retained documents are not queued while disconnected: every one of them is
        republished fresh on (re)connect, and queued copies would be sent after the
        fresh ones, leaving stale state, health and metrics retained on the broker.
        Only the newest retained document (and preview) per topic waits in the outbox.
        """
        if retain and not self.connected:
            self._paho_dropped += 1
            return
        key = name if retain or name in LATEST_ONLY else None
        self._enqueue(Outgoing(topics.state_topic(self.base, name), encode(payload),
                               1 if name == "status" else 0, retain), key)

    def raw_publish(self, topic: str, payload: bytes, *, qos: int = 0, retain: bool = False,
                    properties: Properties | None = None) -> None:
        """Queue a publish on an absolute topic (a retained one: newest wins); never blocks."""
        self._enqueue(Outgoing(topic, payload, qos, retain, properties),
                      topic if retain else None)

    @property
    def publish_dropped(self) -> int:
        """Publishes dropped: outbox full, paho's queue full, or offline (see ``publish``)."""
        return self._paho_dropped + self.outbox.dropped

    def _enqueue(self, msg: Outgoing, key: str | None) -> None:
        if self._sender is None or self._stopping:
            return  # not started (or stopping): nothing would send it
        self.outbox.put(msg, key)

    def _send_loop(self) -> None:
        """The mqtt-out thread: hand queued messages to paho until stopped."""
        while True:
            items = self.outbox.take(timeout_s=1.0)
            for msg in items:
                self._send(msg)
            if self._stopping and not items:
                return

    def _send(self, msg: Outgoing) -> None:
        from appliance.mqtt.client import MQTT_ERR_NO_CONN, MQTT_ERR_SUCCESS  # loaded by start

        client = self._client
        if client is None:
            return
        if msg.retain and not self.connected:
            # Went offline while it waited: the reconnect republishes a fresh copy.
            self._paho_dropped += 1
            return
        try:
            info = client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain,
                                  properties=msg.properties)
        except (ValueError, RuntimeError) as exc:
            log.warning("mqtt_publish_failed", topic=msg.topic, error=str(exc))
            self._paho_dropped += 1
            return
        if info.rc not in (MQTT_ERR_SUCCESS, MQTT_ERR_NO_CONN) or (
                info.rc == MQTT_ERR_NO_CONN and msg.qos == 0):
            # Queue full (bounded by mqtt.max_queued_messages) or offline qos 0: counted.
            self._paho_dropped += 1
            return
        self._track(info.mid)

    def _track(self, mid: int) -> None:
        """Count a publish paho queued until its on_publish says it left (or was acked)."""
        with self._unacked_lock:
            if mid in self._acked_early:
                self._acked_early.discard(mid)
            else:
                self._unacked.add(mid)

    def _on_publish(self, client: Client, userdata: Any, mid: int, reason_code: Any,
                    properties: Any) -> None:
        with self._unacked_lock:
            if mid in self._unacked:
                self._unacked.discard(mid)
            else:
                self._acked_early.add(mid)

    @property
    def queue_depth(self) -> int:
        """Publishes paho holds: not yet written (qos 0) or not yet acknowledged (qos 1)."""
        with self._unacked_lock:
            return len(self._unacked)

    def _stop_sender(self, timeout_s: float) -> None:
        """Send what is queued (up to ``timeout_s``), then end the mqtt-out thread."""
        sender = self._sender
        if sender is None:
            return
        self.outbox.close()
        sender.join(timeout_s)
        self._sender = None

    def status(self) -> dict[str, Any]:
        """Return connection facts for health."""
        return {
            "connected": self.connected,
            "broker": f"{self.cfg.host}:{self.cfg.port}",
            "reconnects": self.reconnects,
            "queue_depth": self.queue_depth,
            "last_error": self.last_error,
            "auth_failed": self.auth_failed,
            "connect_attempts": self.connect_attempts,
            "publish_dropped": self.publish_dropped,
        }

    def _password(self) -> str | None:
        """Read the password file (None, logged, when it cannot be read)."""
        if not self.cfg.username:
            return None
        try:
            return read_secret(self.cfg.password_file)
        except (OSError, UnicodeDecodeError, IndexError) as exc:
            log.error("mqtt_password_unreadable", path=str(self.cfg.password_file),
                      error=str(exc))
            return None

    def _on_pre_connect(self, client: Client, userdata: Any) -> None:
        self.connect_attempts += 1
        if self.auth_failed and self.cfg.username:
            # Re-read the password file: fixing it lets the next attempt in, no restart.
            client.username_pw_set(self.cfg.username, self._password())

    # ------------------------------------------------------------------ callbacks
    def _on_connect(self, client: Client, userdata: Any, flags: Any,
                    reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            self.connected = False
            self.last_error = str(reason_code)
            if str(reason_code) in AUTH_FAILURES:
                self.auth_failed = True
                retry = self.cfg.auth_retry_s
                # Credentials do not fix themselves: retry slowly, not at the reconnect pace.
                client.reconnect_delay_set(retry, retry)  # type: ignore[arg-type]
                log.error("mqtt_auth_failed", error=str(reason_code), username=self.cfg.username,
                          password_file=str(self.cfg.password_file), attempts=self.connect_attempts,
                          retry_in_s=retry,
                          hint="the broker refused the credentials: check mqtt.username and "
                               "mqtt.password_file (re-read before every attempt)")
            else:
                log.error("mqtt_connect_refused", error=str(reason_code))
            return
        if self.auth_failed:
            cfg = self.cfg
            client.reconnect_delay_set(cfg.reconnect_min_s, cfg.reconnect_max_s)  # type: ignore[arg-type]
            log.info("mqtt_auth_recovered", username=self.cfg.username)
        self.connected = True
        self.auth_failed = False
        self.last_error = None
        self.connects += 1
        if self.connects > 1:
            self.reconnects += 1
        # Retain-as-published: a command published retained keeps its retain flag on
        # live delivery too, not only when the subscription replays it, so it can be
        # refused either way.
        from appliance.mqtt.client import SubscribeOptions  # loaded by start

        opts = SubscribeOptions(qos=1, retainAsPublished=True)
        subs: list[tuple[str, Any]] = [(f, opts) for f in self.subs.filters()]
        subs.append((topics.ha_status(self.cfg.discovery_prefix), 1))
        client.subscribe(subs)
        online = client.publish(topics.state_topic(self.base, "status"), "online", qos=1,
                                retain=True)
        self._track(online.mid)
        log.info("mqtt_connected", broker=f"{self.cfg.host}:{self.cfg.port}",
                 reconnects=self.reconnects, subscriptions=len(subs))
        try:
            self.on_connected()
        except Exception as exc:  # a republish problem must not break the link
            log.error("mqtt_on_connected_failed", error=str(exc))

    def _on_connect_fail(self, client: Client, userdata: Any) -> None:
        self.connected = False
        self.last_error = "broker unreachable"
        log.warning("mqtt_connect_failed", broker=f"{self.cfg.host}:{self.cfg.port}")

    def _on_disconnect(self, client: Client, userdata: Any, flags: Any,
                       reason_code: Any, properties: Any) -> None:
        was = self.connected
        self.connected = False
        if was and not self._stopping:
            self.last_error = f"disconnected: {reason_code}"
            log.warning("mqtt_disconnected", reason=str(reason_code))

    def _on_message(self, client: Client, userdata: Any, msg: MQTTMessage) -> None:
        try:
            if msg.topic == topics.ha_status(self.cfg.discovery_prefix):
                if msg.payload.strip() == b"online" and self.on_ha_online is not None:
                    self._schedule_ha_republish()
                return
            action = self.subs.action(msg.topic)
            if action is None:
                return
            if msg.retain:
                self._ignore_retained(msg)
                return
            responder = responder_for(self, msg, self.cfg, self.base)
            self.on_command(action, bytes(msg.payload), responder)
        except Exception as exc:  # never let a message kill paho's thread
            log.error("mqtt_message_failed", topic=msg.topic,
                      error=f"{type(exc).__name__}: {exc}")

    def _ignore_retained(self, msg: MQTTMessage) -> None:
        """Never take a command from a retained message: it would replay at every reconnect.

        An empty one is someone clearing a retained command (`mosquitto_pub -r -n`):
        that is what they should do, so it passes without a word.
        """
        if not msg.payload:
            log.debug("retained_command_cleared", topic=msg.topic)
            return
        log.warning("retained_command_ignored", topic=msg.topic,
                    fix=f"clear it: mosquitto_pub -r -n -t '{msg.topic}'")
        if self.on_retained_command is not None:
            self.on_retained_command(msg.topic)

    def _schedule_ha_republish(self) -> None:
        if self._ha_timer is not None:
            self._ha_timer.cancel()
        delay = random.uniform(1.0, 5.0)
        callback = self.on_ha_online
        assert callback is not None
        self._ha_timer = threading.Timer(delay, callback)
        self._ha_timer.daemon = True
        self._ha_timer.start()
        log.info("ha_online_seen", republish_in_s=round(delay, 2))
