"""The HTTP API blueprint: contract section 4 mapped onto the engine's MQTT topics.

Owns request validation at the edge (JSON only, size caps, the same wire
models the engine uses), the mapping of engine replies onto HTTP statuses,
health evaluation for ``/api/health``, config backup/restore, image uploads
and the Server-Sent Events endpoint. Holds no display state: reads come from
the link's cache of retained topics, writes are MQTT 5 requests. Knows nothing
of the render loop or the display.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from flask import Blueprint, Response, current_app, request

from appliance import settings as settings_mod
from appliance.content.images import ImageError, UnknownImageError
from appliance.settings import form as settings_schema
from appliance.wire import jsonsafe, topics
from appliance.wire.commands import CommandError, parse_command
from bridge.deps import Deps, Limits
from bridge.errors import ApiError, from_engine
from bridge.events import HubFull, format_event
from bridge.models import (
    AnimationBody,
    BrightnessBody,
    IdentifyBody,
    LoginBody,
    PowerBody,
    validate_body,
)
from bridge.ports import EngineOffline, EngineTimeout

log = structlog.get_logger("bridge.api")

JSON_MAX_BYTES = 64 * 1024
RESTORE_MAX_BYTES = 256 * 1024
IMAGE_ERROR_STATUS = {"too_large": 413, "unsupported_media_type": 415, "images_full": 507,
                      "storage_full": 507}


def deps() -> Deps:
    """The app's injected dependencies."""
    d: Deps = current_app.extensions["lightbox"]
    return d


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> Response:
    """Return compact JSON (never with a non-finite number)."""
    return Response(jsonsafe.dumps(body), status=status, headers=headers,
                    mimetype="application/json")


def read_json(max_bytes: int = JSON_MAX_BYTES) -> Any:
    """Return the decoded JSON body, refusing other content types and oversize bodies.

    Decoded by the bounded decoder: too deep, odd numbers or duplicate keys are ``bad_json``.
    """
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type",
                       "send a JSON body with Content-Type: application/json")
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiError(413, "too_large", f"request body is larger than {max_bytes} bytes")
    raw = request.get_data(cache=False)
    if len(raw) > max_bytes:
        raise ApiError(413, "too_large", f"request body is larger than {max_bytes} bytes")
    try:
        return jsonsafe.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "bad_json", "request body is not UTF-8 text") from None
    except jsonsafe.JSONError as exc:
        details = {"field": exc.field} if exc.field is not None else None
        raise ApiError(400, "bad_json", f"request body refused: {exc.message}"[:300], details,
                       field=exc.field) from None


def cached(name: str) -> Any:
    """Return a retained topic's cached value or 503 when it was never seen."""
    value = deps().link.value(name)
    if value is None:
        raise ApiError(503, "no_data", f"the engine has not published {name} yet",
                       headers={"Retry-After": "2"})
    return value


def send_command(action: str, body: Any) -> Response:
    """Validate like the engine, send ``cmd/<action>``, map the reply onto HTTP."""
    d = deps()
    raw = jsonsafe.dumps(body).encode()
    try:
        parse_command(action, raw)
    except CommandError as err:
        raise from_engine(err.as_dict()) from None
    started = time.perf_counter()
    try:
        reply = d.link.request(action, body)
    except EngineOffline as exc:
        d.metrics.command_errors.labels(action, "offline").inc()
        raise ApiError(503, "engine_offline", str(exc), headers={"Retry-After": "5"}) from None
    except EngineTimeout as exc:
        d.metrics.command_errors.labels(action, "timeout").inc()
        raise ApiError(504, "engine_timeout", str(exc)) from None
    finally:
        d.metrics.command_seconds.labels(action).observe(time.perf_counter() - started)
    if reply.get("ok") is True:
        return json_response(reply)
    d.metrics.command_errors.labels(action, "rejected").inc()
    raise from_engine(reply.get("error"))


#: The one redaction of secrets (appliance.settings.trust); the bridge adds none of its own.
redact = settings_mod.redact


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


