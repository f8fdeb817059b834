"""Health and metrics: what the engine says about itself, computed off the render loop.

Owns the health checks (render, display, mqtt, config, system), the metrics
document (from ``appliance.system``'s readings) and the thread that publishes
them. Reads the engine only through ``snapshot()``.
Knows nothing of paho or Flask.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from appliance.settings import HealthSettings
from appliance.system import SystemProbe, throttle_reasons, trim_heap, trim_heap_interval_s

log = structlog.get_logger("telemetry")

OK, DEGRADED, FAILED = "ok", "degraded", "failed"
#: Engine snapshot figures also published on ``metrics`` (fault counters, frame gaps).
RELIABILITY_METRICS = (
    "fallbacks_total", "fallback_failures_total", "quarantines_total",
    "animation_hangs_total", "animation_late_frames_total", "animation_leaks_total",
    "animation_threads_abandoned", "frame_gap_ms_max", "frame_gap_ms_max_recent",
    "frame_gaps_over_100ms_total", "events_dropped_total", "mqtt_publish_dropped_total",
    "mqtt_connect_attempts_total", "control_dropped_total", "tracemalloc_mb",
    "state_writes_total",
    "display_brightness_pct",  # what the display is set to (a schedule's cap shows here)
    # Realtime input (contract section 9; appliance.render.live_layer).
    "live_frames_total", "live_packets_total", "live_packets_invalid_total",
    "live_frames_shown_total", "live_fps",
)
_RANK = {OK: 0, DEGRADED: 1, FAILED: 2}
#: Seconds between readings of the slow sensors (temperature, throttled word, free disk);
#: each pass in between reuses the last reading. On a Pi the throttled word is a
#: ``vcgencmd`` run, which costs more than the rest of the pass together.
SLOW_SENSORS_S = 5.0

def worst(statuses: list[str]) -> str:
    """Return the worst of several check statuses."""
    return max(statuses, key=lambda s: _RANK[s], default=OK)


def iso_now() -> str:
    """Return the current UTC time in ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class ConfigStatus:
    """Where the running settings came from."""

    source: str = "file"
    error: str | None = None
    last_change: str | None = None
    restart_required: list[str] = field(default_factory=list)


#: One health check's verdict: its status, the reasons for it, and the facts it reports.
Verdict = tuple[str, list[str], dict[str, Any]]


def evaluate(
    snap: dict[str, Any],
    mqtt: dict[str, Any],
    config: ConfigStatus,
    system: dict[str, Any],
    cfg: HealthSettings,
    display_name: str,
) -> dict[str, Any]:
    """Return the health document's ``status``, ``reasons`` and ``checks``."""
    checks: dict[str, dict[str, Any]] = {}
    reasons: list[str] = []
    verdicts = (
        ("render", _render_check(snap, cfg)),
        ("display", _display_check(snap, display_name)),
        ("mqtt", _mqtt_check(mqtt)),
        ("config", _config_check(config)),
        ("system", _system_check(system, cfg)),
    )
    for name, (status, why, facts) in verdicts:
        checks[name] = {"status": status, **facts}
        if why:
            checks[name]["reasons"] = why
            reasons.extend(f"{name}: {w}" for w in why)
    return {
        "status": worst([c["status"] for c in checks.values()]),
        "reasons": reasons,
        "checks": checks,
    }


def _render_check(snap: dict[str, Any], cfg: HealthSettings) -> Verdict:
    why: list[str] = []
    status = OK
    target = snap["target_fps"]
    if snap["since_last_frame_s"] > cfg.stall_s:
        status = FAILED
        why.append(f"render loop stalled for {snap['since_last_frame_s']:.1f} s")
    elif target and snap["uptime_s"] > 3 and snap["fps"] < target * cfg.fps_degraded_ratio:
        status = DEGRADED
        why.append(f"{snap['fps']:.1f} fps is below {cfg.fps_degraded_ratio:.0%} of {target}")
    if snap["showing_fallback"]:
        status = worst([status, DEGRADED])
        why.append(f"fallback animation active ({snap['fallback_reason']})")
    if snap["quarantined"]:
        status = worst([status, DEGRADED])
        why.append("quarantined: " + ", ".join(snap["quarantined"]))
    if snap.get("live_error"):  # a realtime receiver that could not listen
        status = worst([status, DEGRADED])
        why.append(f"realtime input: {snap['live_error']}")
    return status, why, {
        "fps": snap["fps"], "target_fps": target, "frame_ms_p99": snap["frame_ms_p99"],
        "animation_errors": snap["animation_errors_total"],
        "fallback": snap["showing_fallback"], "quarantined": snap["quarantined"]}


