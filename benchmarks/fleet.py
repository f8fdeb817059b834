"""`lightbox bench fleet --boxes 1,10,50`: many boxes on one mosquitto, and how it grows.

For each fleet size N: one mosquitto with the shipped config and ACL and a broker
user per box; N ``lightbox engine`` processes (virtual 64x32, 5 fps, in group
``fleet``); then
- how long the fleet takes from the first process start to the last ``online``;
- the broker's RSS and CPU per box, and the engines' CPU (all N summed), while the
  fleet idles (metrics every 5 s);
- a ``group/fleet/cmd/animation`` with ``start_at`` 3 s ahead: time until the
  last box's new state, the spread of the boxes' ``started_at`` (the phase a
  fleet shows) and of their state arrivals, and the spread of the moments each
  box's render loop switched to it (its ``animation_started`` log line, which
  comes with the first frame of the new animation: the sync skew a person sees);
- a Home Assistant restart (``homeassistant/status`` ``online``): when each box's
  discovery document arrives (the 1-5 s jitter spreads the storm) and the broker's
  and the engines' CPU while it lasts.
Not part of the default run (it starts up to 50 processes).
"""

from __future__ import annotations

import contextlib
import json
import time
from datetime import datetime
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


def _cpu_seconds(procs: list[psutil.Process]) -> float:
    """User + system CPU seconds of ``procs`` so far (a process gone counts 0)."""
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            total += sum(proc.cpu_times()[:2])
    return total


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
    # Generous: on 2 cores, 50 Python start-ups queue behind each other.
    deadline = time.monotonic() + 60 + 3 * n
    for dev in _ids(n):
        watch.wait(topics.state_topic(topics.base("lightbox", dev), "status"),
                   lambda v: v == "online", max(1.0, deadline - time.monotonic()))
    return boxes


def _switch_times(boxes: list[LightboxChild], name: str) -> list[float]:
    """Epoch time of each box's ``animation_started`` log line for ``name`` (the last one)."""
    out = []
    for box in boxes:
        stamps = [ev["timestamp"] for ev in box.log_events()
                  if ev.get("event") == "animation_started" and ev.get("animation") == name]
        if stamps:
            out.append(datetime.fromisoformat(str(stamps[-1])).timestamp())
    return out


def _group_command(watch: Client, boxes: list[LightboxChild]) -> dict[str, Any]:
    n = len(boxes)
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
    # The switch happens at each box's first frame at or after start_at: wait it out,
    # then give the logs a moment to be written.
    time.sleep(max(0.0, start_at - time.time()) + 1.0 + 2.0 / FPS)
    switched = _switch_times(boxes, "solid")
    return {"all_states_s": rnd(max(arrivals), 3),
            "state_arrival_spread_ms": rnd((max(arrivals) - min(arrivals)) * 1000, 1),
            "started_at_spread_ms": rnd((max(started) - min(started)) * 1000, 3),
            "started_at_minus_start_at_ms": rnd((median(started) - start_at) * 1000, 3),
            "switched_boxes": len(switched),
            "first_frame_spread_ms": rnd((max(switched) - min(switched)) * 1000, 1)
            if switched else None,
            "first_frame_after_start_at_ms_max": rnd((max(switched) - start_at) * 1000, 1)
            if switched else None}


def _ha_restart(watch: Client, broker_proc: psutil.Process, engines: list[psutil.Process],
                n: int) -> dict[str, Any]:
    docs = [topics.discovery("homeassistant", dev) for dev in _ids(n)]
    before = {d: watch.counts.get(d, 0) for d in docs}
    t0 = time.perf_counter()
    c0, e0 = _cpu_seconds([broker_proc]), _cpu_seconds(engines)
    watch.publish(topics.ha_status("homeassistant"), "online")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(
            watch.counts.get(d, 0) <= before[d] for d in docs):
        time.sleep(0.05)
    span = time.perf_counter() - t0
    cpu = 100.0 * (_cpu_seconds([broker_proc]) - c0) / span
    engines_cpu = 100.0 * (_cpu_seconds(engines) - e0) / span
    got = sorted(watch.latest_at[d] - t0 for d in docs if watch.counts.get(d, 0) > before[d])
    return {"discovery_received": len(got), "first_s": rnd(got[0] if got else None, 2),
            "last_s": rnd(got[-1] if got else None, 2),
            "broker_cpu_percent_during": rnd(cpu, 1),
            "engines_cpu_percent_during": rnd(engines_cpu, 1)}


def measure(workdir: Path, n: int) -> dict[str, Any]:
    """One fleet of ``n`` boxes: start-up, idle cost, a group command, an HA restart."""
    b = _broker(workdir / f"n{n}", n)
    watch = Client(b, name="bench-fleet")
    boxes: list[LightboxChild] = []
    try:
        watch.connect()
        watch.subscribe("lightbox/+/status", "lightbox/+/state", "homeassistant/device/+/config")
        rss0 = psutil.Process(b.process.pid).memory_info().rss if b.process else 0
        t0 = time.perf_counter()
        boxes = _start_fleet(b, workdir / f"n{n}", n, watch)
        startup_s = time.perf_counter() - t0
        proc = psutil.Process(b.process.pid) if b.process else psutil.Process()
        engines = [box.psutil() for box in boxes]
        time.sleep(3)
        t1, c1, e1 = time.perf_counter(), _cpu_seconds([proc]), _cpu_seconds(engines)
        time.sleep(10)
        span = time.perf_counter() - t1
        idle_cpu = 100.0 * (_cpu_seconds([proc]) - c1) / span
        engines_cpu = 100.0 * (_cpu_seconds(engines) - e1) / span
        rss = proc.memory_info().rss
        out = {"boxes": n, "startup_all_online_s": rnd(startup_s, 1),
               "broker_rss_mb": rnd(rss / 2**20, 1),
               "broker_rss_kb_per_box": rnd((rss - rss0) / 1024 / n, 1),
               "broker_cpu_percent_idle": rnd(idle_cpu, 2),
               "engines_cpu_percent_idle": rnd(engines_cpu, 1),
               "engine_cpu_percent_idle_per_box": rnd(engines_cpu / n, 2),
               "group_command": _group_command(watch, boxes),
               "ha_restart": _ha_restart(watch, proc, engines, n)}
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
        check("fleet", f"first frame of it: spread over the boxes ({big['boxes']} boxes)",
              big["group_command"]["first_frame_spread_ms"], "ms", "<=", 1000 / FPS + 50,
              target=f"<= 1 frame ({1000 / FPS:g} ms at {FPS} fps) + 50 ms"),
        check("fleet", f"HA restart: every discovery document ({big['boxes']} boxes)",
              big["ha_restart"]["discovery_received"], "documents", ">=", big["boxes"]),
    ]
    return {"fps": FPS, "rows": rows}, checks
