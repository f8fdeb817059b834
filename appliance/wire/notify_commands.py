"""The notification commands (contract section 7): ``cmd/notify`` and ``cmd/notify/dismiss``.

Turns their payloads (an object, or the bare forms: the text; an id, ``all`` or
nothing) into the frozen ``Notify`` and ``Dismiss`` commands. Knows nothing of the
queue's rules, the render loop, paho or Flask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from appliance.wire.command_base import BaseCommand, Meta, validate_payload
from appliance.wire.payloads import DismissPayload, NotifyPayload


@dataclass(frozen=True)
class Notify(BaseCommand):
    """Show a message over whatever is playing (the engine makes an id when none is given)."""

    ACTION: ClassVar[str] = "notify"
    text: str
    id: str | None = None
    color: str = "#ffffff"
    background: str | None = None
    icon: str | None = None
    position: Literal["banner", "fullscreen"] = "banner"
    duration_s: float = 8.0
    priority: int = 50
    hold: bool = False
    wake: bool = False
    ttl_s: float = 600.0


@dataclass(frozen=True)
class Dismiss(BaseCommand):
    """End a notification: by ``id``, every one (``all``), or the showing one (neither)."""

    ACTION: ClassVar[str] = "notify/dismiss"
    id: str | None = None
    all: bool = False


def parse_notify(data: Any, now: float | None, source: str) -> Notify:
    """``cmd/notify``: a JSON object, or a bare string that is the text."""
    if isinstance(data, str):
        data = {"text": data}
    m = validate_payload(NotifyPayload, {} if data is None else data)  # empty: text missing
    return Notify(m.text, m.id, m.color.lower(), m.background and m.background.lower(), m.icon,
                  m.position, m.duration_s, m.priority, m.hold, m.wake, m.ttl_s,
                  meta=Meta(m.transaction, source))


def parse_dismiss(data: Any, now: float | None, source: str) -> Dismiss:
    """``cmd/notify/dismiss``: an id, ``{"id": ...}``, ``all``, or empty (the showing one)."""
    if data is None:
        data = {}
    elif data == "all":
        data = {"all": True}
    elif isinstance(data, str):
        data = {"id": data}
    m = validate_payload(DismissPayload, data)
    return Dismiss(m.id, m.all, meta=Meta(m.transaction, source))