def _display_check(snap: dict[str, Any], display_name: str) -> Verdict:
    if snap["display_ok"]:
        return OK, [], {"driver": display_name, "failures": 0}
    return FAILED, [
        f"{display_name} driver failed: {snap['display_error']}; retrying in "
        f"{snap['display_retry_in_s']} s"], {
        "driver": display_name, "error": snap["display_error"],
        "failures": snap["display_failures"], "retry_in_s": snap["display_retry_in_s"]}


def _mqtt_check(mqtt: dict[str, Any]) -> Verdict:
    status = OK if mqtt.get("connected") else DEGRADED
    why = [] if mqtt.get("connected") else [
        f"broker not connected ({mqtt.get('last_error') or 'connecting'})"]
    if mqtt.get("auth_failed"):
        # Needs a person: the credentials will not fix themselves.
        status = FAILED
        why = [f"broker refused the credentials ({mqtt.get('last_error')}): check "
               "mqtt.username and mqtt.password_file"]
    return status, why, dict(mqtt)


def _config_check(config: ConfigStatus) -> Verdict:
    why = []
    status = OK
    if config.source != "file":
        status = DEGRADED
        why.append(f"settings file invalid, running from {config.source}: {config.error}")
    if config.restart_required:
        status = worst([status, DEGRADED])
        why.append("restart needed for: " + ", ".join(config.restart_required))
    return status, why, {"source": config.source, "last_change": config.last_change}


def _system_check(system: dict[str, Any], cfg: HealthSettings) -> Verdict:
    why = []
    status = OK
    temp = system.get("cpu_temp_c")
    if temp is not None and temp >= cfg.temp_failed_c:
        status = FAILED
        why.append(f"CPU at {temp} C (limit {cfg.temp_failed_c} C)")
    elif temp is not None and temp >= cfg.temp_degraded_c:
        status = DEGRADED
        why.append(f"CPU at {temp} C (warning at {cfg.temp_degraded_c} C)")
    degraded: list[str] = []
    thr = system.get("throttled")
    if thr and thr & 0xF:
        degraded.append("; ".join(throttle_reasons(thr & 0xF)))
    rss = system.get("rss_mb") or 0.0
    if rss >= cfg.rss_degraded_mb:
        degraded.append(f"memory {rss} MB of a {cfg.rss_limit_mb:.0f} MB limit")
    cpu = system.get("cpu_percent") or 0.0
    if cpu >= cfg.cpu_quota_pct * 0.9:
        degraded.append(f"CPU {cpu}% near the {cfg.cpu_quota_pct:.0f}% quota")
    disk = system.get("disk_free_mb")
    if disk is not None and disk < cfg.disk_degraded_mb:
        degraded.append(f"only {disk} MB free for state")
    if degraded:
        status = worst([status, DEGRADED])
        why.extend(degraded)
    return status, why, dict(system)


