"""The OpenAPI 3.1 description of the bridge's HTTP API (served at /api/openapi.json).

Owns the document; request bodies come from ``bridge.models`` so the schema
and the validation cannot drift apart. A test checks that every Flask route
is described here. Knows nothing of MQTT.
"""

from __future__ import annotations

from typing import Any

from appliance.wire.payloads import NOTIFICATION_ID
from bridge import openapi_looks
from bridge.models import (
    AnimationBody,
    BrightnessBody,
    IdentifyBody,
    LoginBody,
    NotifyBody,
    PowerBody,
)

ERROR_TEXT = {
    400: "Malformed request (bad JSON shape, unknown key; or a Host the bridge does not "
         "answer to: host_not_allowed)",
    401: "The bridge token is required (Authorization: Bearer <token>)",
    403: "Cross-site write refused, or a local-only setting changed remotely (forbidden_field)",
    404: "Unknown animation, image or path",
    405: "Method not allowed",
    409: "A newer command replaced this one before it ran; no playlist plays (not_playing)",
    413: "Body too large",
    415: "Wrong content type (JSON only; uploads must be PNG, GIF or JPEG)",
    422: "Value out of range or invalid (the field is named)",
    429: "Rate limited; see Retry-After",
    502: "The engine failed to apply the command",
    503: "Engine offline, health stale, or no data yet; see Retry-After",
    504: "The engine did not answer in time",
    507: "The images folder is full (bridge.images_max_count / images_max_mb)",
}
READ_ERRORS = (404, 405, 429, 503)
WRITE_ERRORS = (400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 502, 503, 504)

ANY_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}
STATE = {
    "type": "object",
    "properties": {
        "state": {"type": "string", "enum": ["ON", "OFF"]},
        "brightness": {"type": "integer"},
        "effect": {"type": ["string", "null"]},
        "color_mode": {"type": "string"},
        "params": ANY_OBJECT,
        "version": {"type": "integer"},
    },
    "required": ["state", "brightness", "effect"],
    "additionalProperties": True,
}
REPLY = {
    "type": "object",
    "properties": {"ok": {"const": True}, "state": {"$ref": "#/components/schemas/State"},
                   "changes": {"type": "array"}, "restart_required": {"type": "array"},
                   "kept": {"type": "array", "items": {"type": "string"},
                            "description": "restore: local-only settings kept as they were"}},
    "required": ["ok", "state"],
    "additionalProperties": True,
}
ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
                "field": {"type": "string"},
            },
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}
HEALTH = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ok", "unavailable"]},
        "failed": {"type": "array", "items": {"type": "string"}},
        "checks": ANY_OBJECT,
        "engine": {"type": ["object", "null"]},
        "bridge": ANY_OBJECT,
    },
    "required": ["status", "failed", "checks"],
}
IMAGE = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
        "name": {"type": "string"},
        "width": {"type": "integer"},
        "height": {"type": "integer"},
        "frames": {"type": "integer"},
        "durations_ms": {"type": "array", "items": {"type": "integer"}},
        "duration_ms": {"type": "integer"},
        "source_format": {"type": "string"},
        "url": {"type": "string"},
    },
    "required": ["id", "name", "width", "height", "frames", "url"],
}
NOTIFICATIONS = {"type": "object", "properties": {
    "active": {"type": ["object", "null"], "required": ["id", "text", "priority", "started_at",
                                                         "ends_at"]},
    "queue": {"type": "array", "items": {"type": "object", "required": [
        "id", "text", "priority", "queued_at"]}}}, "required": ["active", "queue"]}
NOTIFY_REPLY = {"type": "object", "properties": {
    "ok": {"const": True}, "notification": {"type": "object", "properties": {
        "id": {"type": "string"}}, "required": ["id"]},
    "state": {"$ref": "#/components/schemas/State"}}, "required": ["ok"]}
SESSION = {
    "type": "object",
    "properties": {"auth_required": {"type": "boolean"}, "authenticated": {"type": "boolean"}},
    "required": ["authenticated"],
}

