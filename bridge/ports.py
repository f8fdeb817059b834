"""What the Flask app needs from the engine side: the ``EngineLink`` port.

Owns the ``EngineLink`` Protocol (retained-topic cache reads, one request with a
bounded wait for the reply, the online view, a listener for every message for
the Server-Sent Events hub, preview renewal), the cached value it returns and
the two failures a request can end in. ``bridge.link.MqttEngineLink`` is the
real one (paho, a broker); ``appliance.testing.fake_link.FakeEngineLink``
answers like an engine without one. Knows nothing of paho, Flask or HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from appliance.wire.replies import ReplyBody

#: Called with (topic name under the base, decoded value) for every engine message.
Listener = Callable[[str, Any], None]
#: An engine reply as received: ``{"ok": true, ...}`` or ``{"ok": false, "error": {...}}``.
Reply = ReplyBody


class EngineOffline(Exception):
    """The engine is offline (or its status is unknown, or the broker is unreachable)."""


class EngineTimeout(Exception):
    """The engine did not answer in time."""


@dataclass
class Cached:
    """One retained topic's latest value."""

    value: Any
    received_mono: float
    received_wall: float


class EngineLink(Protocol):
    """The engine as the bridge sees it: a cache of retained topics and requests."""

    #: True while connected to the broker.
    connected: bool
    #: Why the link is not connected (None while it is).
    last_error: str | None

    def get(self, name: str) -> Cached | None:
        """Return the cached retained topic ``name``, or None when never seen."""
        ...

    def value(self, name: str) -> Any:
        """Return the cached value of ``name`` or None."""
        ...

    def engine_status(self) -> str:
        """``online``, ``offline`` or ``unknown`` (also when the broker is unreachable)."""
        ...

    def request(self, action: str, body: Any, timeout_s: float | None = None) -> Reply:
        """Send ``cmd/<action>`` and return the engine's reply.

        Raises EngineOffline when the engine is not online, EngineTimeout when
        it does not answer in time.
        """
        ...

    def want_preview(self) -> None:
        """Keep the engine streaming preview frames while someone watches."""
        ...

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(name, value)`` for every message under the device's base."""
        ...


class RetainedCache:
    """The engine's retained topics as last seen, and its status read from them.

    Shared by every ``EngineLink`` (the MQTT one and the tests' fake), so what
    ``get``, ``value`` and ``engine_status`` mean is written once.
    """

    def __init__(self) -> None:
        self.connected = False
        self._cache: dict[str, Cached] = {}

    def get(self, name: str) -> Cached | None:
        """Return the cached retained topic ``name``, or None when never seen."""
        return self._cache.get(name)

    def value(self, name: str) -> Any:
        """Return the cached value of ``name`` or None."""
        c = self._cache.get(name)
        return c.value if c is not None else None

    def engine_status(self) -> str:
        """``online``, ``offline`` or ``unknown`` (also when the broker is unreachable)."""
        if not self.connected:
            return "unknown"
        v = self.value("status")
        return v if v in ("online", "offline") else "unknown"
