"""Section 4, the web bridge: POST /api/animation round trips and GET /api/health throughput.

Runs only where ``bridge.cli`` is installed. The bridge (``lightbox bridge``)
and an engine run as real processes on the benchmark broker, with the rate
limits raised for the run. The floor, in the same run and interleaved: a
trivial WSGI app on waitress with the same thread count
(``benchmarks.trivial_wsgi``). Health load comes from a second process
(``benchmarks.httpload``).
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from appliance.ops.broker import LocalBroker, free_port
from benchmarks.common import Check, check, median, pct, rnd
from benchmarks.harness import EngineRun, LightboxChild, child_env, engine_settings

FPS = 30
UNLIMITED = "1000000 per second"


def available() -> bool:
    """True when the bridge is installed."""
    try:
        return importlib.util.find_spec("bridge.cli") is not None
    except (ImportError, ValueError):
        return False


def _wait_http(port: int, path: str, timeout_s: float = 30.0, want: int = 200) -> None:
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            conn.close()
            last = resp.status
            if resp.status == want:
                return
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"http://127.0.0.1:{port}{path} did not answer {want} in time ({last})")


def _post_ms(conn: http.client.HTTPConnection, path: str, body: dict[str, Any]) -> tuple[float,
                                                                                     int]:
    data = json.dumps(body).encode()
    start = time.perf_counter()
    conn.request("POST", path, body=data, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    resp.read()
    return (time.perf_counter() - start) * 1000.0, resp.status


def _load(port: int, path: str, seconds: float, concurrency: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.httpload", f"http://127.0.0.1:{port}{path}",
         str(seconds), str(concurrency)],
        capture_output=True, text=True, timeout=seconds + 60, check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _start_floor(port: int, threads: int, workdir: Path) -> subprocess.Popen[bytes]:
    """Start the trivial WSGI app (the floor) on waitress with ``threads`` threads."""
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.trivial_wsgi", str(port), str(threads)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=child_env(workdir),
    )


def _post_rounds(http_port: int, floor_port: int, n: int, rng: random.Random,
                 bridge_ms: list[float], floor_ms: list[float], statuses: dict[str, int]) -> None:
    """``n`` POST /api/animation to the bridge, each interleaved with one to the floor."""
    bconn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
    fconn = http.client.HTTPConnection("127.0.0.1", floor_port, timeout=10)
    names = ["breathe", "plasma"]
    for i in range(n):
        body = {"name": names[i % 2]}
        for which in ((0, 1) if i % 2 else (1, 0)):
            time.sleep(rng.uniform(0, 1 / FPS))
            if which == 0:
                ms, st = _post_ms(fconn, "/api/animation", body)
                floor_ms.append(ms)
            else:
                ms, st = _post_ms(bconn, "/api/animation", body)
                statuses[str(st)] = statuses.get(str(st), 0) + 1
                if st == 200:
                    bridge_ms.append(ms)
    bconn.close()
    fconn.close()


def run(broker: LocalBroker, workdir: Path, quick: bool) -> tuple[dict[str, Any], list[Check]]:
    """Measure the bridge against the trivial app, interleaved."""
    if not available():
        return {"status": "skipped", "reason": "bridge not installed"}, []
    n = 40 if quick else 300
    rounds = 2 if quick else 3
    load_s = 3.0 if quick else 8.0
    concurrency = 8
    settings = engine_settings(broker, 64, 64, FPS)
    http_port = free_port()
    settings["bridge"] = {
        **settings["bridge"], "host": "127.0.0.1", "port": http_port,
        "rate_limit_reads": UNLIMITED, "rate_limit_writes": UNLIMITED,
    }
    threads = 8
    floor_port = free_port()
    floor_proc = _start_floor(floor_port, threads, workdir)
    rng = random.Random(11)
    bridge_ms: list[float] = []
    floor_ms: list[float] = []
    statuses: dict[str, int] = {}
    bridge_loads: list[dict[str, Any]] = []
    floor_loads: list[dict[str, Any]] = []
    try:
        with EngineRun(broker, workdir / "bridge-engine", settings):
            bridge = LightboxChild("bridge", workdir / "bridge", settings).start()
            try:
                _wait_http(floor_port, "/")
                _wait_http(http_port, "/api/health")
                _post_rounds(http_port, floor_port, n, rng, bridge_ms, floor_ms, statuses)
                for _ in range(rounds):
                    floor_loads.append(_load(floor_port, "/api/health", load_s, concurrency))
                    bridge_loads.append(_load(http_port, "/api/health", load_s, concurrency))
            finally:
                bridge.stop()
    finally:
        floor_proc.terminate()
        floor_proc.wait(10)
        if floor_proc.stdout:
            floor_proc.stdout.close()
    return _report(threads, concurrency, load_s, bridge_ms, floor_ms, statuses, bridge_loads,
                   floor_loads)


def _report(threads: int, concurrency: int, load_s: float, bridge_ms: list[float],
            floor_ms: list[float], statuses: dict[str, int], bridge_loads: list[dict[str, Any]],
            floor_loads: list[dict[str, Any]]) -> tuple[dict[str, Any], list[Check]]:
    """The section's figures and checks from the raw timings."""
    bridge_rps = median([x["ok_rps"] for x in bridge_loads])
    floor_rps = median([x["ok_rps"] for x in floor_loads])
    out = {
        "status": "ok",
        "threads": threads,
        "animation_post": {
            "n": len(bridge_ms), "statuses": statuses,
            "p50_ms": rnd(median(bridge_ms), 3), "p99_ms": rnd(pct(bridge_ms, 99), 3),
            "max_ms": rnd(max(bridge_ms) if bridge_ms else None, 3),
        },
        "animation_post_floor": {
            "n": len(floor_ms), "p50_ms": rnd(median(floor_ms), 3),
            "p99_ms": rnd(pct(floor_ms, 99), 3),
        },
        "health_load": {"concurrency": concurrency, "seconds_each": load_s,
                        "bridge_rps": rnd(bridge_rps, 1), "floor_rps": rnd(floor_rps, 1),
                        "ratio_to_floor": rnd(bridge_rps / floor_rps if floor_rps else None, 3),
                        "bridge_runs": bridge_loads, "floor_runs": floor_loads},
    }
    checks = [
        check("bridge", "POST /api/animation p99", pct(bridge_ms, 99), "ms", "<", 50,
              note=f"floor p99 {rnd(pct(floor_ms, 99), 2)} ms; {statuses}"),
        check("bridge", "GET /api/health throughput", bridge_rps, "req/s", ">=", 500,
              note=f"floor {rnd(floor_rps, 0)} req/s"),
    ]
    return out, checks