METRICS_HISTORY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {
    "interval_s": {"type": "number"}, "window_s": {"type": "number"},
    "max_points": {"type": "integer"},
    "points": {"type": "array", "items": {
        "type": "object", "properties": {"ts": {"type": "number"}}, "required": ["ts"],
        "additionalProperties": {"type": ["number", "null"]}}}},
    "required": ["interval_s", "window_s", "max_points", "points"]}


SETTINGS_SCHEMA: dict[str, Any] = {"type": "object", "properties": {
    "sections": {"type": "array", "items": {"type": "object", "properties": {
        "id": {"type": "string"}, "title": {"type": "string"}, "help": {"type": "string"}},
        "required": ["id", "title", "help"]}},
    "fields": {"type": "array", "items": {"type": "object", "properties": {
        "path": {"type": "string"}, "section": {"type": "string"},
        "type": {"enum": ["string", "integer", "number", "boolean", "choice", "list",
                          "object"]},
        "nullable": {"type": "boolean"}, "default": {}, "help": {"type": "string"},
        "restart_required": {"type": "boolean"}, "local_only": {"type": "boolean"},
        "advanced": {"type": "boolean"}, "choices": {"type": "array"},
        "min": {"type": "number"}, "max": {"type": "number"},
        "exclusive_min": {"type": "boolean"}, "exclusive_max": {"type": "boolean"}},
        "required": ["path", "section", "type", "nullable", "default", "help",
                     "restart_required", "local_only", "advanced"]}}},
    "required": ["sections", "fields"]}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(codes: tuple[int, ...]) -> dict[str, Any]:
    return {str(c): {"description": ERROR_TEXT[c],
                     "content": {"application/json": {"schema": _ref("Error")}}}
            for c in codes}


def _body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, ok: dict[str, Any], errors: tuple[int, ...], *, tag: str,
        body: dict[str, Any] | None = None, write: bool = False, ok_code: str = "200",
        example: str = "") -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": [tag],
                          "responses": {ok_code: ok, **_errors(errors)}}
    if example:
        op["description"] = f"Example: `{example}`"
    if body is not None:
        op["requestBody"] = body
    if write:
        op["security"] = [{}, {"bearer": []}, {"cookie": []}]
    return op


def _model(cls: Any) -> dict[str, Any]:
    schema: dict[str, Any] = cls.model_json_schema()
    schema.pop("title", None)
    return schema


def _ui_paths() -> dict[str, Any]:
    """The pages, their static files and the Prometheus exposition."""
    return {
        "/": {"get": {"summary": "The web UI (redirects to /login when auth is on)",
                      "tags": ["ui"],
                      "responses": {"200": {"description": "HTML page",
                                            "content": {"text/html": {"schema": {}}}},
                                    "303": {"description": "Login first"}}}},
        "/login": {"get": {"summary": "The login page", "tags": ["ui"],
                           "responses": {"200": {"description": "HTML page",
                                                 "content": {"text/html": {"schema": {}}}}}}},
        "/static/{filename}": {"get": {
            "summary": "The UI's scripts, styles and icons", "tags": ["ui"],
            "parameters": [{"name": "filename", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": {"description": "A static file",
                                  "content": {"*/*": {"schema": {}}}},
                          "304": {"description": "Not modified"},
                          **_errors((404, 405))}}},
        "/metrics": {"get": {
            "summary": "Prometheus exposition (every name starts with lightbox_)",
            "tags": ["monitoring"],
            "responses": {"200": {"description": "Prometheus text format",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}},
                          **_errors((405, 429))}}},
    }


def _read_paths() -> dict[str, Any]:
    """This document, health, the retained topics and the metrics history."""
    retained = {
        f"/api/{name}": {"get": _op(f"The engine's retained `{name}` topic", _json(schema),
                                    READ_ERRORS, tag="state",
                                    example=f"curl http://lightbox:5001/api/{name}")}
        for name, schema in (("state", _ref("State")), ("animations", {"type": "array"}),
                             ("metrics", ANY_OBJECT), ("info", ANY_OBJECT))
    }
    return {
        "/api/openapi.json": {"get": _op("This document", _json(ANY_OBJECT), (405, 429),
                                         tag="monitoring")},
        "/api/health": {"get": _op(
            "200 when the engine is online, its health fresh and not failed",
            _json(_ref("Health")),
            (405, 429), tag="monitoring", example="curl -i http://lightbox:5001/api/health")},
        **retained,
        "/api/metrics/history": {"get": _op(
            "The last minutes of `metrics` the bridge kept (oldest first), for charts",
            _json(METRICS_HISTORY_SCHEMA), (405, 429), tag="monitoring",
            example="curl http://lightbox:5001/api/metrics/history")},
    }


