"""What every API view shares: the injected dependencies, JSON in and out, commands.

Owns ``deps()`` (the app's ``Deps``), ``json_response`` (compact, never a
non-finite number), ``read_json`` (JSON only, size-capped, the bounded
decoder), ``cached`` (a retained topic or 503) and ``send_command`` (validate
like the engine, one MQTT 5 request, the reply mapped onto HTTP), and
``add_routes`` (a blueprint's route table). Knows nothing of paho, the render
loop or the display.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, Response, current_app, request

from appliance import settings as settings_mod
from appliance.wire import jsonsafe
from appliance.wire.commands import CommandError, parse_command
from bridge.deps import Decorator, Deps
from bridge.errors import ApiError, from_engine
from bridge.ports import EngineOffline, EngineTimeout

JSON_MAX_BYTES = 64 * 1024

#: The one redaction of secrets (appliance.settings.trust); the bridge adds none of its own.
redact = settings_mod.redact


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


#: One route: HTTP method, URL rule, the view and the rate limit that guards it.
Route = tuple[str, str, Callable[..., Any], Decorator]


def add_routes(bp: Blueprint, routes: Iterable[Route]) -> Blueprint:
    """Add each route to ``bp``, its endpoint named after its view."""
    for method, rule, view, limit in routes:
        bp.add_url_rule(rule, endpoint=view.__name__, view_func=limit(view), methods=[method])
    return bp
