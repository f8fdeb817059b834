"""Security of the web bridge: headers, Host and cross-site checks, token and login sessions.

Owns the security headers put on every response, the Host allow-list (DNS
rebinding), the Origin/Referer check for writes, the bearer-token check and
the login sessions behind the UI's HttpOnly cookie (random ids kept
server-side, revocable). Knows nothing of MQTT or the engine.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from flask import Request, Response

from bridge.errors import ApiError

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
COOKIE_NAME = "lightbox_session"
COOKIE_MAX_AGE_S = 30 * 24 * 3600
SESSIONS_MAX = 256
RESOLV_CONF = Path("/etc/resolv.conf")
#: A Host header: a bracketed IPv6 literal or a name/IPv4, and an optional port.
HOST_HEADER_RE = re.compile(r"\A(?:\[(?P<ip6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+))"
                            r"(?::[0-9]{1,5})?\Z")

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


def search_domains(resolv_conf: Path = RESOLV_CONF) -> list[str]:
    """The local DNS search domains (``search``/``domain`` in resolv.conf), e.g. ``fritz.box``."""
    try:
        lines = resolv_conf.read_text(errors="replace").splitlines()
    except OSError:
        return []
    out: list[str] = []
    for line in lines:
        words = line.split()
        if len(words) > 1 and words[0] in ("search", "domain"):
            out += [w.lower().strip(".") for w in words[1:] if w.strip(".")]
    return out


def box_names(resolv_conf: Path = RESOLV_CONF) -> set[str]:
    """This box's own names: ``localhost``, its host name, ``<name>.local`` (mDNS) and
    ``<name>.<search domain>`` (what the router's DNS calls it, e.g. ``lightbox.fritz.box``).

    None of them is a name an attacker's DNS answers for, so none can be rebound.
    """
    names = {"localhost"}
    host = socket.gethostname().lower().rstrip(".")
    if host:
        short = host.split(".")[0]
        names |= {host, short, f"{short}.local"}
        names |= {f"{short}.{d}" for d in search_domains(resolv_conf)}
    return names


class HostCheck:
    """The Host allow-list against DNS rebinding.

    A rebinding page reaches the bridge under the attacker's own *name*, so any
    IP literal is safe and so are the box's names; other names must be listed
    in ``bridge.allowed_hosts`` (or be the host of an ``allowed_origins`` entry).
    """

    def __init__(self, allowed_hosts: Iterable[str], allowed_origins: Iterable[str]) -> None:
        extra = [h.lower().rstrip(".") for h in allowed_hosts]
        exact = box_names() | {h for h in extra if not h.startswith("*.")}
        exact |= {h for h in (urlsplit(o).hostname for o in allowed_origins) if h}
        self.exact = frozenset(exact)
        self.suffixes = (".localhost", *(h[1:] for h in extra if h.startswith("*.")))

    def allowed(self, host_header: str) -> bool:
        """True when a Host header names this box."""
        m = HOST_HEADER_RE.match(host_header)
        if m is None:
            return False
        name = (m.group("ip6") or m.group("name")).lower().rstrip(".")
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            pass
        return name in self.exact or name.endswith(self.suffixes)

    def check(self, request: Request) -> None:
        """Refuse a request whose Host is not one of the box's (none at all is fine)."""
        host = request.environ.get("HTTP_HOST")
        if host is not None and not self.allowed(host):
            raise ApiError(400, "host_not_allowed",
                           f"this bridge does not answer to the host name {host[:100]!r}; "
                           "add it to bridge.allowed_hosts in settings.json",
                           {"host": host[:100]})


class Sessions:
    """Login sessions: random ids, kept server-side (hashed) with an expiry, bounded in number.

    A session is revoked by logging out; all go when the bridge restarts, which
    is also the only way the token changes (it is read at start-up).
    """

    def __init__(self, max_age_s: float, max_sessions: int) -> None:
        self.max_age_s = max_age_s
        self.max_sessions = max_sessions
        self._expiry: dict[bytes, float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(session_id: str) -> bytes:
        # Looked up by hash, so a lookup's timing says nothing about a valid id.
        return hashlib.sha256(session_id.encode()).digest()

    def create(self) -> str:
        """Start a session and return its id (for the cookie)."""
        sid = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._expiry = {k: t for k, t in self._expiry.items() if t > now}
            while len(self._expiry) >= self.max_sessions:
                del self._expiry[min(self._expiry, key=self._expiry.__getitem__)]
            self._expiry[self._key(sid)] = now + self.max_age_s
        return sid

    def valid(self, session_id: str) -> bool:
        """True when the id is a live session."""
        with self._lock:
            expiry = self._expiry.get(self._key(session_id))
        return expiry is not None and expiry > time.monotonic()

    def revoke(self, session_id: str) -> None:
        """End one session."""
        with self._lock:
            self._expiry.pop(self._key(session_id), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiry)


class Auth:
    """Bearer-token auth for writes; off when no token is configured."""

    def __init__(self, token: str | None, sessions: Sessions | None = None) -> None:
        self.token = token or None
        self.sessions = sessions or Sessions(COOKIE_MAX_AGE_S, SESSIONS_MAX)

    @property
    def enabled(self) -> bool:
        """True when writes need the token."""
        return self.token is not None

    def token_ok(self, given: str) -> bool:
        """Compare a presented token in constant time."""
        return self.token is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def authenticated(self, request: Request) -> bool:
        """True when the request carries the token (header) or a live session cookie."""
        if self.token is None:
            return True
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value and self.token_ok(value.strip()):
            return True
        cookie = request.cookies.get(COOKIE_NAME)
        return bool(cookie) and self.sessions.valid(cookie or "")

    def require(self, request: Request) -> None:
        """Raise 401 unless the request is authenticated."""
        if not self.authenticated(request):
            raise ApiError(401, "unauthorized",
                           "this needs the bridge token (Authorization: Bearer <token>)",
                           headers={"WWW-Authenticate": 'Bearer realm="lightbox"'})

    def set_cookie(self, response: Response, secure: bool) -> None:
        """Start a session and set its HttpOnly cookie after a successful login."""
        response.set_cookie(COOKIE_NAME, self.sessions.create(),
                            max_age=int(self.sessions.max_age_s), httponly=True,
                            samesite="Strict", secure=secure, path="/")

    def logout(self, request: Request, response: Response) -> None:
        """Revoke the request's session (if any) and remove its cookie."""
        cookie = request.cookies.get(COOKIE_NAME)
        if cookie:
            self.sessions.revoke(cookie)
        response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="Strict",
                               secure=request.is_secure)
