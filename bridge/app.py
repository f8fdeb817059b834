"""The Flask application factory: wires injected dependencies, blueprints, limits and headers.

Owns ``create_app(settings, ...)``: error handlers (one JSON error shape, never
a stack trace), the security hooks (cross-site refusal, auth for writes,
headers on every response), rate limits per client with flask-limiter, the UI
and metrics routes and the OpenAPI document. Knows nothing of paho internals,
the render loop or the display.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import structlog
from flask import Blueprint, Flask, Response, g, redirect, request, send_from_directory
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers.response import Response as WerkzeugResponse

from appliance import __version__
from appliance.content.images import ImageStore, limits_from, resolve_dir
from appliance.settings import Settings
from bridge import (
    api_config,
    api_control,
    api_images,
    api_looks,
    api_notify,
    api_read,
    api_session,
    history,
    openapi,
    ratelimit,
)
from bridge.api_read import health_age_s
from bridge.deps import Deps, Limits
from bridge.errors import ApiError
from bridge.events import EventHub
from bridge.metrics import BridgeMetrics
from bridge.ports import EngineLink
from bridge.security import (
    UNSAFE_METHODS,
    Auth,
    HostCheck,
    Sessions,
    add_headers,
    check_same_origin,
)
from bridge.web import deps as _deps
from bridge.web import json_response

log = structlog.get_logger("bridge.app")
access = structlog.get_logger("access")
access_std = logging.getLogger("access")

STATIC_DIR = Path(__file__).parent / "static"
#: Writes that do not need the token (the login itself, and dropping a session).
AUTH_EXEMPT = frozenset({"/api/login", "/api/logout"})
MULTIPART_OVERHEAD_BYTES = 64 * 1024


def _preview_geometry(link: EngineLink, settings: Settings) -> tuple[int, int]:
    info = link.value("info")
    try:
        p = info["preview"]
        return int(p["width"]), int(p["height"])
    except (TypeError, KeyError, ValueError):
        return settings.display.width, settings.display.height


def create_app(settings: Settings, *, link: EngineLink, auth_token: str | None = None,
               store: ImageStore | None = None, hub: EventHub | None = None) -> Flask:
    """Return the bridge's Flask app. Does no I/O: the link is started by the caller."""
    b = settings.bridge
    app = Flask(__name__, static_folder=str(STATIC_DIR), static_url_path="/static")
    app.config.update(
        MAX_CONTENT_LENGTH=b.upload_max_bytes + MULTIPART_OVERHEAD_BYTES,
        JSON_SORT_KEYS=False,
        PROPAGATE_EXCEPTIONS=False,
        TRAP_HTTP_EXCEPTIONS=False,
        SEND_FILE_MAX_AGE_DEFAULT=300,
    )
    store = store or ImageStore(resolve_dir(b.images_dir), limits_from(b))
    # Collected during a /metrics request, so health_age_s finds the app context.
    metrics = BridgeMetrics(link, health_age_s)
    hub = hub or EventHub(b.sse_max_clients, b.sse_queue_size, b.sse_max_age_s,
                          lambda: _preview_geometry(link, settings), metrics.sse_dropped.inc)
    link.add_listener(hub.publish)
    metrics.sse_clients.set_function(lambda: float(hub.clients))
    auth = Auth(auth_token, Sessions(b.session_max_age_s, b.session_max))
    deps = Deps(settings, link, hub, store, auth, metrics, __version__)
    app.extensions["lightbox"] = deps

    limiter = Limiter(get_remote_address, app=app, storage_uri=ratelimit.STORAGE_URI,
                      # No X-RateLimit-* on every response (it re-evaluates the limits
                      # after each request); 429s carry Retry-After from _rate_limited.
                      strategy="fixed-window", headers_enabled=False)
    limits = Limits(
        reads=limiter.shared_limit(b.rate_limit_reads, scope="reads"),
        writes=limiter.shared_limit(b.rate_limit_writes, scope="writes"),
        uploads=limiter.shared_limit(b.rate_limit_uploads, scope="uploads"),
        login=limiter.shared_limit(b.rate_limit_login, scope="login"),
    )
    for api in (api_read, api_control, api_notify, api_looks, api_config, api_images,
                api_session):
        app.register_blueprint(api.blueprint(limits))
    app.register_blueprint(_pages(limits))
    history.install(app, link, limits)
    _install_hooks(app, deps, limiter)
    return app


