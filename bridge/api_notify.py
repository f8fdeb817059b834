"""Notifications over HTTP: send one, dismiss one, read the queue (contract section 7).

Owns ``POST /api/notify`` (the body of ``cmd/notify``, validated by a strict
view of ``appliance.wire.payloads.NotifyPayload``), ``DELETE /api/notify/<id>``
and ``DELETE /api/notify`` (``cmd/notify/dismiss`` by id, or the showing one)
and ``GET /api/notifications`` (the retained ``<base>/notifications``
document). Each command is one MQTT 5 request through
``bridge.web.send_command``; the engine's reply is the answer. Holds no queue
of its own. Knows nothing of paho, the render loop or the display.
"""

from __future__ import annotations

from flask import Blueprint, Response

from bridge.deps import Limits
from bridge.models import DismissBody, NotifyBody, validate_body
from bridge.web import add_routes, cached, deps, json_response, read_json, send_command

#: The MQTT actions (``appliance.wire.topics.COMMANDS``).
NOTIFY = "notify"
DISMISS = "notify/dismiss"


def notify() -> Response:
    """``POST /api/notify``: show a message over whatever is playing (cmd/notify)."""
    body = validate_body(NotifyBody, read_json())
    return send_command(NOTIFY, body.model_dump(exclude_none=True, exclude_unset=True))


def dismiss(notification_id: str) -> Response:
    """``DELETE /api/notify/<id>``: end a showing or queued notification by id."""
    body = validate_body(DismissBody, {"id": notification_id})
    return send_command(DISMISS, body.model_dump(exclude_none=True, exclude_defaults=True))


def dismiss_showing() -> Response:
    """``DELETE /api/notify``: end the notification showing now (an empty dismiss)."""
    return send_command(DISMISS, {})


def notifications() -> Response:
    """``GET /api/notifications``: the retained document, 503 until the engine published it."""
    resp = json_response(cached("notifications"))
    resp.headers["X-Engine-Status"] = deps().link.engine_status()
    return resp


def blueprint(limits: Limits) -> Blueprint:
    """Return the notification routes: commands under the writes limit, the read under reads."""
    return add_routes(Blueprint("api_notify", __name__), [
        ("POST", "/api/notify", notify, limits.writes),
        ("DELETE", "/api/notify/<notification_id>", dismiss, limits.writes),
        ("DELETE", "/api/notify", dismiss_showing, limits.writes),
        ("GET", "/api/notifications", notifications, limits.reads),
    ])
