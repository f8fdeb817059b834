"""Test support: a real MQTT client and real `lightbox` subprocesses.

Used by the integration, fault and browser tests. Nothing here is a fake:
`MQTTProbe` is a paho MQTT 5 client logged in as one of the broker's users,
and `EngineProcess`/`BridgeProcess` run the installed `lightbox` command.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from appliance.ops.broker import LocalBroker, free_port, port_open

LIGHTBOX = [sys.executable, "-m", "appliance"]


class MQTTProbe:
    """A test's own MQTT client: records every message it sees, sends commands."""

    def __init__(self, broker: LocalBroker, user: str = "homeassistant",
                 protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5,
                 password: str | None = None) -> None:
        self.broker = broker
        self.user = user
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"test-{user}-{uuid.uuid4().hex[:8]}",
                                  protocol=protocol)
        self.client.username_pw_set(user, password if password is not None
                                    else broker.passwords.get(user))
        self.messages: list[mqtt.MQTTMessage] = []
        self._cond = threading.Condition()
        self.connect_rc: Any = None
        self._connected = threading.Event()
        self.client.on_message = self._on_message
        self.client.on_connect = self._on_connect

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        self.connect_rc = rc
        self._connected.set()

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()

    def connect(self, timeout_s: float = 5.0) -> MQTTProbe:
        """Connect and start the network loop; raise if refused."""
        self.client.connect(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(timeout_s):
            raise TimeoutError("no CONNACK")
        if self.connect_rc is not None and self.connect_rc.is_failure:
            raise ConnectionRefusedError(str(self.connect_rc))
        return self

    def close(self) -> None:
        """Disconnect."""
        with contextlib.suppress(Exception):
            self.client.disconnect()
        self.client.loop_stop()

    def subscribe(self, *filters: str, wait_s: float = 0.3) -> MQTTProbe:
        """Subscribe (qos 1) and give the broker a moment to send retained messages."""
        done = threading.Event()
        self.client.on_subscribe = lambda *a: done.set()
        self.client.subscribe([(f, 1) for f in filters])
        done.wait(5)
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
        reply_topic = f"lightbox/_reply/test-{uuid.uuid4().hex[:8]}"
        got: queue.Queue[Any] = queue.Queue()

        def on_reply(client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
            if getattr(msg.properties, "CorrelationData", None) == corr:
                got.put(decode(msg.payload))

        self.client.message_callback_add(reply_topic, on_reply)
        done = threading.Event()
        self.client.on_subscribe = lambda *a: done.set()
        self.client.subscribe(reply_topic, qos=1)
        done.wait(5)
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


def decode(payload: bytes) -> Any:
    """JSON-decode a payload when possible, else return text (or bytes)."""
    try:
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        try:
            return payload.decode()
        except UnicodeDecodeError:
            return payload


def engine_settings(broker: LocalBroker, device_id: str = "test", **sections: Any
                    ) -> dict[str, Any]:
    """Return a settings object for an engine on ``broker`` with the virtual display.

    The engine logs in as its own broker user, named after ``device_id`` (the ACL's
    per-box patterns), which this adds to the broker when it is new.
    """
    user = broker.add_device(device_id)
    base: dict[str, Any] = {
        "device_id": device_id,
        "display": {"driver": "virtual", "rows": 32, "cols": 64},
        "mqtt": {
            "host": broker.host, "port": broker.port, "username": user,
            "password_file": str(broker.password_file(user)),
            "reconnect_min_s": 1, "reconnect_max_s": 2,
        },
        "bridge": {
            "mqtt_username": "lightbox-bridge",
            "mqtt_password_file": str(broker.password_file("lightbox-bridge")),
        },
        "health": {"interval_s": 2, "metrics_interval_s": 1},
        "logging": {"format": "json"},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base


@dataclass
class LightboxProcess:
    """A `lightbox <command>` subprocess with its own settings file and log."""

    command: str
    workdir: Path
    settings: dict[str, Any]
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def settings_path(self) -> Path:
        """The settings file this process reads."""
        return self.workdir / "settings.json"

    @property
    def log_path(self) -> Path:
        """stdout+stderr of the process."""
        return self.workdir / f"{self.command}.log"

    @property
    def snapshot_path(self) -> Path:
        """The virtual display's snapshot file."""
        return self.workdir / "panel.npy"

    @property
    def fault_path(self) -> Path:
        """Create this file to make the virtual display fail."""
        return self.workdir / "display.fault"

    def start(self) -> LightboxProcess:
        """Write the settings and start the process."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.settings_path.exists():
            self.settings_path.write_text(json.dumps(self.settings, indent=2))
        env = {**os.environ, "PYTHONUNBUFFERED": "1",
               "LIGHTBOX_VIRTUAL_SNAPSHOT": str(self.snapshot_path),
               "LIGHTBOX_VIRTUAL_FAULT_FILE": str(self.fault_path),
               "STATE_DIRECTORY": str(self.workdir / "state"), **self.env}
        env.pop("NOTIFY_SOCKET", None)
        (self.workdir / "state").mkdir(exist_ok=True)
        self.process = subprocess.Popen(
            [*LIGHTBOX, self.command, "--settings", str(self.settings_path), *self.extra_args],
            stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=env, start_new_session=True,
        )
        return self

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        """Send a signal."""
        assert self.process is not None
        os.kill(self.process.pid, sig)

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM and wait; SIGKILL when it does not stop."""
        p = self.process
        if p is None:
            return None
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout_s)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        return p.returncode

    def kill(self) -> None:
        """SIGKILL."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def log(self) -> str:
        """The process output so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_events(self) -> list[dict[str, Any]]:
        """The JSON log lines so far."""
        out = []
        for line in self.log().splitlines():
            with contextlib.suppress(ValueError):
                obj = json.loads(line)
                if isinstance(obj, dict):
                    out.append(obj)
        return out

    def panel(self) -> np.ndarray | None:
        """What the virtual panel shows (from its snapshot), or None before the first one."""
        try:
            return np.load(self.snapshot_path)
        except (OSError, ValueError):
            return None


def wait_until(predicate: Callable[[], Any], timeout_s: float = 10.0, interval_s: float = 0.05,
               message: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s}s waiting for {message}")
        time.sleep(interval_s)


def http_port_ready(port: int) -> bool:
    """True when something listens on the port."""
    return port_open(port)


__all__ = ["LIGHTBOX", "LightboxProcess", "MQTTProbe", "engine_settings", "free_port",
           "wait_until"]
