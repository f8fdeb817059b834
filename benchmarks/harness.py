"""Benchmark harness: a real mosquitto, real `lightbox engine` processes and a fast MQTT client.

Everything here is the real thing, from the harness tests share
(``appliance.testing``): the broker is ``appliance.ops.broker.LocalBroker``
(the project's own mosquitto config, ACL and generated passwords), the engine
is the installed ``lightbox engine`` in a child process without the virtual
display's test hooks, and the client is paho logged in as Home Assistant.
Owns ``EngineRun`` (one engine and a watcher of its retained topics). Never
imports ``tests/``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from appliance.ops.broker import LocalBroker
from appliance.testing import Client, LightboxProcess, child_env, no_delay, start_broker
from appliance.testing.settings import BENCH_DEVICE_ID as DEVICE_ID
from appliance.testing.settings import bench_engine_settings as engine_settings
from appliance.wire import topics

BASE = topics.base("lightbox", DEVICE_ID)

__all__ = ["BASE", "DEVICE_ID", "Client", "EngineRun", "LightboxChild", "child_env",
           "engine_settings", "first_frame", "no_delay", "start_broker"]


@dataclass
class LightboxChild(LightboxProcess):
    """A benchmark's `lightbox <command>` child: no test hooks, settings written afresh."""

    test_hooks: bool = False
    keep_settings: bool = False


def first_frame(child: LightboxChild, t0: float, timeout_s: float = 120.0
                ) -> tuple[float, float]:
    """Return (seconds, CPU seconds) from process start to the ``engine_ready`` log line.

    ``t0``: ``time.perf_counter()`` just before the child started. CPU is the child's
    user + system time (every thread), read every 10 ms until the line is there.
    """
    proc = psutil.Process(child.pid)
    deadline = t0 + timeout_s
    cpu = 0.0
    while time.perf_counter() < deadline:
        try:
            times = proc.cpu_times()
            cpu = times.user + times.system
        except psutil.Error:
            break
        if '"engine_ready"' in child.log():
            return time.perf_counter() - t0, cpu
        time.sleep(0.01)
    raise RuntimeError(f"no first frame within {timeout_s} s:\n{child.log()[-2000:]}")


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