class Telemetry:
    """Publishes metrics and health on their intervals and health on every status change."""

    def __init__(
        self,
        snapshot: Callable[[], dict[str, Any]],
        mqtt_status: Callable[[], dict[str, Any]],
        publish: Callable[[str, Any], None],
        notify: Callable[[str], None],
        cfg: Callable[[], HealthSettings],
        config_status: ConfigStatus,
        probe: SystemProbe,
        display_name: str,
        boot_time: str,
        clock: Callable[[], float] = time.monotonic,
        trim: Callable[[], bool] = trim_heap,
        trim_every_s: float | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.mqtt_status = mqtt_status
        self.publish = publish
        self.notify = notify
        self.cfg = cfg
        self.config_status = config_status
        self.probe = probe
        self.display_name = display_name
        self.boot_time = boot_time
        self.last_health: dict[str, Any] | None = None
        self.last_metrics: dict[str, Any] | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._last_summary_log = 0.0
        self.clock = clock
        self._slow: tuple[float | None, int | None, float | None] = (None, None, None)
        self._slow_at: float | None = None
        # The MQTT thread (publish_now on connect) and the telemetry thread both take a
        # snapshot and publish it: one at a time, or a later snapshot can overtake an
        # earlier one and a subscriber sees uptime_s and the counters go backwards.
        self._publishing = threading.Lock()
        #: The heap trim (off the render thread, here): 0 or less turns it off.
        self.trim = trim
        self.trim_every_s = trim_heap_interval_s() if trim_every_s is None else trim_every_s
        self._trimmed_at: float | None = None

    def system(self) -> dict[str, Any]:
        """Read the system sensors: the slow ones at most every SLOW_SENSORS_S."""
        now = self.clock()
        if self._slow_at is None or now - self._slow_at >= SLOW_SENSORS_S:
            self._slow_at = now
            self._slow = (self.probe.cpu_temp_c(), self.probe.throttled(),
                          self.probe.disk_free_mb())
        temp, throttled, disk_free = self._slow
        return {
            "cpu_temp_c": temp,
            "throttled": throttled,
            "cpu_percent": self.probe.cpu_percent(),
            "rss_mb": self.probe.rss_mb(),
            "disk_free_mb": disk_free,
        }

    def metrics(self, snap: dict[str, Any], system: dict[str, Any]) -> dict[str, Any]:
        """Return the flat metrics document."""
        return {
            "fps": snap["fps"],
            "target_fps": snap["target_fps"],
            "frame_ms_p50": snap["frame_ms_p50"],
            "frame_ms_p99": snap["frame_ms_p99"],
            "frames_total": snap["frames_total"],
            "frames_dropped": snap["frames_dropped"],
            "animation_errors_total": snap["animation_errors_total"],
            "recoveries_total": snap["recoveries_total"],
            "commands_total": snap["commands_total"],
            "commands_rejected_total": snap["commands_rejected_total"],
            "commands_dropped_total": snap["commands_dropped_total"],
            "display_errors_total": snap["display_errors_total"],
            "events_suppressed_total": snap["events_suppressed_total"],
            # Reliability counters (see docs/runbook.md); .get keeps fakes in tests simple.
            **{k: snap.get(k) for k in RELIABILITY_METRICS if k in snap},
            "cpu_percent": system["cpu_percent"],
            "rss_mb": system["rss_mb"],
            "cpu_temp_c": system["cpu_temp_c"],
            "throttled": system["throttled"],
            "uptime_s": snap["uptime_s"],
            "boot_time": self.boot_time,
        }

    def health(self, snap: dict[str, Any], system: dict[str, Any]) -> dict[str, Any]:
        """Return the health document."""
        body = evaluate(snap, self.mqtt_status(), self.config_status, system, self.cfg(),
                        self.display_name)
        body["ts"] = iso_now()
        body["uptime_s"] = snap["uptime_s"]
        return body

    def start(self) -> None:
        """Start the publishing thread."""
        self._thread = threading.Thread(target=self._run, name="telemetry", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the publishing thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def publish_now(self) -> None:
        """Compute and publish health and metrics immediately."""
        with self._publishing:
            snap = self.snapshot()
            system = self.system()
            self._publish_health(self.health(snap, system))
            self._publish_metrics(self.metrics(snap, system))

    def _publish_health(self, health: dict[str, Any]) -> None:
        prev = self.last_health
        self.last_health = health
        self.publish("health", health)
        summary = health["status"]
        if health["reasons"]:
            summary += ": " + "; ".join(health["reasons"])
        self.notify(f"STATUS={summary[:200]}")
        if prev is None or prev["status"] != health["status"]:
            log.info("health_changed", status=health["status"], reasons=health["reasons"],
                     previous=prev["status"] if prev else None)

    def _publish_metrics(self, metrics: dict[str, Any]) -> None:
        self.last_metrics = metrics
        self.publish("metrics", metrics)

    def _run(self) -> None:
        next_due = [0.0, 0.0]  # health, metrics
        while not self._stop.wait(1.0 if next_due[0] else 0.0):
            try:
                with self._publishing:
                    self._pass(next_due)
                self._trim_when_due(self.clock())
            except Exception as exc:  # telemetry must never take the engine down
                log.error("telemetry_failed", error=f"{type(exc).__name__}: {exc}")

    def _pass(self, next_due: list[float]) -> None:
        """One pass of the thread: publish what is due (next_due is updated in place)."""
        now = self.clock()
        cfg = self.cfg()
        snap = self.snapshot()
        system = self.system()
        health = self.health(snap, system)
        changed = self.last_health is None or _statuses(health) != _statuses(self.last_health)
        if changed or now >= next_due[0]:
            self._publish_health(health)
            next_due[0] = now + cfg.interval_s
        if now >= next_due[1]:
            self._publish_metrics(self.metrics(snap, system))
            next_due[1] = now + cfg.metrics_interval_s
        if now - self._last_summary_log >= 60.0:
            self._last_summary_log = now
            log.info("performance_summary", fps=snap["fps"],
                     frame_ms_p99=snap["frame_ms_p99"], cpu_percent=system["cpu_percent"],
                     rss_mb=system["rss_mb"], frames_total=snap["frames_total"],
                     frames_dropped=snap["frames_dropped"])

    def _trim_when_due(self, now: float) -> None:
        """Trim the heap every ``trim_every_s`` (the first pass only starts the count)."""
        if self.trim_every_s <= 0:
            return
        if self._trimmed_at is None:
            self._trimmed_at = now
        elif now - self._trimmed_at >= self.trim_every_s:
            self._trimmed_at = now
            started = time.perf_counter()
            released = self.trim()
            log.debug("heap_trimmed", released=released,
                      ms=round((time.perf_counter() - started) * 1000, 2))


def _statuses(health: dict[str, Any]) -> tuple[str, ...]:
    """The overall and per-check statuses: what counts as a change of health."""
    return (health["status"], *(c["status"] for c in health["checks"].values()))
