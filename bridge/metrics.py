"""Prometheus exposition: the engine's retained metrics and health, plus the bridge's own.

Owns every metric name (all start with ``lightbox_``) and a private registry per
app. Reads the engine's figures from the link's cache at scrape time; knows
nothing of Flask routing or paho.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bridge.ports import EngineLink

PREFIX = "lightbox_"
#: Metric fields whose unit deserves a clearer Prometheus name.
RENAMES = {"uptime_s": "uptime_seconds", "cpu_temp_c": "cpu_temp_celsius"}
SKIP = {"boot_time"}
HEALTH_STATES = ("ok", "degraded", "failed")


class EngineCollector(Collector):
    """Turns the cached ``metrics``/``health``/``status``/``info`` into samples."""

    def __init__(self, link: EngineLink, health_age: Callable[[], float | None]) -> None:
        self.link = link
        self.health_age = health_age

    def collect(self) -> Iterator[Metric]:
        """Yield the engine's samples (nothing for what was never seen)."""
        online = 1.0 if self.link.engine_status() == "online" else 0.0
        yield GaugeMetricFamily(f"{PREFIX}engine_online", "1 when the engine says online",
                                value=online)
        metrics = self.link.value("metrics")
        if isinstance(metrics, dict):
            yield from _engine_metrics(metrics)
        health = self.link.value("health")
        if isinstance(health, dict):
            g = GaugeMetricFamily(f"{PREFIX}health_status",
                                  "1 for the engine's current overall health", labels=["status"])
            for s in HEALTH_STATES:
                g.add_metric([s], 1.0 if health.get("status") == s else 0.0)
            yield g
            checks = health.get("checks")
            if isinstance(checks, dict):
                c = GaugeMetricFamily(f"{PREFIX}health_check_status",
                                      "1 for each health check's current status",
                                      labels=["check", "status"])
                for name, check in sorted(checks.items()):
                    st = check.get("status") if isinstance(check, dict) else None
                    for s in HEALTH_STATES:
                        c.add_metric([str(name), s], 1.0 if st == s else 0.0)
                yield c
        age = self.health_age()
        if age is not None:
            yield GaugeMetricFamily(f"{PREFIX}health_age_seconds",
                                    "seconds since the engine last published health", value=age)
        info = self.link.value("info")
        if isinstance(info, dict):
            raw = info.get("display")
            display: dict[str, Any] = raw if isinstance(raw, dict) else {}
            g = GaugeMetricFamily(f"{PREFIX}info", "engine version and display",
                                  labels=["device_id", "version", "driver", "width", "height"])
            g.add_metric([str(info.get("device_id", "")), str(info.get("version", "")),
                          str(display.get("driver", "")), str(display.get("width", "")),
                          str(display.get("height", ""))], 1.0)
            yield g


def _engine_metrics(metrics: dict[str, Any]) -> Iterator[Metric]:
    for key, value in sorted(metrics.items()):
        if key in SKIP or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        name = PREFIX + RENAMES.get(key, key)
        if key.endswith("_total"):
            yield CounterMetricFamily(name[: -len("_total")], f"engine {key}", value=value)
        else:
            yield GaugeMetricFamily(name, f"engine {key}", value=value)


class BridgeMetrics:
    """The bridge's own instruments, in a private registry with the engine collector."""

    def __init__(self, link: EngineLink, health_age: Callable[[], float | None]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(EngineCollector(link, health_age))
        self.requests = Counter(f"{PREFIX}bridge_http_requests_total",
                                "HTTP requests by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.command_seconds = Histogram(
            f"{PREFIX}bridge_command_seconds", "MQTT round trip of commands",
            ["action"], registry=self.registry,
            buckets=(0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.command_errors = Counter(f"{PREFIX}bridge_command_failures_total",
                                      "commands that failed, by reason", ["action", "reason"],
                                      registry=self.registry)
        self.sse_clients = Gauge(f"{PREFIX}bridge_sse_clients", "open event streams",
                                 registry=self.registry)
        self.sse_dropped = Counter(f"{PREFIX}bridge_sse_dropped_messages_total",
                                   "messages dropped for slow event-stream clients",
                                   registry=self.registry)
        self.sse_refused = Counter(f"{PREFIX}bridge_sse_refused_total",
                                   "event streams refused at the cap", registry=self.registry)
        self.mqtt_connected = Gauge(f"{PREFIX}bridge_mqtt_connected",
                                    "1 while the bridge is connected to the broker",
                                    registry=self.registry)
        self.mqtt_connected.set_function(lambda: 1.0 if link.connected else 0.0)
        self.started = time.time()
        self.start_time = Gauge(f"{PREFIX}bridge_start_time_seconds",
                                "when the bridge started (unix time)", registry=self.registry)
        self.start_time.set(self.started)
