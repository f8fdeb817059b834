"""HTTP errors of the bridge: one JSON shape, and the engine's error codes mapped to statuses.

Owns ``ApiError`` and the table from engine/wire error codes to HTTP statuses.
Knows nothing of MQTT or Flask routing.
"""

from __future__ import annotations

from typing import Any

#: Engine (and wire) error codes -> HTTP status.
ENGINE_STATUS: dict[str, int] = {
    "unknown_animation": 404,
    "unknown_image": 404,
    "unknown_notification": 404,
    "unknown_preset": 404,
    "unknown_playlist": 404,
    "invalid_param": 422,
    "out_of_range": 422,
    "invalid_value": 422,
    "invalid_settings": 422,
    "missing_field": 422,
    "animation_failed": 422,
    "limit_reached": 422,
    "unknown_field": 400,
    "invalid_payload": 400,
    "bad_json": 400,
    "unknown_command": 400,
    "payload_too_large": 413,
    "superseded": 409,
    "not_playing": 409,
    "playlist_unplayable": 409,
    "forbidden_field": 403,
    "busy": 503,
}
#: Anything else the engine reports is its own failure, not the client's.
ENGINE_FAILURE_STATUS = 502


class ApiError(Exception):
    """An HTTP error with a code, a human message, optional details and headers."""

    def __init__(self, status: int, code: str, message: str, details: Any = None,
                 headers: dict[str, str] | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}
        self.field = field

    def body(self) -> dict[str, Any]:
        """Return ``{"error": {...}}``."""
        err: dict[str, Any] = {"code": self.code, "message": self.message,
                               "details": self.details}
        if self.field is not None:
            err["field"] = self.field
        return {"error": err}


def from_engine(error: Any) -> ApiError:
    """Return the ApiError for an engine reply's ``error`` object."""
    if not isinstance(error, dict):
        return ApiError(ENGINE_FAILURE_STATUS, "engine_error", "the engine reported a failure")
    code = str(error.get("code") or "engine_error")
    message = str(error.get("message") or code)
    field = error.get("field")
    status = ENGINE_STATUS.get(code, ENGINE_FAILURE_STATUS)
    details: dict[str, Any] = {}
    if field is not None:
        details["field"] = str(field)
    headers = {"Retry-After": "1"} if status == 503 else None
    return ApiError(status, code, message, details or None, headers,
                    str(field) if field is not None else None)
