"""The control commands: animation, brightness, power, params and identify.

Owns the five ``POST /api/<action>`` routes: each body is validated with the
same wire models the engine uses and sent as one ``cmd/<action>`` request
(``bridge.web.send_command``), its reply mapped onto HTTP. Holds no display
state. Knows nothing of paho, the render loop or the display.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from bridge.deps import Limits
from bridge.errors import ApiError
from bridge.models import AnimationBody, BrightnessBody, IdentifyBody, PowerBody, validate_body
from bridge.web import add_routes, read_json, send_command


def animation() -> Response:
    """``POST /api/animation``: switch animation (cmd/animation)."""
    body = validate_body(AnimationBody, read_json())
    return send_command("animation", body.model_dump(exclude_none=True))


def brightness() -> Response:
    """``POST /api/brightness``: set brightness 0-100 (cmd/brightness)."""
    return send_command("brightness", validate_body(BrightnessBody, read_json()).model_dump())


def power() -> Response:
    """``POST /api/power``: ON, OFF or TOGGLE (cmd/power)."""
    return send_command("power", validate_body(PowerBody, read_json()).model_dump())


def params() -> Response:
    """``POST /api/params``: change the running animation's parameters (cmd/params)."""
    body = read_json()
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_payload", "send a JSON object of parameters")
    return send_command("params", body)


def identify() -> Response:
    """``POST /api/identify``: flash the panel (cmd/identify); the body is optional."""
    body = validate_body(IdentifyBody, read_json() if request.content_length else {})
    return send_command("identify", body.model_dump())


def blueprint(limits: Limits) -> Blueprint:
    """Return the command routes, each under the writes limit."""
    return add_routes(Blueprint("api_control", __name__), [
        ("POST", "/api/animation", animation, limits.writes),
        ("POST", "/api/brightness", brightness, limits.writes),
        ("POST", "/api/power", power, limits.writes),
        ("POST", "/api/params", params, limits.writes),
        ("POST", "/api/identify", identify, limits.writes),
    ])