def _control_paths() -> dict[str, Any]:
    """The commands: each a POST mapped onto one ``cmd/<action>``."""
    cmd = WRITE_ERRORS
    return {
        "/api/animation": {"post": _op(
            "Switch animation (cmd/animation)", _json(_ref("Reply")), cmd, tag="control",
            body=_body(_model(AnimationBody)), write=True)},
        "/api/brightness": {"post": _op(
            "Set brightness 0-100 (cmd/brightness)", _json(_ref("Reply")), cmd, tag="control",
            body=_body(_model(BrightnessBody)), write=True)},
        "/api/power": {"post": _op(
            "Power ON, OFF or TOGGLE (cmd/power)", _json(_ref("Reply")), cmd, tag="control",
            body=_body(_model(PowerBody)), write=True)},
        "/api/params": {"post": _op(
            "Change parameters of the running animation (cmd/params)", _json(_ref("Reply")),
            cmd, tag="control", body=_body(ANY_OBJECT), write=True)},
        "/api/identify": {"post": _op(
            "Flash the panel to find it (cmd/identify)", _json(_ref("Reply")), cmd,
            tag="control", body=_body(_model(IdentifyBody), required=False), write=True)},
    }


def _notify_paths() -> dict[str, Any]:
    """Notifications (contract section 7): send, dismiss, the retained queue."""
    ok = _json(_ref("NotifyReply"))
    return {
        "/api/notify": {
            "post": _op("Show a message over whatever is playing (cmd/notify)", ok,
                        WRITE_ERRORS, tag="notifications", body=_body(_model(NotifyBody)),
                        write=True, example="curl -X POST -H 'Content-Type: application/json' "
                        "-d '{\"text\":\"Doorbell\",\"priority\":90}' "
                        "http://lightbox:5001/api/notify"),
            "delete": _op("Dismiss the notification showing now (cmd/notify/dismiss)", ok,
                          WRITE_ERRORS, tag="notifications", write=True)},
        "/api/notify/{notification_id}": {
            "parameters": [{"name": "notification_id", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": NOTIFICATION_ID}}],
            "delete": _op("Dismiss a showing or queued notification by id", ok, WRITE_ERRORS,
                          tag="notifications", write=True)},
        "/api/notifications": {"get": _op(
            "The retained `notifications` topic: the showing one and the queue",
            _json(_ref("Notifications")), READ_ERRORS, tag="notifications",
            example="curl http://lightbox:5001/api/notifications")},
    }


def _settings_paths() -> dict[str, Any]:
    """Settings: read, change, backup, restore, the form's schema and the change log."""
    cmd = WRITE_ERRORS
    return {
        "/api/config": {
            "get": _op("Settings (secrets redacted), source, restart flags, recent changes",
                       _json(ANY_OBJECT), READ_ERRORS, tag="settings"),
            "patch": _op("Change some settings (validated, saved with a backup, applied live)",
                         _json(_ref("Reply")), cmd, tag="settings", body=_body(ANY_OBJECT),
                         write=True),
        },
        "/api/config/backup": {"get": {
            "summary": "Download the settings as a file", "tags": ["settings"],
            "responses": {"200": {"description": "settings.json",
                                  "content": {"application/json": {"schema": ANY_OBJECT}}},
                          **_errors(READ_ERRORS)}}},
        "/api/config/restore": {"post": _op(
            "Replace all settings from a backup (validated completely before anything is "
            "written)", _json(_ref("Reply")), cmd, tag="settings", body=_body(ANY_OBJECT),
            write=True)},
        "/api/config/schema": {"get": _op(
            "What the settings form is built from: sections, and per setting its type, "
            "choices, range, default, help and markers", _json(SETTINGS_SCHEMA),
            READ_ERRORS, tag="settings")},
        "/api/config/history": {"get": _op(
            "The change log", _json({"type": "object", "properties": {
                "history": {"type": "array"}}, "required": ["history"]}),
            READ_ERRORS, tag="settings")},
    }


def _image_paths() -> dict[str, Any]:
    """Uploaded pictures: upload, list, fetch, delete."""
    return {
        "/api/images": {
            "get": _op("Uploaded images", _json({"type": "object", "properties": {
                "images": {"type": "array", "items": _ref("Image")}},
                "required": ["images"]}), READ_ERRORS, tag="images"),
            "post": {
                "summary": "Upload a PNG, GIF or JPEG (resized to the panel, re-encoded)",
                "tags": ["images"], "security": [{}, {"bearer": []}, {"cookie": []}],
                "requestBody": {"required": True, "content": {
                    "multipart/form-data": {"schema": {
                        "type": "object", "properties": {
                            "file": {"type": "string", "format": "binary"}},
                        "required": ["file"]}},
                    "application/octet-stream": {"schema": {"type": "string",
                                                            "format": "binary"}}}},
                "responses": {"201": _json(_ref("Image"), "Stored"),
                              **_errors((400, 401, 403, 405, 413, 415, 422, 429, 507))}},
        },
        "/api/images/{image_id}": {
            "parameters": [{"name": "image_id", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "get": {"summary": "The re-encoded picture (PNG, animated when the source was)",
                    "tags": ["images"],
                    "responses": {"200": {"description": "PNG",
                                          "content": {"image/png": {"schema": {}}}},
                                  **_errors((404, 405, 429))}},
            "delete": _op("Delete an image", _json({"type": "object", "properties": {
                "deleted": {"type": "string"}}, "required": ["deleted"]}),
                (401, 403, 404, 405, 429), tag="images", write=True),
        },
    }


def _session_paths() -> dict[str, Any]:
    """The live event stream and the UI's login session."""
    return {
        "/api/events": {"get": {
            "summary": "Server-Sent Events: status, the retained topics, events and (with "
                       "?preview=1) preview frames",
            "tags": ["monitoring"],
            "parameters": [{"name": "preview", "in": "query", "required": False,
                            "schema": {"type": "string", "enum": ["0", "1"]}}],
            "responses": {"200": {"description": "text/event-stream",
                                  "content": {"text/event-stream": {"schema": {}}}},
                          **_errors((405, 429, 503))}}},
        "/api/session": {"get": _op("Whether auth is on and this client is logged in",
                                    _json(_ref("Session")), (405, 429), tag="auth")},
        "/api/login": {"post": _op(
            "Exchange the token for an HttpOnly session cookie (for the UI)",
            _json(_ref("Session")), (400, 401, 403, 405, 413, 415, 422, 429), tag="auth",
            body=_body(_model(LoginBody)))},
        "/api/logout": {"post": _op("End this login session (revoked on the bridge) and "
                                    "drop its cookie", _json(ANY_OBJECT),
                                    (403, 405, 429), tag="auth")},
    }


def spec(version: str) -> dict[str, Any]:
    """Return the OpenAPI document (paths in the order the groups are listed)."""
    paths: dict[str, Any] = {**_ui_paths(), **_read_paths(), **_control_paths(),
                             **_notify_paths(), **openapi_looks.paths(),
                             **_settings_paths(), **_image_paths(), **_session_paths()}
    return {
        "openapi": "3.1.0",
        "info": {"title": "LightBox bridge", "version": version,
                 "description": "HTTP API of the LightBox web bridge. Every write maps onto "
                                "an MQTT command of the engine. Errors are "
                                '{"error":{"code","message","details"}}.'},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {"State": STATE, "Reply": REPLY, "Error": ERROR, "Health": HEALTH,
                        "Image": IMAGE, "Session": SESSION, "Notifications": NOTIFICATIONS,
                        "NotifyReply": NOTIFY_REPLY},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "bridge.auth_token_file's token; needed for writes "
                                          "when it is set"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "lightbox_session"},
            },
        },
    }
