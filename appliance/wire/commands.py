"""Wire models: command payloads in, replies and errors out.

Validates at the edge: ``parse_command(action, payload)`` turns raw MQTT bytes
into a typed ``Command`` or raises ``CommandError`` with a code, a human message
and the offending field. Payloads are decoded by ``appliance.wire.jsonsafe`` (bounded
nesting, finite numbers, no duplicate keys: ``bad_json`` otherwise). Shared by
the engine and the bridge. Knows nothing of paho, displays, the render loop or Flask.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from appliance.wire import jsonsafe
from appliance.wire.errors import CommandError, Transaction
from appliance.wire.payloads import (
    AnimationPayload,
    BrightnessPayload,
    IdentifyPayload,
    PayloadModel,
    PowerPayload,
    PreviewPayload,
    SetPayload,
)

#: Keys that carry request metadata rather than command content.
TRANSACTION_KEY = "transaction"
MAX_PAYLOAD_BYTES = 64 * 1024
#: How far from now a ``start_at`` may be, either way (contract section 5).
START_AT_WINDOW_S = 24 * 3600.0

@dataclass
class Command:
    """A validated command, ready for the render loop.

    Only the fields of its action are set. ``transaction`` is echoed on
    ``<base>/response``; the reply route is attached by the MQTT link.
    """

    action: str
    effect: str | None = None
    params: dict[str, Any] | None = None
    brightness: int | None = None
    power: str | None = None
    transition_s: float | None = None
    start_at: float | None = None
    config: dict[str, Any] | None = None
    identify_s: float | None = None
    preview_fps: float | None = None
    preview_ttl_s: float | None = None
    transaction: Transaction = None
    source: str = "mqtt"
    extra: dict[str, Any] = field(default_factory=dict)


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


def _validate(model: type[PayloadModel], data: Any) -> Any:
    if not isinstance(data, dict):
        raise CommandError(
            "invalid_payload", f"expected a JSON object, got {type(data).__name__}"
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise command_error(exc) from None


RANGE_ERRORS = ("greater_than_equal", "less_than_equal", "greater_than", "less_than",
                "string_too_short", "string_too_long")


def command_error(exc: ValidationError) -> CommandError:
    """Turn pydantic's first error into a CommandError naming the field (shared with the bridge)."""
    # A typo shows up as an unknown key AND a missing one: name the typo first.
    err = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
    loc = ".".join(str(p) for p in err["loc"]) or None
    if err["type"] == "extra_forbidden":
        return CommandError("unknown_field", f"unknown key {loc!r}", loc)
    if err["type"] == "missing":
        return CommandError("missing_field", f"{loc} is required", loc)
    code = "out_of_range" if err["type"] in RANGE_ERRORS else "invalid_value"
    return CommandError(code, f"{loc}: {err['msg']}", loc)


def _split_transaction(data: dict[str, Any]) -> tuple[dict[str, Any], Transaction]:
    data = dict(data)
    txn = data.pop(TRANSACTION_KEY, None)
    if txn is not None and (isinstance(txn, bool) or not isinstance(txn, str | int)):
        raise CommandError("invalid_value", "transaction must be a string or integer",
                           "transaction")
    return data, txn


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


def parse_command(action: str, payload: bytes, now: float | None = None) -> Command:
    """Validate a raw command payload for ``action`` and return a typed Command.

    ``now`` (epoch seconds, default the wall clock) is what ``start_at`` is checked
    against. Numbers are finite by construction: the decoder refuses the others.
    """
    data = _decode(payload)
    if action == "set":
        m = _validate(SetPayload, data)
        _check_start_at(m.start_at, now)
        return Command(
            action, effect=m.effect, params=m.params, brightness=m.brightness,
            power=m.state, transition_s=m.transition, start_at=m.start_at,
            transaction=m.transaction,
        )
    if action == "animation":
        if isinstance(data, str):
            data = {"name": data}
        m = _validate(AnimationPayload, data)
        _check_start_at(m.start_at, now)
        return Command(action, effect=m.name, params=m.params, start_at=m.start_at,
                       transaction=m.transaction)
    if action == "brightness":
        if isinstance(data, int | float) and not isinstance(data, bool):
            data = {"brightness": data}
        elif isinstance(data, str):
            raise CommandError("invalid_value", f"brightness must be a number 0-100, got {data!r}",
                               "brightness")
        m = _validate(BrightnessPayload, data)
        return Command(action, brightness=m.brightness, transaction=m.transaction)
    if action == "power":
        if isinstance(data, str):
            data = {"state": data.upper()}
        elif isinstance(data, dict) and isinstance(data.get("state"), str):
            data = {**data, "state": data["state"].upper()}
        m = _validate(PowerPayload, data)
        return Command(action, power=m.state, transaction=m.transaction)
    if action in ("params", "config"):
        if not isinstance(data, dict):
            raise CommandError("invalid_payload", f"{action} must be a JSON object")
        body, txn = _split_transaction(data)
        if action == "params":
            return Command(action, params=body, transaction=txn)
        return Command(action, config=body, transaction=txn)
    if action == "reload":
        txn = None
        if isinstance(data, dict):
            body, txn = _split_transaction(data)
            if body:
                key = next(iter(body))
                raise CommandError("unknown_field", f"unknown key {key!r}", key)
        return Command(action, transaction=txn)
    if action == "identify":
        m = _validate(IdentifyPayload, data if data is not None else {})
        return Command(action, identify_s=m.seconds, transaction=m.transaction)
    if action == "preview":
        m = _validate(PreviewPayload, data if data is not None else {})
        return Command(action, preview_fps=m.fps, preview_ttl_s=m.ttl_s,
                       transaction=m.transaction)
    raise CommandError("unknown_command", f"unknown command {action!r}")


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


def ok_reply(state: dict[str, Any], transaction: Transaction = None) -> dict[str, Any]:
    """Return a success reply body."""
    out: dict[str, Any] = {"ok": True, "state": state}
    if transaction is not None:
        out["transaction"] = transaction
    return out


def error_reply(err: CommandError, transaction: Transaction = None) -> dict[str, Any]:
    """Return a failure reply body."""
    out: dict[str, Any] = {"ok": False, "error": err.as_dict()}
    if transaction is not None:
        out["transaction"] = transaction
    return out
