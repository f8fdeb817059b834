"""The bridge's HTTP server: waitress, hardened against slow and idle clients.

Owns how connections are accepted, timed and refused: waitress's own limits
(connection count, idle time, header size) plus what waitress lacks. Its
``channel_timeout`` only counts *inactivity*, so a client that trickles one
header line every 2 s never times out; here every connection's unfinished
request has a deadline (``header_timeout_s`` for the headers,
``request_timeout_s`` for the whole request with its body), checked once a
second. When the connection limit is reached, the connections that have not
sent a complete request for the longest time are closed to make room, so a
crowd of slow sockets cannot lock out a normal client. waitress's own error
answers (bad request line, headers or body too large) are JSON in the house
error shape with the security headers. Knows nothing of Flask routes or MQTT.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer, MultiSocketServer, TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher

from appliance.settings import BridgeSettings
from bridge.security import HEADERS

log = structlog.get_logger("bridge.server")

#: Seconds between two sweeps for overdue requests (waitress's cleanup_interval).
SWEEP_INTERVAL_S = 1
#: Share of the connection limit closed at once when it is reached.
EVICT_FRACTION = 0.1
#: At most one log line per this many seconds while the limit keeps being reached.
EVICT_LOG_INTERVAL_S = 10.0
#: Extra body bytes waitress accepts beyond the upload cap (Flask answers 413 before that).
BODY_SLACK_BYTES = 1024 * 1024
#: Headers waitress trusts from ``bridge.trusted_proxy``.
PROXY_HEADERS = frozenset({"x-forwarded-proto", "x-forwarded-for", "x-forwarded-host",
                           "x-forwarded-port"})
#: waitress error status -> the house error code.
ERROR_CODES = {400: "bad_request", 413: "too_large", 431: "headers_too_large",
               500: "internal", 501: "not_implemented"}

App = Callable[..., Any]


@dataclass(frozen=True)
class Deadlines:
    """How long a connection may take to deliver one request."""

    header_s: float
    request_s: float


class JsonErrorTask(ErrorTask):
    """waitress's error answer, in the house JSON shape and with the security headers."""

    def execute(self) -> None:
        e = self.request.error
        code = int(e.code)
        body = json.dumps({"error": {
            "code": ERROR_CODES.get(code, "bad_request"),
            "message": f"{e.reason}: {e.body}",
            "details": None,
        }}, separators=(",", ":")).encode()
        self.status = f"{code} {e.reason}"
        self.response_headers.extend([("Content-Type", "application/json"),
                                      ("Cache-Control", "no-store"), *HEADERS.items()])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class GuardedChannel(HTTPChannel):
    """A connection that remembers since when it owes the server a complete request.

    ``pending_since`` is the time of the first byte not yet part of a complete,
    non-empty request (blank lines do not count as progress); None while the
    connection has sent nothing new.
    """

    error_task_class = JsonErrorTask

    def __init__(self, *args: Any, **kw: Any) -> None:
        self.pending_since: float | None = None
        #: Requests parsed during the current ``received`` call.
        self._parsers: list[HTTPRequestParser] = []
        super().__init__(*args, **kw)

    def parser_class(self, adj: Adjustments) -> HTTPRequestParser:
        """Start parsing a new request (waitress calls ``self.parser_class(adj)``)."""
        parser = HTTPRequestParser(adj)
        self._parsers.append(parser)
        return parser

    def received(self, data: bytes) -> bool:
        """Feed bytes to waitress, then note whether a request was completed."""
        now = time.time()
        if data and self.pending_since is None:
            self.pending_since = now
        before = self.request
        self._parsers = [] if before is None else [before]
        try:
            return bool(super().received(data))
        finally:
            if any(p.completed and not p.empty for p in self._parsers):
                self.pending_since = None if self.request is None else now
            self._parsers = []

    def overdue(self, now: float, deadlines: Deadlines) -> bool:
        """True when the unfinished request has taken longer than allowed."""
        if self.pending_since is None or self.will_close:
            return False
        req = self.request
        limit = deadlines.request_s if req is not None and req.headers_finished \
            else deadlines.header_s
        return now - self.pending_since > limit


