"""The read side of the API: health, the retained topics and the live event stream.

Owns ``GET /api/health`` (the bridge's checks over the link and the engine's
own health), ``GET /api/<state|animations|metrics|info>`` (the link's cache of
retained topics, with ``X-Engine-Status``) and ``GET /api/events`` (Server-Sent
Events: a snapshot of the retained topics, then every message). Holds no
display state and sends no commands. Knows nothing of paho or the render loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, request

from appliance.wire import topics
from bridge.deps import Limits
from bridge.errors import ApiError
from bridge.events import HubFull, format_event
from bridge.web import cached, deps, json_response, redact


def _parse_ts(ts: Any) -> float | None:
    if not isinstance(ts, str):
        return None
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def health_age_s() -> float | None:
    """Seconds since the engine published its health (by its own timestamp)."""
    c = deps().link.get("health")
    if c is None:
        return None
    ts = _parse_ts(c.value.get("ts")) if isinstance(c.value, dict) else None
    received_age = time.monotonic() - c.received_mono
    if ts is None:
        return received_age
    return max(0.0, time.time() - ts)


def health_interval_s() -> float:
    """The engine's health publish interval (from its config, else ours)."""
    cfg = deps().link.value("config")
    try:
        return float(cfg["settings"]["health"]["interval_s"])
    except (TypeError, KeyError, ValueError):
        return deps().settings.health.interval_s


def health_report() -> tuple[int, dict[str, Any]]:
    """Evaluate the bridge's checks; return (HTTP status, body)."""
    d = deps()
    link = d.link
    checks: dict[str, dict[str, Any]] = {}
    checks["mqtt"] = {"ok": link.connected, "last_error": link.last_error}
    status = link.engine_status()
    checks["engine_online"] = {"ok": status == "online", "status": status}
    health = link.value("health")
    age = health_age_s()
    max_age = 3 * health_interval_s()
    checks["health_fresh"] = {"ok": age is not None and age < max_age,
                              "age_s": None if age is None else round(age, 2),
                              "max_age_s": max_age}
    engine_status = health.get("status") if isinstance(health, dict) else None
    checks["health_not_failed"] = {"ok": engine_status in ("ok", "degraded"),
                                   "status": engine_status}
    failed = [name for name, c in checks.items() if not c["ok"]]
    body = {
        "status": "ok" if not failed else "unavailable",
        "failed": failed,
        "checks": checks,
        "engine": health if isinstance(health, dict) else None,
        "bridge": {"version": d.version, "sse_clients": d.hub.clients,
                   "uptime_s": round(time.time() - d.metrics.started, 1)},
    }
    return (200 if not failed else 503), body


def health() -> Response:
    """``GET /api/health``: 200 when every check passes, else 503 with Retry-After."""
    status, body = health_report()
    return json_response(body, status, {"Retry-After": "5"} if status == 503 else None)


def retained_view(name: str) -> Callable[[], Response]:
    """Return the view of ``GET /api/<name>``: the cached retained topic."""
    def view() -> Response:
        resp = json_response(cached(name))
        resp.headers["X-Engine-Status"] = deps().link.engine_status()
        return resp

    view.__name__ = f"get_{name}"
    view.__qualname__ = f"retained_view.get_{name}"
    return view


def events() -> Response:
    """``GET /api/events``: the SSE stream, opened with a snapshot of the retained topics."""
    d = deps()
    preview = request.args.get("preview", "").lower() in ("1", "true", "yes")
    try:
        sub = d.hub.subscribe(preview)
    except HubFull as exc:
        d.metrics.sse_refused.inc()
        raise ApiError(503, "too_many_streams", str(exc),
                       headers={"Retry-After": "10"}) from None
    initial = [format_event("status", d.link.engine_status())]
    for name in topics.SSE_SNAPSHOT:
        value = d.link.value(name)
        if value is not None:
            initial.append(format_event(name, redact(value) if name == "config" else value))
    gone = request.environ.get("waitress.client_disconnected")

    def tick() -> None:
        if preview:
            d.link.want_preview()
        if gone is not None and gone():
            sub.close()

    return Response(d.hub.stream(sub, initial, tick), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache, no-store",
                             "X-Accel-Buffering": "no"})


def blueprint(limits: Limits) -> Blueprint:
    """Return the read routes, each under the reads limit."""
    bp = Blueprint("api_read", __name__)
    bp.add_url_rule("/api/health", endpoint="health", view_func=limits.reads(health),
                    methods=["GET"])
    for name in topics.HTTP_READABLE:
        bp.add_url_rule(f"/api/{name}", endpoint=f"get_{name}",
                        view_func=limits.reads(retained_view(name)), methods=["GET"])
    bp.add_url_rule("/api/events", endpoint="events", view_func=limits.reads(events),
                    methods=["GET"])
    return bp
