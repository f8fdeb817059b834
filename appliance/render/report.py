"""What the render loop reports: the retained ``state`` document and the metrics snapshot.

Owns the shape of both (the one place their keys are listed). Reads the render
parts; changes nothing. Knows nothing of MQTT or telemetry's thresholds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from animations.base import params_to_json
from appliance.render.panel import Panel
from appliance.render.supervisor import Supervisor
from appliance.wire.replies import LightState, LiveState

if TYPE_CHECKING:
    from appliance.render.engine import Engine


#: ``state.live`` when no stream shows (and no live layer is given).
NOT_LIVE: LiveState = {"active": False, "protocol": None, "source": None, "fps": 0,
                       "mode": "auto"}


def light_state(sup: Supervisor, panel: Panel, version: int,
                notification: str | None = None,
                looks: tuple[str | None, dict[str, Any] | None] = (None, None),
                live: LiveState | None = None) -> LightState:
    """Return the Home Assistant JSON-light state with LightBox extras (``notification``:
    the id of the one showing; ``looks``: the preset and the playlist playing; ``live``:
    the live layer's ``state.live``)."""
    req = sup.pending or sup.requested
    out: LightState = {
        "state": "ON" if panel.power_on else "OFF",
        "brightness": panel.brightness_pct,
        "effect": req.name if req else None,
        "color_mode": "brightness",
        "params": params_to_json(type(req.instance), req.params) if req else {},
        "version": version,
        # Wall-clock time at the animation's t == 0: equal on every box started
        # with the same start_at, so a fleet shows the same frame phase.
        "started_at": round(req.instance.epoch_at_t0, 3) if req else None,
        "preset": looks[0],
        "playlist": looks[1],
        "live": live if live is not None else NOT_LIVE.copy(),
        "notification": notification,
    }
    if panel.brightness_max is not None:
        out["brightness_max"] = panel.brightness_max  # a schedule's cap (section 8)
    if sup.showing_fallback and sup.fallback is not None:
        out["active"] = sup.fallback.name
        out["fallback_reason"] = sup.fallback_reason
    return out


def snapshot(eng: Engine, now: float) -> dict[str, Any]:
    """Return a consistent-enough copy of the loop's figures for telemetry."""
    c, st, sup, ds = eng.counters, eng.stats, eng.supervisor, eng.panel.state
    return {
        **st.summary(now),
        "target_fps": 0 if eng.uncapped else eng.settings.display.fps,
        "frames_total": st.frames_total,
        "frames_dropped": st.frames_dropped,
        "animation_errors_total": c.animation_errors_total,
        "recoveries_total": c.recoveries_total,
        "commands_total": c.commands_total,
        "commands_rejected_total": c.commands_rejected_total,
        "commands_dropped_total": eng.queue.dropped,
        "display_errors_total": c.display_errors_total,
        "events_suppressed_total": eng.events.suppressed_total,
        "fallbacks_total": c.fallbacks_total,
        "fallback_failures_total": c.fallback_failures_total,
        "quarantines_total": c.quarantines_total,
        "animation_hangs_total": c.animation_hangs_total,
        "animation_late_frames_total": c.animation_late_frames_total,
        "animation_leaks_total": c.animation_leaks_total,
        "animation_threads_abandoned": sup.sandbox.live_abandoned(),
        "frame_gap_ms_max": round(st.gap_max_s * 1000.0, 1),
        "frame_gap_ms_max_recent": st.recent_gap_ms(),
        "frame_gaps_over_100ms_total": st.gaps_over_100ms,
        "events_dropped_total": eng.events.dropped_total,
        "since_last_frame_s": round(now - eng.last_frame_mono, 3),
        "uptime_s": round(now - eng.started_mono, 1),
        "showing_fallback": sup.showing_fallback,
        "fallback_reason": sup.fallback_reason,
        "quarantined": sup.quarantined(now),
        "display_ok": ds.ok,
        "display_brightness_pct": eng.panel.display_level,
        "display_error": ds.last_error,
        "display_failures": ds.failures,
        "display_retry_in_s": eng.panel.retry_in_s(now),
        **eng.live_input.figures(),
    }
