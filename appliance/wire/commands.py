"""Wire models: command payloads in, replies and errors out.

Validates at the edge: ``parse_command(action, payload)`` turns raw MQTT bytes
into one of the frozen command dataclasses (the ``Command`` union, dispatched by the
engine with ``match``) or raises ``CommandError`` with a code, a human message and the
offending field. Replies are ``Reply`` values (``as_json()`` is the body). Payloads
are decoded by ``appliance.wire.jsonsafe`` (bounded nesting, finite numbers, no
duplicate keys: ``bad_json`` otherwise). Shared by
the engine and the bridge. Knows nothing of paho, displays, the render loop or Flask.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from appliance.wire import jsonsafe
from appliance.wire.command_base import RANGE_ERRORS as RANGE_ERRORS
from appliance.wire.command_base import (
    TRANSACTION_KEY,
    BaseCommand,
    Meta,
    split_transaction,
    validate_payload,
)
from appliance.wire.command_base import command_error as command_error
from appliance.wire.errors import CommandError, Transaction
from appliance.wire.look_commands import (
    LookCommand,
    parse_live,
    parse_playlist,
    parse_preset,
    parse_schedule,
)
from appliance.wire.notify_commands import Dismiss, Notify, parse_dismiss, parse_notify
from appliance.wire.payloads import (
    AnimationPayload,
    BrightnessPayload,
    IdentifyPayload,
    PowerPayload,
    PreviewPayload,
    SetPayload,
)
from appliance.wire.replies import Params

MAX_PAYLOAD_BYTES = 64 * 1024
#: How far from now a ``start_at`` may be, either way (contract section 5).
START_AT_WINDOW_S = 24 * 3600.0


@dataclass(frozen=True)
class SetLight(BaseCommand):
    """Home Assistant JSON light (``<base>/set``): any subset of its fields."""

    ACTION: ClassVar[str] = "set"
    effect: str | None = None
    params: Params | None = None
    brightness: int | None = None
    power: Literal["ON", "OFF"] | None = None
    transition_s: float | None = None
    start_at: float | None = None
    #: Seconds to flash the panel (drawn like identify, over the rest of the command).
    flash_s: float | None = None


@dataclass(frozen=True)
class SetAnimation(BaseCommand):
    """Switch animation, optionally at a fleet start time."""

    ACTION: ClassVar[str] = "animation"
    name: str
    params: Params = field(default_factory=dict)
    start_at: float | None = None


@dataclass(frozen=True)
class SetBrightness(BaseCommand):
    """Brightness 0-100 (0 turns the display off and keeps the last level)."""

    ACTION: ClassVar[str] = "brightness"
    pct: int


@dataclass(frozen=True)
class SetPower(BaseCommand):
    """Power ON, OFF or TOGGLE."""

    ACTION: ClassVar[str] = "power"
    state: Literal["ON", "OFF", "TOGGLE"]


@dataclass(frozen=True)
class SetParams(BaseCommand):
    """Change parameters of the animation on screen (or the one scheduled)."""

    ACTION: ClassVar[str] = "params"
    params: Params


@dataclass(frozen=True)
class ApplyConfig(BaseCommand):
    """A remote settings change: a patch (or, with ``replace``, a whole document)."""

    ACTION: ClassVar[str] = "config"
    #: The settings document (JSON), still holding the ``replace`` meta key if given.
    patch: Mapping[str, object]

    @property
    def replace(self) -> bool:
        """True when the patch asked to replace the whole document."""
        return self.patch.get("replace") is True


@dataclass(frozen=True)
class Reload(BaseCommand):
    """Re-read settings.json and apply it."""

    ACTION: ClassVar[str] = "reload"


@dataclass(frozen=True)
class Identify(BaseCommand):
    """Flash the panel to find it."""

    ACTION: ClassVar[str] = "identify"
    seconds: float = 5.0


@dataclass(frozen=True)
class Preview(BaseCommand):
    """Stream downscaled frames on ``<base>/preview`` for a while."""

    ACTION: ClassVar[str] = "preview"
    fps: float = 5.0
    ttl_s: float = 30.0


@dataclass(frozen=True)
class Invalid(BaseCommand):
    """A command refused at the edge: only its name and meta survive, to be counted and answered."""

    name: str

    @property
    def action(self) -> str:
        """The action the refused payload was sent to."""
        return self.name


#: Every command a payload can become.
Command = (SetLight | SetAnimation | SetBrightness | SetPower | SetParams | ApplyConfig | Reload
           | Identify | Preview | Notify | Dismiss | LookCommand)


#: MQTT 5 user property naming where a command came from; the bridge sets it to `http`.
SOURCE_PROPERTY = "source"
#: The only sources a command may name; anything else is recorded as `mqtt`.
COMMAND_SOURCES = ("http", "mqtt")


def command_source(user_properties: list[tuple[str, str]] | None) -> str:
    """Return where a command says it came from: `http` or `mqtt` (the default).

    Only a label for the config history and change log (who may command a box is
    the broker ACL's business), so an unknown value is not an error: it reads `mqtt`.
    """
    for key, value in user_properties or ():
        if key == SOURCE_PROPERTY and value in COMMAND_SOURCES:
            return value
    return "mqtt"


def _decode(payload: bytes) -> Any:
    """Decode a payload: bounded JSON when it parses, else the bare text."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise CommandError("payload_too_large", f"payload over {MAX_PAYLOAD_BYTES} bytes")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError("invalid_payload", "payload is not UTF-8 text") from None
    stripped = text.strip()
    if not stripped:
        return None
    try:
        return jsonsafe.loads(stripped)
    except jsonsafe.JSONError as exc:
        if exc.syntax and stripped[0] not in "{[\"":
            return stripped  # a bare value such as `plasma` or `ON`
        raise CommandError("bad_json", exc.message, exc.field) from None


def _check_start_at(start_at: float | None, now: float | None) -> None:
    """Refuse a start time that is not finite or further than a day from ``now``."""
    if start_at is None:
        return
    now = time.time() if now is None else now
    if not math.isfinite(start_at) or abs(start_at - now) > START_AT_WINDOW_S:
        raise CommandError(
            "out_of_range",
            f"start_at: must be epoch seconds within {START_AT_WINDOW_S:.0f} s of now "
            f"({now:.0f}), got {start_at:.6g}", "start_at")


def parse_command(action: str, payload: bytes, now: float | None = None,
                  source: str = "mqtt") -> Command:
    """Validate a raw command payload for ``action`` and return its typed command.

    ``now`` (epoch seconds, default the wall clock) is what ``start_at`` is checked
    against; ``source`` goes into the command's meta. Numbers are finite by
    construction: the decoder refuses the others.
    """
    data = _decode(payload)
    if action in ("notify", "playlist") and isinstance(data, int | float):
        data = payload.decode("utf-8").strip()  # bare text such as `42` stays as written
    parser = _PARSERS.get(action)
    if parser is None:
        raise CommandError("unknown_command", f"unknown command {action!r}")
    return parser(data, now, source)


def _parse_set(data: Any, now: float | None, source: str) -> Command:
    m = validate_payload(SetPayload, data)
    _check_start_at(m.start_at, now)
    return SetLight(effect=m.effect, params=m.params, brightness=m.brightness, power=m.state,
                    transition_s=m.transition, start_at=m.start_at, flash_s=m.flash,
                    meta=Meta(m.transaction, source))


def _parse_animation(data: Any, now: float | None, source: str) -> Command:
    if isinstance(data, str):
        data = {"name": data}
    m = validate_payload(AnimationPayload, data)
    _check_start_at(m.start_at, now)
    return SetAnimation(m.name, m.params, m.start_at, meta=Meta(m.transaction, source))


def _parse_brightness(data: Any, now: float | None, source: str) -> Command:
    if isinstance(data, int | float) and not isinstance(data, bool):
        data = {"brightness": data}
    elif isinstance(data, str):
        raise CommandError("invalid_value", f"brightness must be a number 0-100, got {data!r}",
                           "brightness")
    m = validate_payload(BrightnessPayload, data)
    return SetBrightness(m.brightness, meta=Meta(m.transaction, source))


def _parse_power(data: Any, now: float | None, source: str) -> Command:
    if isinstance(data, str):
        data = {"state": data.upper()}
    elif isinstance(data, dict) and isinstance(data.get("state"), str):
        data = {**data, "state": data["state"].upper()}
    m = validate_payload(PowerPayload, data)
    return SetPower(m.state, meta=Meta(m.transaction, source))


def _object(action: str, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise CommandError("invalid_payload", f"{action} must be a JSON object")
    return data


def _parse_params(data: Any, now: float | None, source: str) -> Command:
    body, txn = split_transaction(_object("params", data))
    return SetParams(body, meta=Meta(txn, source))


def _parse_config(data: Any, now: float | None, source: str) -> Command:
    body, txn = split_transaction(_object("config", data))
    return ApplyConfig(body, meta=Meta(txn, source))


def _parse_reload(data: Any, now: float | None, source: str) -> Command:
    txn = None
    if isinstance(data, dict):
        body, txn = split_transaction(data)
        if body:
            key = next(iter(body))
            raise CommandError("unknown_field", f"unknown key {key!r}", key)
    return Reload(meta=Meta(txn, source))


def _parse_identify(data: Any, now: float | None, source: str) -> Command:
    m = validate_payload(IdentifyPayload, data if data is not None else {})
    return Identify(m.seconds, meta=Meta(m.transaction, source))


def _parse_preview(data: Any, now: float | None, source: str) -> Command:
    m = validate_payload(PreviewPayload, data if data is not None else {})
    return Preview(m.fps, m.ttl_s, meta=Meta(m.transaction, source))


_PARSERS: dict[str, Callable[[Any, float | None, str], Command]] = {
    "set": _parse_set, "animation": _parse_animation, "brightness": _parse_brightness,
    "power": _parse_power, "params": _parse_params, "config": _parse_config,
    "reload": _parse_reload, "identify": _parse_identify, "preview": _parse_preview,
    "notify": parse_notify, "notify/dismiss": parse_dismiss, "preset": parse_preset,
    "playlist": parse_playlist, "schedule": parse_schedule, "live": parse_live,
}


def transaction_of(payload: bytes) -> Transaction:
    """Best-effort: the transaction key of a payload that failed validation."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return None
    try:
        data = jsonsafe.loads(payload.decode("utf-8"))
    except (jsonsafe.JSONError, UnicodeDecodeError):
        return None
    if isinstance(data, dict):
        txn = data.get(TRANSACTION_KEY)
        if isinstance(txn, str | int) and not isinstance(txn, bool):
            return txn
    return None
