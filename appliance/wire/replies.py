"""Replies: the answer to one command, and the retained ``state`` document it carries.

Shared by the engine (which builds them), the MQTT edge (``as_json``) and the bridge.
Imports nothing of the engine, paho or the render loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypedDict

from appliance.wire.errors import CommandError, ErrorBody, Transaction

#: Animation parameters by name, as the catalogue describes them.
Params = dict[str, Any]
#: One settings change row (``{"path", "old", "new"}``), read-only.
Change = Mapping[str, object]


class LiveState(TypedDict):
    """``state.live``: realtime input (contract section 9)."""

    active: bool
    protocol: str | None
    source: str | None
    fps: float
    mode: str  # cmd/live: "auto" or "ignore"


class NotificationRef(TypedDict):
    """``notification`` in the reply of a ``cmd/notify``: the id it got."""

    id: str


class LightState(TypedDict):
    """The retained ``state`` document (Home Assistant JSON light plus LightBox extras)."""

    state: Literal["ON", "OFF"]
    brightness: int
    effect: str | None
    color_mode: str
    params: Params
    version: int
    started_at: float | None
    #: The layers above the base (contract section 6): null/inactive until they show.
    preset: str | None
    playlist: dict[str, Any] | None
    live: LiveState
    notification: str | None
    active: NotRequired[str]
    #: A schedule window's brightness cap while one is in force (contract section 8).
    brightness_max: NotRequired[int]
    fallback_reason: NotRequired[str | None]


class ReplyBody(TypedDict):
    """A reply as it crosses the wire (what ``Reply.as_json`` gives and the bridge reads)."""

    ok: bool
    state: NotRequired[LightState | None]
    error: NotRequired[ErrorBody]
    notification: NotRequired[NotificationRef]
    changes: NotRequired[list[Change]]
    restart_required: NotRequired[list[str]]
    kept: NotRequired[list[str]]
    transaction: NotRequired[Transaction]


@dataclass(frozen=True)
class Reply:
    """The answer to one command; ``as_json()`` is the body on its response topic."""

    ok: bool
    transaction: Transaction = None
    state: LightState | None = None
    error: CommandError | None = None
    #: Settings changes (cmd/config and cmd/reload only).
    changes: tuple[Change, ...] | None = None
    restart_required: tuple[str, ...] | None = None
    kept: tuple[str, ...] | None = None
    #: The id a ``cmd/notify`` got.
    notification: str | None = None

    def as_json(self) -> ReplyBody:
        """Return the JSON body (keys in the contract's order)."""
        out: ReplyBody = {"ok": self.ok}
        if self.error is not None:
            out["error"] = self.error.as_dict()
        else:
            out["state"] = self.state
        if self.notification is not None:
            out["notification"] = {"id": self.notification}
        if self.changes is not None:
            out["changes"] = list(self.changes)
        if self.restart_required is not None:
            out["restart_required"] = list(self.restart_required)
        if self.kept is not None:
            out["kept"] = list(self.kept)
        if self.transaction is not None:
            out["transaction"] = self.transaction
        return out
