"""Health checks, system probes on fake /sys trees, and the logs the engine writes."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from animations import REGISTRY
from appliance.display.virtual import VirtualDisplay
from appliance.render.clock import FakeClock
from appliance.render.engine import Engine
from appliance.settings import HealthSettings, validate
from appliance.system import SystemProbe, throttle_reasons
from appliance.telemetry import ConfigStatus, Telemetry, evaluate
from tests.support import wait_until

CFG = HealthSettings()


def snap(**over: Any) -> dict[str, Any]:
    base = {"fps": 30.0, "target_fps": 30, "frame_ms_p50": 1.0, "frame_ms_p99": 2.0,
            "since_last_frame_s": 0.03, "uptime_s": 100.0, "showing_fallback": False,
            "fallback_reason": None, "quarantined": [], "animation_errors_total": 0,
            "display_ok": True, "display_error": None, "display_failures": 0,
            "display_retry_in_s": 0.0}
    return {**base, **over}


SYSTEM = {"cpu_temp_c": 50.0, "throttled": 0, "cpu_percent": 3.0, "rss_mb": 60.0,
          "disk_free_mb": 1000.0}
MQTT_OK = {"connected": True, "reconnects": 0}


def health(s: dict[str, Any] | None = None, mqtt: dict[str, Any] | None = None,
           config: ConfigStatus | None = None, system: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    return evaluate(s or snap(), mqtt or MQTT_OK, config or ConfigStatus(),
                    system or SYSTEM, CFG, "virtual")


def test_all_well_is_ok_with_no_reasons() -> None:
    h = health()
    assert h["status"] == "ok" and h["reasons"] == []
    assert {c["status"] for c in h["checks"].values()} == {"ok"}


@pytest.mark.parametrize(
    ("kwargs", "status", "reason"),
    [
        ({"s": snap(fps=20.0)}, "degraded", "render: 20.0 fps is below 90% of 30"),
        ({"s": snap(since_last_frame_s=9.0)}, "failed", "render: render loop stalled"),
        ({"s": snap(showing_fallback=True, fallback_reason="fire failed")}, "degraded",
         "render: fallback animation active (fire failed)"),
        ({"s": snap(quarantined=["fire"])}, "degraded", "render: quarantined: fire"),
        ({"s": snap(display_ok=False, display_error="DisplayError: /dev/mem missing",
                    display_retry_in_s=4.0)}, "failed", "display: virtual driver failed"),
        ({"mqtt": {"connected": False, "last_error": "broker unreachable"}}, "degraded",
         "mqtt: broker not connected (broker unreachable)"),
        ({"config": ConfigStatus(source="backup:settings-1.json", error="display.fps: bad")},
         "degraded", "config: settings file invalid, running from backup"),
        ({"system": {**SYSTEM, "cpu_temp_c": 80.0}}, "degraded", "system: CPU at 80.0 C"),
        ({"system": {**SYSTEM, "cpu_temp_c": 90.0}}, "failed", "system: CPU at 90.0 C"),
        ({"system": {**SYSTEM, "throttled": 0x50005}}, "degraded",
         "system: under-voltage now; throttled now"),
        ({"system": {**SYSTEM, "rss_mb": 450.0}}, "degraded", "system: memory 450.0 MB"),
        ({"system": {**SYSTEM, "disk_free_mb": 5.0}}, "degraded", "system: only 5.0 MB free"),
    ],
)
def test_each_check_moves_to_the_right_state_with_a_reason(
        kwargs: dict[str, Any], status: str, reason: str) -> None:
    h = health(**kwargs)
    assert h["status"] == status
    assert any(r.startswith(reason) for r in h["reasons"]), h["reasons"]


def test_a_young_engine_is_not_degraded_for_low_fps() -> None:
    assert health(snap(fps=0.0, uptime_s=1.0))["status"] == "ok"


def test_missing_sensors_read_as_null_never_an_error(tmp_path: Path) -> None:
    probe = SystemProbe(root=tmp_path, state_dir=tmp_path, run=lambda argv: None)
    assert probe.cpu_temp_c() is None and probe.throttled() is None
    assert health(system={**SYSTEM, "cpu_temp_c": None, "throttled": None})["status"] == "ok"


def test_pi_sensors_from_a_fake_sys_tree(tmp_path: Path) -> None:
    zone = tmp_path / "sys/class/thermal/thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "temp").write_text("61234\n")
    hw = tmp_path / "sys/class/hwmon/hwmon0"
    hw.mkdir(parents=True)
    (hw / "name").write_text("rpi_volt\n")
    (hw / "in0_lcrit_alarm").write_text("1\n")
    probe = SystemProbe(root=tmp_path, state_dir=tmp_path, run=lambda argv: None)
    assert probe.cpu_temp_c() == 61.2
    assert probe.throttled() == 1  # under-voltage from hwmon when vcgencmd is missing
    vc = SystemProbe(root=tmp_path, state_dir=tmp_path,
                     run=lambda argv: "throttled=0x50000\n")
    assert vc.throttled() == 0x50000
    assert throttle_reasons(0x50000) == ["under-voltage has occurred", "throttling has occurred"]


class SmallProbe(SystemProbe):
    """This machine's sensors, but a small process: the test process's own size (which
    grows with every test before this one) must not decide the health it expects."""

    def rss_mb(self) -> float:
        return 60.0

    def disk_free_mb(self) -> float:
        return 10_000.0  # nor the machine's free disk


def test_telemetry_publishes_metrics_with_every_contract_key() -> None:
    published: list[tuple[str, Any]] = []
    t = Telemetry(snapshot=lambda: {**snap(), "frames_total": 9, "frames_dropped": 1,
                                    "recoveries_total": 0, "commands_total": 2,
                                    "commands_rejected_total": 1, "commands_dropped_total": 0,
                                    "display_errors_total": 0, "events_suppressed_total": 0},
                  mqtt_status=lambda: MQTT_OK, publish=lambda n, b: published.append((n, b)),
                  notify=lambda m: published.append(("notify", m)), cfg=lambda: CFG,
                  config_status=ConfigStatus(), probe=SmallProbe(run=lambda argv: None),
                  display_name="virtual", boot_time="2026-01-01T00:00:00Z")
    t.publish_now()
    names = [n for n, _ in published]
    assert names == ["health", "notify", "metrics"]
    metrics = published[2][1]
    for key in ("fps", "target_fps", "frame_ms_p50", "frame_ms_p99", "frames_total",
                "frames_dropped", "animation_errors_total", "recoveries_total",
                "commands_total", "commands_rejected_total", "cpu_percent", "rss_mb",
                "cpu_temp_c", "throttled", "uptime_s", "boot_time"):
        assert key in metrics
    assert published[1][1] == "STATUS=ok"


def test_engine_events_are_logged_with_their_fields_and_frames_are_silent() -> None:
    structlog.reset_defaults()
    settings = validate({"device_id": "logs"})
    eng = Engine(settings, VirtualDisplay(8, 8), REGISTRY, clock=FakeClock())
    with capture_logs() as logs:
        eng.start()
        eng.run(threading.Event(), max_frames=300)
    events = [e["event"] for e in logs]
    # 300 frames and nothing logged per frame: only start and stop.
    assert events == ["engine_started", "engine_stopped"]
    assert logs[0]["width"] == 8 and logs[0]["animation"] == "plasma"
    assert logs[1]["frames_total"] == 300


def test_each_process_writes_only_its_own_log_files(tmp_path: Path) -> None:
    import json
    import logging

    from appliance import logs

    try:
        logs.configure("info", "json", tmp_path, "engine")
        structlog.get_logger("engine").info("animation_started", animation="fire")
        structlog.get_logger("mqtt").warning("mqtt_disconnected", reason="gone")
        logging.getLogger("paho.client").warning("paho says hi")
        for h in logging.getLogger().handlers:
            h.flush()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["engine.log", "mqtt.log"]
        engine = [json.loads(line) for line in (tmp_path / "engine.log").read_text().splitlines()]
        mqtt = [json.loads(line) for line in (tmp_path / "mqtt.log").read_text().splitlines()]
        assert [e["event"] for e in engine] == ["animation_started"]
        assert engine[0]["animation"] == "fire" and engine[0]["component"] == "engine"
        assert [e["event"] for e in mqtt] == ["mqtt_disconnected", "paho says hi"]
    finally:
        for h in list(logging.getLogger().handlers):
            logging.getLogger().removeHandler(h)
            h.close()
        structlog.reset_defaults()


class CountingProbe(SmallProbe):
    """Counts the reads of each sensor."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.reads: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.reads[name] = self.reads.get(name, 0) + 1

    def cpu_temp_c(self) -> float:
        self._count("cpu_temp_c")
        return 40.0 + self.reads["cpu_temp_c"]  # a new value at each read

    def throttled(self) -> int:
        self._count("throttled")
        return 0

    def disk_free_mb(self) -> float:
        self._count("disk_free_mb")
        return super().disk_free_mb()

    def rss_mb(self) -> float:
        self._count("rss_mb")
        return super().rss_mb()


