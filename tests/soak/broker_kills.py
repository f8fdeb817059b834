"""Broker kills: SIGKILL the broker again and again while the engine renders, report the gaps.

The engine must draw on as if nothing happened (its render thread never calls
into paho) and come back with every retained topic after each return. Used by
tests/faults/test_broker_faults.py with a modest count; the long run is opt-in:

    .venv/bin/python -m tests.soak.broker_kills --kills 100
    .venv/bin/python -m tests.soak.broker_kills --kills 100 --load 2

``--load N`` runs N busy-loop processes meanwhile (CPU load from another
process). Prints one JSON report: the worst frame gap over the kills (from the
engine's own frame timing, every frame covered), the gaps over 100 ms with the
cost of the frame that ended each one, and how long each return took.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from appliance.ops.broker import LocalBroker
from tests.support import LightboxProcess, MQTTProbe, engine_settings

RETAINED = ("status", "state", "animations", "health", "metrics", "info", "config")
#: The engine's frame rate in these runs, and so its frame budget.
FPS = 30
BUDGET_MS = 1000.0 / FPS


@contextlib.contextmanager
def cpu_load(processes: int) -> Iterator[None]:
    """Run ``processes`` busy loops (other processes, not threads of the engine)."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"],
                             stdin=subprocess.DEVNULL) for _ in range(processes)]
    try:
        yield
    finally:
        for h in hogs:
            h.kill()
            h.wait(5)


def watch(broker: LocalBroker, dev: str) -> MQTTProbe:
    """A probe on everything of one device."""
    p = MQTTProbe(broker, "homeassistant").connect()
    p.subscribe(f"lightbox/{dev}/#", f"homeassistant/device/lightbox_{dev}/config")
    return p


def next_metrics(p: MQTTProbe, dev: str, pred: Callable[[dict[str, Any]], bool] | None = None,
                 timeout_s: float = 20.0) -> dict[str, Any]:
    """The next metrics document published after now."""
    mark = p.mark()
    return p.wait_for(f"lightbox/{dev}/metrics", pred, timeout_s=timeout_s,  # type: ignore[no-any-return]
                      since=mark)


def all_back(broker: LocalBroker, dev: str, timeout_s: float = 20.0,
             want_state: dict[str, Any] | None = None) -> tuple[float, MQTTProbe]:
    """Wait for ``online``, every retained topic and discovery; return (seconds, probe).

    With ``want_state``, the retained state must hold those values (nothing was lost).
    """
    t0 = time.monotonic()
    p = watch(broker, dev)
    try:
        p.wait_for(f"lightbox/{dev}/status", lambda v: v == "online", timeout_s=timeout_s)
        for topic in [f"lightbox/{dev}/{n}" for n in RETAINED] + [
                f"homeassistant/device/lightbox_{dev}/config"]:
            p.wait_for(topic, timeout_s=max(0.1, timeout_s - (time.monotonic() - t0)))
        state = p.last(f"lightbox/{dev}/state")
        for key, value in (want_state or {}).items():
            assert state[key] == value, (key, state)
    except BaseException:
        p.close()
        raise
    return time.monotonic() - t0, p


def kill_cycles(eng: LightboxProcess, broker: LocalBroker, dev: str, kills: int,
                seed: int = 5, want_state: dict[str, Any] | None = None) -> dict[str, Any]:
    """Kill and restart ``broker`` ``kills`` times; return the figures of the run.

    After every return the engine's ``frame_gap_ms_max_recent`` (the largest gap
    over its last 512 frames, ~17 s, longer than one cycle) is read, so the worst
    gap covers every frame of the run.
    """
    rng = random.Random(seed)
    p = watch(broker, dev)
    base = next_metrics(p, dev, lambda m: m["frames_total"] > 60)
    back_s: list[float] = []
    worst: list[float] = []
    last = base["frames_total"]
    t0 = time.monotonic()
    try:
        for _ in range(kills):
            p.close()
            broker.kill()
            time.sleep(rng.uniform(0.2, 1.5))
            broker.start()
            took, p = all_back(broker, dev, want_state=want_state)
            back_s.append(round(took, 2))
            m = next_metrics(p, dev, lambda m, last=last: m["frames_total"] > last)
            worst.append(m["frame_gap_ms_max_recent"])
            last = m["frames_total"]
        end = next_metrics(p, dev)
    finally:
        p.close()
    gaps = [e for e in eng.log_events() if e.get("event") == "frame_gap"
            and e.get("frames_total", 0) > base["frames_total"]]
    return {
        "kills": kills,
        "seconds": round(time.monotonic() - t0, 1),
        "frame_budget_ms": round(BUDGET_MS, 1),
        "worst_gap_ms": max(worst, default=0.0),
        "worst_gap_per_kill_ms": worst,
        "gaps_over_100ms": end["frame_gaps_over_100ms_total"] - base["frame_gaps_over_100ms_total"],
        "gap_events": [{k: e.get(k) for k in ("gap_ms", "frame_ms", "wait_ms")} for e in gaps],
        "frames": end["frames_total"] - base["frames_total"],
        "frames_dropped": end["frames_dropped"] - base["frames_dropped"],
        "back_within_s_max": max(back_s, default=0.0),
        "back_within_s": back_s,
        "reconnect_attempts": end["mqtt_connect_attempts_total"],
        "publishes_dropped": end["mqtt_publish_dropped_total"],
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }


def run(workdir: Path, kills: int, load: int = 0, dev: str = "kills") -> dict[str, Any]:
    """Start a broker and an engine in ``workdir``, kill the broker ``kills`` times."""
    broker = LocalBroker(workdir / "broker")
    broker.start()
    settings = engine_settings(broker, dev, display={"driver": "virtual", "rows": 32,
                                                     "cols": 64, "fps": FPS})
    eng = LightboxProcess("engine", workdir / "engine", settings).start()
    try:
        all_back(broker, dev, timeout_s=30)[1].close()
        with cpu_load(load):
            report = kill_cycles(eng, broker, dev, kills)
        report["load_processes"] = load
        report["engine_alive"] = eng.alive()
        return report
    finally:
        eng.stop()
        broker.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the kills from the command line and print the report."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--load", type=int, default=0, help="busy-loop processes meanwhile")
    ap.add_argument("--report", type=Path, help="also write the JSON report here")
    ap.add_argument("--workdir", type=Path)
    args = ap.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lightbox-kills-"))
    report = run(workdir, args.kills, args.load)
    text = json.dumps(report, indent=2)
    if args.report:
        args.report.write_text(text + "\n")
    print(text)
    return 0 if report["engine_alive"] else 1


if __name__ == "__main__":
    sys.exit(main())