def panel_size() -> tuple[int, int]:
    """The panel's (width, height): from the engine's info, else from settings."""
    d = deps()
    info = d.link.value("info")
    try:
        return int(info["display"]["width"]), int(info["display"]["height"])
    except (TypeError, KeyError, ValueError):
        return d.settings.display.width, d.settings.display.height


def make_api(limits: Limits) -> Blueprint:
    """Return the /api blueprint with its rate limits applied."""
    bp = Blueprint("api", __name__)
    reads, writes, uploads, login = limits.reads, limits.writes, limits.uploads, limits.login

    # ------------------------------------------------------------------ reads
    @bp.get("/api/health")
    @reads
    def health() -> Response:
        status, body = health_report()
        return json_response(body, status, {"Retry-After": "5"} if status == 503 else None)

    def retained(name: str) -> Callable[[], Response]:
        def view() -> Response:
            resp = json_response(cached(name))
            resp.headers["X-Engine-Status"] = deps().link.engine_status()
            return resp

        view.__name__ = f"get_{name}"
        return view

    for name in topics.HTTP_READABLE:
        bp.add_url_rule(f"/api/{name}", endpoint=f"get_{name}", view_func=reads(retained(name)),
                        methods=["GET"])

    # ------------------------------------------------------------------ commands
    @bp.post("/api/animation")
    @writes
    def animation() -> Response:
        body = validate_body(AnimationBody, read_json())
        return send_command("animation", body.model_dump(exclude_none=True))

    @bp.post("/api/brightness")
    @writes
    def brightness() -> Response:
        return send_command("brightness", validate_body(BrightnessBody, read_json()).model_dump())

    @bp.post("/api/power")
    @writes
    def power() -> Response:
        return send_command("power", validate_body(PowerBody, read_json()).model_dump())

    @bp.post("/api/params")
    @writes
    def params() -> Response:
        body = read_json()
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_payload", "send a JSON object of parameters")
        return send_command("params", body)

    @bp.post("/api/identify")
    @writes
    def identify() -> Response:
        body = validate_body(IdentifyBody, read_json() if request.content_length else {})
        return send_command("identify", body.model_dump())

    # ------------------------------------------------------------------ config
    @bp.get("/api/config")
    @reads
    def get_config() -> Response:
        return json_response(redact(cached("config")))

    @bp.patch("/api/config")
    @writes
    def patch_config() -> Response:
        body = read_json()
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_payload", "send a JSON object of settings to change")
        if "replace" in body:
            raise ApiError(400, "unknown_field",
                           "'replace' is not a setting; use POST /api/config/restore",
                           {"field": "replace"}, field="replace")
        current = cached("config").get("settings")
        if isinstance(current, dict):
            proposed = settings_mod.merge(current, body)
            _refuse_local_only(settings_mod.local_only_changes(current, proposed))
            _validate_settings(proposed)
        return send_command("config", body)

    @bp.get("/api/config/backup")
    @reads
    def backup() -> Response:
        cfg = cached("config")
        data = (jsonsafe.dumps(redact(cfg.get("settings") or {}), indent=2) + "\n").encode()
        device = deps().settings.device_id
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        return Response(data, mimetype="application/json", headers={
            "Content-Disposition": f'attachment; filename="lightbox-{device}-{stamp}.json"'})

    @bp.post("/api/config/restore")
    @writes
    def restore() -> Response:
        body = read_json(RESTORE_MAX_BYTES)
        if not isinstance(body, dict):
            raise ApiError(422, "invalid_settings", "a settings file is a JSON object",
                           {"problems": [{"field": "(root)",
                                          "message": "settings must be a JSON object"}]},
                           field="(root)")
        current = (deps().link.value("config") or {}).get("settings")
        if isinstance(current, dict):
            # The engine keeps the local-only values in force; validate what it will see.
            _validate_settings(settings_mod.keep_local_only(current, body)[0])
        else:
            _validate_settings(body)
        return send_command("config", {**body, "replace": True})

    @bp.get("/api/config/schema")
    @reads
    def config_schema() -> Response:
        return json_response(settings_schema.schema())

    @bp.get("/api/config/history")
    @reads
    def history() -> Response:
        return json_response({"history": cached("config").get("history") or []})

    # ------------------------------------------------------------------ images
    @bp.post("/api/images")
    @uploads
    def upload() -> Response:
        d = deps()
        name: str | None
        if request.mimetype == "multipart/form-data":
            f = request.files.get("file")
            if f is None:
                raise ApiError(400, "missing_file", "send the picture in a form field named file",
                               {"field": "file"}, field="file")
            data = f.read(d.settings.bridge.upload_max_bytes + 1)
            name = f.filename
        else:
            data = request.get_data(cache=False)
            name = request.headers.get("X-Filename")
        w, h = panel_size()
        try:
            info = d.store.save(data, name, w, h)
        except ImageError as exc:
            raise ApiError(IMAGE_ERROR_STATUS.get(exc.code, 422), exc.code, exc.message,
                           exc.details or None) from None
        log.info("image_uploaded", id=info.id, frames=info.frames, source=info.source_format,
                 width=info.source_width, height=info.source_height)
        return json_response({**info.as_dict(), "url": f"/api/images/{info.id}"}, 201,
                             {"Location": f"/api/images/{info.id}"})

    @bp.get("/api/images")
    @reads
    def list_images() -> Response:
        return json_response({"images": [{**i.as_dict(), "url": f"/api/images/{i.id}"}
                                         for i in deps().store.list_all()]})

    @bp.get("/api/images/<image_id>")
    @reads
    def get_image(image_id: str) -> Response:
        try:
            png = deps().store.png(image_id)
        except UnknownImageError:
            raise ApiError(404, "unknown_image", "no image with that id") from None
        return Response(png, mimetype="image/png",
                        headers={"Cache-Control": "private, max-age=86400, immutable"})

    @bp.delete("/api/images/<image_id>")
    @writes
    def delete_image(image_id: str) -> Response:
        try:
            deps().store.delete(image_id)
        except UnknownImageError:
            raise ApiError(404, "unknown_image", "no image with that id") from None
        log.info("image_deleted", id=image_id)
        return json_response({"deleted": image_id})

    # ------------------------------------------------------------------ live events
    @bp.get("/api/events")
    @reads
    def events() -> Response:
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

    # ------------------------------------------------------------------ session
    @bp.get("/api/session")
    @reads
    def session() -> Response:
        auth = deps().auth
        return json_response({"auth_required": auth.enabled,
                              "authenticated": auth.authenticated(request)})

    @bp.post("/api/login")
    @login
    def login_view() -> Response:
        auth = deps().auth
        token = validate_body(LoginBody, read_json()).token
        if not auth.enabled:
            return json_response({"auth_required": False, "authenticated": True})
        if not auth.token_ok(token):
            log.warning("login_failed", client=request.remote_addr)
            raise ApiError(401, "unauthorized", "wrong token", {"field": "token"}, field="token")
        resp = json_response({"auth_required": True, "authenticated": True})
        auth.set_cookie(resp, secure=request.is_secure)
        log.info("login_ok", client=request.remote_addr)
        return resp

    @bp.post("/api/logout")
    @writes
    def logout() -> Response:
        resp = json_response({"authenticated": False})
        deps().auth.logout(request, resp)
        return resp

    return bp


def _refuse_local_only(paths: list[str]) -> None:
    """Answer 403 for a change of local-only settings, before anything is sent."""
    if paths:
        raise ApiError(403, "forbidden_field",
                       f"{', '.join(paths)} can only be changed in settings.json on the box, "
                       "not remotely", {"field": paths[0], "fields": paths}, field=paths[0])


def _validate_settings(data: dict[str, Any]) -> None:
    """Validate a whole settings object before anything is sent or written."""
    # Animation names (and parameter names) are checked against the engine's retained
    # catalogue; without one that check is the engine's, which validates every change.
    retained = deps().link.value("animations")
    catalogue = settings_mod.RetainedCatalogue(retained) if isinstance(retained, list) else None
    try:
        settings_mod.validate(data, catalogue)
    except settings_mod.SettingsError as exc:
        first = exc.problems[0][0] if exc.problems else None
        raise ApiError(422, "invalid_settings", "; ".join(exc.lines())[:2000],
                       {"problems": [{"field": p, "message": m} for p, m in exc.problems]},
                       field=first) from None