def test_slow_sensors_are_read_at_most_every_5_s_the_fast_ones_each_pass() -> None:
    now = [0.0]
    probe = CountingProbe(run=lambda argv: None)
    t = Telemetry(snapshot=snap, mqtt_status=lambda: MQTT_OK, publish=lambda n, b: None,
                  notify=lambda m: None, cfg=lambda: CFG, config_status=ConfigStatus(),
                  probe=probe, display_name="virtual", boot_time="t", clock=lambda: now[0])
    temps = []
    for _ in range(21):  # a pass a second for 20 s: slow reads at 0, 5, 10, 15, 20 s
        system = t.system()
        assert list(system) == ["cpu_temp_c", "throttled", "cpu_percent", "rss_mb",
                                "disk_free_mb"]
        temps.append(system["cpu_temp_c"])
        now[0] += 1.0
    assert probe.reads == {"cpu_temp_c": 5, "throttled": 5, "disk_free_mb": 5, "rss_mb": 21}
    assert temps[:6] == [41.0] * 5 + [42.0]  # the cached reading until the next one
    now[0] = 24.9  # 4.9 s after the last slow read (at 20 s): still cached
    t.system()
    assert probe.reads["cpu_temp_c"] == 5
    now[0] = 25.0
    t.system()
    assert probe.reads["cpu_temp_c"] == 6


