"""Benchmark harness: a real mosquitto, real `lightbox engine` processes and a fast MQTT client.

Everything here is the real thing: the broker is ``appliance.ops.broker.LocalBroker``
(the project's own mosquitto config, ACL and generated passwords), the engine
is the installed ``lightbox engine`` in a child process, and the client is
paho logged in as Home Assistant. Independent of ``tests/`` on purpose.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from appliance.ops.broker import BrokerError, LocalBroker
from appliance.wire import topics

LIGHTBOX = [sys.executable, "-m", "appliance"]
DEVICE_ID = "bench"
BASE = topics.base("lightbox", DEVICE_ID)


def engine_settings(broker: LocalBroker, width: int = 64, height: int = 64, fps: int = 30,
                    metrics_interval_s: float = 1.0, **extra: Any) -> dict[str, Any]:
    """Return settings for a benchmark engine on ``broker`` with the virtual display."""
    user = broker.add_device(DEVICE_ID)
    s: dict[str, Any] = {
        "device_id": DEVICE_ID,
        "display": {"driver": "virtual", "rows": height, "cols": width, "fps": fps},
        "animation": {"default": "plasma", "boot": "default"},
        "mqtt": {
            "host": broker.host, "port": broker.port, "username": user,
            "password_file": str(broker.password_file(user)),
        },
        "bridge": {
            "mqtt_username": "lightbox-bridge",
            "mqtt_password_file": str(broker.password_file("lightbox-bridge")),
        },
        "health": {"metrics_interval_s": metrics_interval_s},
        "logging": {"format": "json", "level": "info"},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(s.get(key), dict):
            s[key] = {**s[key], **value}
        else:
            s[key] = value
    return s


def child_env(workdir: Path) -> dict[str, str]:
    """Environment for a child: no test hooks, no systemd socket, private state dir."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LIGHTBOX_VIRTUAL_") and k != "NOTIFY_SOCKET"}
    env["PYTHONUNBUFFERED"] = "1"
    env["STATE_DIRECTORY"] = str(workdir / "state")
    (workdir / "state").mkdir(parents=True, exist_ok=True)
    return env


@dataclass
class LightboxChild:
    """A `lightbox <command>` child process with its own settings and log file."""

    command: str
    workdir: Path
    settings: dict[str, Any]
    args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        """Where the child's output goes."""
        return self.workdir / f"{self.command}.log"

    def start(self) -> LightboxChild:
        """Write the settings and start the child."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / "settings.json"
        path.write_text(json.dumps(self.settings, indent=2))
        self.process = subprocess.Popen(
            [*LIGHTBOX, self.command, "--settings", str(path), *self.args],
            stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=child_env(self.workdir), start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        """The child's pid."""
        assert self.process is not None
        return self.process.pid

    def psutil(self) -> psutil.Process:
        """A psutil handle on the child."""
        return psutil.Process(self.pid)

    def alive(self) -> bool:
        """True while the child runs."""
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL when it does not stop."""
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

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the child's output."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def no_delay(client: mqtt.Client) -> None:
    """Turn Nagle's algorithm off on a connected paho client's socket (as the engine does)."""
    sock = client.socket()
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Client:
    """A paho MQTT 5 client that timestamps every message on arrival (in paho's thread)."""

    def __init__(self, broker: LocalBroker, user: str = "homeassistant",
                 name: str = "bench") -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"{name}-{uuid.uuid4().hex[:8]}",
                                  protocol=MQTTProtocolVersion.MQTTv5)
        self.client.username_pw_set(user, broker.passwords[user])
        self.broker = broker
        self._connected = threading.Event()
        self._cond = threading.Condition()
        self.latest: dict[str, Any] = {}
        self.latest_at: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.history: dict[str, list[tuple[float, Any]]] = {}
        self.keep_history: set[str] = set()
        #: Called with (arrival perf_counter, topic, raw payload) for every message.
        self.hook: Callable[[float, str, bytes], None] | None = None
        self.client.on_connect = lambda *a: self._connected.set()
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
        """Connect and start paho's network thread."""
        self.client.connect(self.broker.host, self.broker.port, keepalive=60)
        self.client.loop_start()
        if not self._connected.wait(timeout_s):
            raise TimeoutError("no CONNACK from the broker")
        no_delay(self.client)
        return self

    def subscribe(self, *filters: str) -> None:
        """Subscribe (qos 1) and wait for the SUBACK."""
        done = threading.Event()
        self.client.on_subscribe = lambda *a: done.set()
        self.client.subscribe([(f, 1) for f in filters])
        if not done.wait(10):
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

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        with contextlib.suppress(Exception):
            self.client.disconnect()
        self.client.loop_stop()


class EngineRun:
    """A broker client watching one benchmark engine's retained topics."""

    def __init__(self, broker: LocalBroker, workdir: Path, settings: dict[str, Any],
                 uncapped: bool = False) -> None:
        self.child = LightboxChild("engine", workdir, settings,
                                   ["--uncapped"] if uncapped else [])
        self.client = Client(broker, name="bench-engine-watch")
        self.base = BASE

    def topic(self, name: str) -> str:
        """A topic under the engine's base."""
        return topics.state_topic(self.base, name)

    def cmd(self, action: str) -> str:
        """A command topic of the engine."""
        return topics.command(self.base, action)

    def __enter__(self) -> EngineRun:
        self.client.keep_history.add(self.topic("metrics"))
        self.client.connect()
        self.client.subscribe(self.topic("state"), self.topic("metrics"), self.topic("status"))
        self.child.start()
        try:
            self.client.wait(self.topic("status"), lambda v: v == "online", 30)
            self.client.wait(self.topic("state"), None, 30)
            self.client.wait(self.topic("metrics"), lambda m: m.get("frames_total", 0) > 0, 30)
        except TimeoutError as exc:
            self.__exit__(None, None, None)
            raise RuntimeError(f"engine did not come up: {exc}\n{self.child.log_tail()}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        self.child.stop()
        self.client.close()

    def metrics_since(self, t0: float) -> list[tuple[float, dict[str, Any]]]:
        """Metrics documents received after perf_counter time ``t0``."""
        with self.client._cond:
            return [(t, m) for t, m in self.client.history.get(self.topic("metrics"), [])
                    if t >= t0]

    def next_metrics(self, timeout_s: float = 10.0) -> tuple[float, dict[str, Any]]:
        """Wait for the next metrics document; return (arrival time, document)."""
        topic = self.topic("metrics")
        with self.client._cond:
            n = len(self.client.history.get(topic, []))
        deadline = time.monotonic() + timeout_s
        with self.client._cond:
            while len(self.client.history.get(topic, [])) <= n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no metrics")
                self.client._cond.wait(left)
            return self.client.history[topic][-1]


def start_broker(workdir: Path, extra_config: str = "", tries: int = 5) -> LocalBroker:
    """Start a throwaway mosquitto with the project's config (plus ``extra_config`` lines).

    Retried on a fresh port: on a shared machine another broker may take the port
    between choosing it and binding it.
    """
    for attempt in range(tries):
        broker = LocalBroker(workdir / f"try{attempt}" if attempt else workdir)
        conf = broker.prepare()
        if extra_config:
            conf.write_text(conf.read_text() + extra_config.rstrip() + "\n")
        try:
            broker.start()
            return broker
        except BrokerError:
            if attempt == tries - 1:
                raise
            time.sleep(1.0)
    raise AssertionError("unreachable")
