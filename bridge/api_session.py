"""The UI's login session: whether auth is on, login with the token, logout.

Owns ``GET /api/session``, ``POST /api/login`` (the token exchanged for an
HttpOnly cookie, under the login limit) and ``POST /api/logout``. The token
check and the sessions themselves are ``bridge.security.Auth``'s. Knows
nothing of MQTT.
"""

from __future__ import annotations

import structlog
from flask import Blueprint, Response, request

from bridge.deps import Limits
from bridge.errors import ApiError
from bridge.models import LoginBody, validate_body
from bridge.web import add_routes, deps, json_response, read_json

log = structlog.get_logger("bridge.api")


def session() -> Response:
    """``GET /api/session``: is auth on, is this client logged in."""
    auth = deps().auth
    return json_response({"auth_required": auth.enabled,
                          "authenticated": auth.authenticated(request)})


def login_view() -> Response:
    """``POST /api/login``: exchange the token for a session cookie."""
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


def logout() -> Response:
    """``POST /api/logout``: revoke this session and drop its cookie."""
    resp = json_response({"authenticated": False})
    deps().auth.logout(request, resp)
    return resp


def blueprint(limits: Limits) -> Blueprint:
    """Return the session routes."""
    return add_routes(Blueprint("api_session", __name__), [
        ("GET", "/api/session", session, limits.reads),
        ("POST", "/api/login", login_view, limits.login),
        ("POST", "/api/logout", logout, limits.writes),
    ])