COUNTERS = ("frames_total", "frames_dropped", "recoveries_total", "commands_total",
            "commands_rejected_total", "commands_dropped_total", "display_errors_total",
            "events_suppressed_total")


def test_a_later_snapshot_never_overtakes_an_earlier_one() -> None:
    """publish_now (the MQTT thread, on connect) and the telemetry thread can run at once;
    whichever takes its snapshot first publishes first, so uptime_s never goes back."""
    entered, release = threading.Event(), threading.Event()
    uptimes = iter([0.0, 0.1])

    def slow_first_snapshot() -> dict[str, Any]:
        up = next(uptimes)
        if up == 0.0:  # the first caller is held after its snapshot, before it publishes
            entered.set()
            assert release.wait(10)
        return {**snap(), "uptime_s": up, **dict.fromkeys(COUNTERS, 0)}

    published: list[float] = []
    t = Telemetry(snapshot=slow_first_snapshot, mqtt_status=lambda: MQTT_OK,
                  publish=lambda n, b: published.append(b["uptime_s"]) if n == "metrics" else None,
                  notify=lambda m: None, cfg=lambda: CFG, config_status=ConfigStatus(),
                  probe=SmallProbe(run=lambda argv: None), display_name="virtual",
                  boot_time="t")
    first = threading.Thread(target=t.publish_now)
    first.start()
    assert entered.wait(10)
    second = threading.Thread(target=t.publish_now)
    second.start()
    second.join(0.5)  # unguarded, the second caller publishes its later snapshot now
    release.set()
    first.join(10)
    second.join(10)
    assert published == [0.0, 0.1]


def test_the_heap_is_trimmed_on_its_interval_off_the_render_thread() -> None:
    now = [0.0]
    trims: list[float] = []

    def trim() -> bool:
        trims.append(now[0])
        return True

    def telemetry(every_s: float) -> Telemetry:
        return Telemetry(snapshot=lambda: {**snap(), **dict.fromkeys(COUNTERS, 0)},
                         mqtt_status=lambda: MQTT_OK, publish=lambda n, b: None,
                         notify=lambda m: None, cfg=lambda: CFG, config_status=ConfigStatus(),
                         probe=SmallProbe(run=lambda argv: None), display_name="virtual",
                         boot_time="t", clock=lambda: now[0],
                         trim=trim, trim_every_s=every_s)

    t = telemetry(60.0)
    for second in range(200):  # a pass a second, as the thread runs
        now[0] = float(second)
        t._trim_when_due(now[0])
    assert trims == [60.0, 120.0, 180.0]
    trims.clear()
    off = telemetry(0.0)
    for second in range(200):
        off._trim_when_due(float(second))
    assert trims == []
    # The publishing thread is what calls it (a pass a second: the second pass trims).
    now[0] = 0.0
    running = telemetry(0.5)
    running.start()
    try:
        def later() -> bool:
            now[0] += 1.0  # the fake clock moves on; the thread's passes see it
            return bool(trims)

        wait_until(later, 10, 0.05, "the telemetry thread's trim")
    finally:
        running.stop()


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads RSS from /proc")
def test_trim_heap_gives_freed_pages_back_to_the_kernel() -> None:
    from appliance.system import trim_heap

    def rss_mb() -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 1_048_576

    # 80 MB of 8 kB blocks (glibc's heap, not Python's small-object arenas); keeping every
    # tenth one pins the freed space between them, where glibc never trims it by itself.
    blocks = [bytearray(8192) for _ in range(10_000)]
    kept = blocks[::10]
    del blocks
    before = rss_mb()
    assert trim_heap()
    assert before - rss_mb() > 40, (before, rss_mb())
    assert len(kept) == 1000
