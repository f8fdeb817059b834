"""Security of the web bridge: headers, cross-site refusal, bearer token and session cookie.

Owns the security headers put on every response, the Origin/Referer check for
writes, the bearer-token check (and the HttpOnly cookie the login sets for the
UI) and JSON-only request bodies. Knows nothing of MQTT or the engine.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from flask import Request, Response

from bridge.errors import ApiError

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
COOKIE_NAME = "lightbox_session"
COOKIE_MAX_AGE_S = 30 * 24 * 3600

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def add_headers(response: Response) -> Response:
    """Put the security headers on a response."""
    h = response.headers
    for k, v in HEADERS.items():
        h[k] = v
    if "Cache-Control" not in h and response.mimetype in ("application/json", "text/plain"):
        h["Cache-Control"] = "no-store"
    return response


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_same_origin(request: Request, allowed: list[str]) -> None:
    """Refuse a write that a browser sent from another site."""
    if request.method not in UNSAFE_METHODS:
        return
    own = {f"{request.scheme}://{request.host}".lower(),
           *(a.rstrip("/").lower() for a in allowed)}
    own_hosts = {urlsplit(o).netloc for o in own}
    origin = request.headers.get("Origin")
    if origin is not None:
        o = _origin_of(origin)
        # Compare hosts: behind TLS termination the scheme can differ, the host does not.
        if o is None or urlsplit(o).netloc not in own_hosts:
            raise ApiError(403, "cross_site", "cross-site writes are refused")
        return
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        raise ApiError(403, "cross_site", "cross-site writes are refused")
    referer = request.headers.get("Referer")
    if referer:
        r = _origin_of(referer)
        if r is None or urlsplit(r).netloc not in own_hosts:
            raise ApiError(403, "cross_site", "cross-site writes are refused")


def session_value(token: str) -> str:
    """The cookie value for a token (a keyed hash, so the cookie is not the token)."""
    return hmac.new(token.encode(), b"lightbox-session-v1", hashlib.sha256).hexdigest()


class Auth:
    """Bearer-token auth for writes; off when no token is configured."""

    def __init__(self, token: str | None) -> None:
        self.token = token or None
        self._session = session_value(self.token) if self.token else None

    @property
    def enabled(self) -> bool:
        """True when writes need the token."""
        return self.token is not None

    def token_ok(self, given: str) -> bool:
        """Compare a presented token in constant time."""
        return self.token is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def authenticated(self, request: Request) -> bool:
        """True when the request carries the token (header) or the login cookie."""
        if self.token is None:
            return True
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value and self.token_ok(value.strip()):
            return True
        cookie = request.cookies.get(COOKIE_NAME)
        if not cookie or self._session is None:
            return False
        return hmac.compare_digest(cookie.encode(), self._session.encode())

    def require(self, request: Request) -> None:
        """Raise 401 unless the request is authenticated."""
        if not self.authenticated(request):
            raise ApiError(401, "unauthorized",
                           "this needs the bridge token (Authorization: Bearer <token>)",
                           headers={"WWW-Authenticate": 'Bearer realm="lightbox"'})

    def set_cookie(self, response: Response, secure: bool) -> None:
        """Set the HttpOnly session cookie after a successful login."""
        assert self._session is not None
        response.set_cookie(COOKIE_NAME, self._session, max_age=COOKIE_MAX_AGE_S,
                            httponly=True, samesite="Strict", secure=secure, path="/")

    @staticmethod
    def clear_cookie(response: Response) -> None:
        """Remove the session cookie."""
        response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="Strict")