def _rate_limited(exc: HTTPException, limiter: Limiter) -> Response:
    """429 in the house error shape, with Retry-After: seconds until the breached window ends."""
    limit = limiter.current_limit
    reset_at = limit.window[0] if limit is not None else None
    retry = max(1, math.ceil(reset_at - time.time())) if reset_at else 1
    err = ApiError(429, "rate_limited", f"too many requests ({exc.description})",
                   {"retry_after_s": retry}, {"Retry-After": str(retry)})
    return json_response(err.body(), 429, err.headers)


def _pages(limits: Limits) -> Blueprint:
    bp = Blueprint("pages", __name__)

    @bp.get("/")
    def index() -> WerkzeugResponse:
        d: Deps = _deps()
        if d.auth.enabled and not d.auth.authenticated(request):
            return redirect("/login", code=303)
        return _no_cache(send_from_directory(STATIC_DIR, "index.html"))

    @bp.get("/login")
    def login_page() -> WerkzeugResponse:
        return _no_cache(send_from_directory(STATIC_DIR, "login.html"))

    @bp.get("/metrics")
    @limits.reads
    def prometheus() -> Response:
        data = generate_latest(_deps().metrics.registry)
        return Response(data, headers={"Content-Type": CONTENT_TYPE_LATEST})

    @bp.get("/api/openapi.json")
    @limits.reads
    def openapi_doc() -> Response:
        return json_response(openapi.spec(__version__))

    return bp


def _no_cache(resp: WerkzeugResponse) -> WerkzeugResponse:
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def _install_hooks(app: Flask, deps: Deps, limiter: Limiter) -> None:
    """The security guard before every request, the access log and error handlers."""
    _install_guard(app, deps)
    _install_access_log(app, deps)
    _install_error_handlers(app, limiter)


def _install_guard(app: Flask, deps: Deps) -> None:
    """Refuse unknown Hosts, cross-site writes and unauthenticated writes."""
    allowed = list(deps.settings.bridge.allowed_origins)
    hosts = HostCheck(deps.settings.bridge.allowed_hosts, allowed)

    @app.before_request
    def guard() -> None:
        g.started = time.perf_counter()
        hosts.check(request)
        if request.method in UNSAFE_METHODS:
            check_same_origin(request, allowed)
            if request.path not in AUTH_EXEMPT:
                deps.auth.require(request)


def _install_access_log(app: Flask, deps: Deps) -> None:
    """Security headers, the request counter and one access line per write or error."""

    @app.after_request
    def finish(response: Response) -> Response:
        add_headers(response)
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        deps.metrics.requests.labels(request.method, rule, str(response.status_code)).inc()
        started = getattr(g, "started", None)
        ms = round((time.perf_counter() - started) * 1000, 2) if started else None
        fields: dict[str, Any] = {"method": request.method, "path": request.path,
                  "status": response.status_code, "duration_ms": ms,
                  "client": request.remote_addr}
        if request.method in UNSAFE_METHODS or response.status_code >= 400:
            access.info("http_request", **fields)
        elif access_std.isEnabledFor(logging.DEBUG):
            # Reads are logged only at debug; skip building the line otherwise (hot path).
            access.debug("http_request", **fields)
        return response


def _error_code(exc: HTTPException) -> str:
    """The house error code of a werkzeug HTTP error."""
    if exc.code == 413:
        return "too_large"
    if exc.code == 415:
        return "unsupported_media_type"
    return (exc.name or "error").lower().replace(" ", "_").replace("'", "")


def _install_error_handlers(app: Flask, limiter: Limiter) -> None:
    """One JSON error shape for every error, never a stack trace."""

    @app.errorhandler(ApiError)
    def api_error(err: ApiError) -> Response:
        return json_response(err.body(), err.status, err.headers)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        if code == 429:
            return _rate_limited(exc, limiter)
        err = ApiError(code, _error_code(exc), exc.description or exc.name or "error")
        resp = json_response(err.body(), code)
        if code == 405 and exc.get_response().headers.get("Allow"):
            resp.headers["Allow"] = exc.get_response().headers["Allow"]
        return resp

    @app.errorhandler(Exception)
    def crash(exc: Exception) -> Response:
        log.exception("bridge_request_failed", path=request.path,
                      error=f"{type(exc).__name__}: {exc}")
        err = ApiError(500, "internal", "internal error; see the bridge log")
        return json_response(err.body(), 500)
