"""`lightbox bench fleet --boxes 1,10,50`: many boxes on one mosquitto, and how it grows.

For each fleet size N: one mosquitto with the shipped config and ACL and a broker
user per box; N ``lightbox engine`` processes (virtual 64x32, 5 fps, in group
``fleet``); then
- the broker's RSS and CPU per box while the fleet idles (metrics every 5 s);
- a ``group/fleet/cmd/animation`` with ``start_at`` 3 s ahead: time until the
  last box's new state, and the spread of the boxes' ``started_at`` (the phase a
  fleet shows) and of their state arrivals;
- a Home Assistant restart (``homeassistant/status`` ``online``): when each box's
  discovery document arrives (the 1-5 s jitter spreads the storm) and the broker's
  CPU while it lasts.
Not part of the default run (it starts up to 50 processes).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import psutil

from appliance.ops.broker import LocalBroker
from appliance.testing.settings import engine_settings
from appliance.wire import topics
from benchmarks.common import Check, check, median, rnd
from benchmarks.harness import Client, LightboxChild

GROUP = "fleet"
FPS = 5
DEFAULT_BOXES = (1, 10, 50)
QUICK_BOXES = (1, 5)


def _ids(n: int) -> list[str]:
    return [f"box{i:02d}" for i in range(1, n + 1)]


def _broker(workdir: Path, n: int) -> LocalBroker:
    """A broker with a user per box made before it starts (no reload per box)."""
    b = LocalBroker(workdir / "broker")
    for dev in _ids(n):
        b.add_device(dev)
    b.prepare()
    b.start()
    return b


def _cpu_percent(proc: psutil.Process, seconds: float) -> float:
    """CPU % of one core that ``proc`` used over the next ``seconds``."""
    t0, c0 = time.perf_counter(), sum(proc.cpu_times()[:2])
    time.sleep(seconds)
    return 100.0 * (sum(proc.cpu_times()[:2]) - c0) / (time.perf_counter() - t0)


def _start_fleet(b: LocalBroker, workdir: Path, n: int, watch: Client) -> list[LightboxChild]:
    boxes = []
    for dev in _ids(n):
        s = engine_settings(b, dev, display={"driver": "virtual", "rows": 32, "cols": 64,
                                             "fps": FPS},
                            mqtt={"groups": [GROUP]},
                            health={"interval_s": 10, "metrics_interval_s": 5},
                            animation={"default": "breathe", "boot": "default"})
        child = LightboxChild("engine", workdir / dev, s)
        child.start()
        boxes.append(child)
    deadline = time.monotonic() + 60 + 2 * n
    for dev in _ids(n):
        watch.wait(topics.state_topic(topics.base("lightbox", dev), "status"),
                   lambda v: v == "online", max(1.0, deadline - time.monotonic()))
    return boxes


def _group_command(watch: Client, n: int) -> dict[str, Any]:
    start_at = time.time() + 3.0
    t0 = time.perf_counter()
    watch.publish(topics.command(topics.group_base("lightbox", GROUP), "animation"),
                  json.dumps({"name": "solid", "params": {"color": "#ff0000"},
                              "start_at": start_at}))
    arrivals, started = [], []
    for dev in _ids(n):
        topic = topics.state_topic(topics.base("lightbox", dev), "state")
        st = watch.wait(topic, lambda s: isinstance(s, dict) and s.get("effect") == "solid", 30)
        arrivals.append(watch.latest_at[topic] - t0)
        started.append(float(st["started_at"]))
    return {"all_states_s": rnd(max(arrivals), 3),
            "state_arrival_spread_ms": rnd((max(arrivals) - min(arrivals)) * 1000, 1),
            "started_at_spread_ms": rnd((max(started) - min(started)) * 1000, 3),
            "started_at_minus_start_at_ms": rnd((median(started) - start_at) * 1000, 3)}


def _ha_restart(watch: Client, broker_proc: psutil.Process, n: int) -> dict[str, Any]:
    docs = [topics.discovery("homeassistant", dev) for dev in _ids(n)]
    before = {d: watch.counts.get(d, 0) for d in docs}
    t0 = time.perf_counter()
    c0 = sum(broker_proc.cpu_times()[:2])
    watch.publish(topics.ha_status("homeassistant"), "online")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(
            watch.counts.get(d, 0) <= before[d] for d in docs):
        time.sleep(0.05)
    span = time.perf_counter() - t0
    cpu = 100.0 * (sum(broker_proc.cpu_times()[:2]) - c0) / span
    got = sorted(watch.latest_at[d] - t0 for d in docs if watch.counts.get(d, 0) > before[d])
    return {"discovery_received": len(got), "first_s": rnd(got[0] if got else None, 2),
            "last_s": rnd(got[-1] if got else None, 2),
            "broker_cpu_percent_during": rnd(cpu, 1)}


def measure(workdir: Path, n: int) -> dict[str, Any]:
    """One fleet of ``n`` boxes: idle broker cost, a group command, an HA restart."""
    b = _broker(workdir / f"n{n}", n)
    watch = Client(b, name="bench-fleet")
    boxes: list[LightboxChild] = []
    try:
        watch.connect()
        watch.subscribe("lightbox/+/status", "lightbox/+/state", "homeassistant/device/+/config")
        rss0 = psutil.Process(b.process.pid).memory_info().rss if b.process else 0
        boxes = _start_fleet(b, workdir / f"n{n}", n, watch)
        proc = psutil.Process(b.process.pid) if b.process else psutil.Process()
        time.sleep(3)
        idle_cpu = _cpu_percent(proc, 10)
        rss = proc.memory_info().rss
        out = {"boxes": n, "broker_rss_mb": rnd(rss / 2**20, 1),
               "broker_rss_kb_per_box": rnd((rss - rss0) / 1024 / n, 1),
               "broker_cpu_percent_idle": rnd(idle_cpu, 2),
               "group_command": _group_command(watch, n),
               "ha_restart": _ha_restart(watch, proc, n)}
    finally:
        for box in boxes:
            box.stop()
        watch.close()
        b.stop()
    return out


def run(workdir: Path, quick: bool, boxes: tuple[int, ...] | None = None
        ) -> tuple[dict[str, Any], list[Check]]:
    """Measure each fleet size in turn (smallest first)."""
    sizes = boxes or (QUICK_BOXES if quick else DEFAULT_BOXES)
    rows = [measure(workdir, n) for n in sorted(sizes)]
    big = rows[-1]
    checks = [
        check("fleet", f"group command: last box's state ({big['boxes']} boxes)",
              big["group_command"]["all_states_s"], "s", "<=", 4.0,
              target="<= 4 s (start_at 3 s ahead + 1 s)"),
        check("fleet", f"started_at spread ({big['boxes']} boxes)",
              big["group_command"]["started_at_spread_ms"], "ms", "<=", 1.0),
        check("fleet", f"HA restart: every discovery document ({big['boxes']} boxes)",
              big["ha_restart"]["discovery_received"], "documents", ">=", big["boxes"]),
    ]
    return {"fps": FPS, "rows": rows}, checks