class GuardedServer(TcpWSGIServer):
    """waitress's TCP server with request deadlines and eviction at the connection limit."""

    channel_class = GuardedChannel

    def __init__(self, application: App, deadlines: Deadlines, **kw: Any) -> None:
        self.deadlines = deadlines
        self.evict_logged = 0.0
        super().__init__(application, **kw)

    def maintenance(self, now: float) -> None:
        """Close idle connections (waitress) and those whose request is overdue."""
        super().maintenance(now)
        overdue = [c for c in self.active_channels.values() if c.overdue(now, self.deadlines)]
        for channel in overdue:
            channel.will_close = True
        if overdue:
            # One line per sweep, not per socket: a crowd of slow clients must not flood the log.
            log.info("slow_clients_closed", count=len(overdue),
                     clients=sorted({str(c.addr[0]) for c in overdue})[:10])

    def readable(self) -> bool:
        """Make room first when the connection limit is reached, then let waitress decide."""
        if self.accepting and len(self._map) >= self.adj.connection_limit:
            self._evict(time.time())
        return bool(super().readable())

    def _evict(self, now: float) -> None:
        """Close the connections that have gone longest without a complete request."""
        closing = [c for c in self.active_channels.values() if c.will_close]
        want = max(1, int(self.adj.connection_limit * EVICT_FRACTION)) - len(closing)
        if want <= 0:
            return
        waiting = [c for c in self.active_channels.values()
                   if not c.will_close and not c.requests]
        waiting.sort(key=lambda c: c.pending_since if c.pending_since is not None
                     else c.last_activity)
        for channel in waiting[:want]:
            channel.will_close = True
        if waiting and now - self.evict_logged > EVICT_LOG_INTERVAL_S:
            self.evict_logged = now
            log.warning("connection_limit_reached", limit=self.adj.connection_limit,
                        closed=min(want, len(waiting)))


def adjustments(b: BridgeSettings, host: str, port: int) -> dict[str, Any]:
    """waitress's settings for the bridge."""
    kw: dict[str, Any] = {
        "host": host, "port": port, "threads": b.threads, "ident": "lightbox",
        # Keep reading while a request runs, so a closed event stream is noticed.
        "channel_request_lookahead": 5,
        # Flask answers 413 for a too-large upload before waitress would.
        "max_request_body_size": b.upload_max_bytes + BODY_SLACK_BYTES,
        "max_request_header_size": b.max_header_bytes,
        "connection_limit": b.connection_limit,
        "channel_timeout": b.idle_timeout_s,
        "cleanup_interval": SWEEP_INTERVAL_S,
        # select() cannot watch descriptors above 1023; poll() can.
        "asyncore_use_poll": True,
        "clear_untrusted_proxy_headers": True,
    }
    if b.trusted_proxy is not None:
        kw["trusted_proxy"] = b.trusted_proxy
        kw["trusted_proxy_headers"] = set(PROXY_HEADERS)
    return kw


def create_server(app: App, b: BridgeSettings, host: str,
                  port: int) -> BaseWSGIServer | MultiSocketServer:
    """Return the bridge's server, listening on every address ``host`` resolves to."""
    adj = Adjustments(**adjustments(b, host, port))
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    deadlines = Deadlines(b.header_timeout_s, b.request_timeout_s)
    channels: dict[int, Any] = {}
    servers = [GuardedServer(app, deadlines, map=channels, dispatcher=dispatcher, adj=adj,
                             sockinfo=info) for info in adj.listen]
    if len(servers) == 1:
        return servers[0]
    return MultiSocketServer(channels, adj,
                             [(s.effective_host, s.effective_port) for s in servers],
                             dispatcher, servers[-1].log_info)
