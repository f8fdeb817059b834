"""What every typed command shares: its metadata, its base class and payload validation.

Used by ``appliance.wire.commands`` (the commands and ``parse_command``) and
``appliance.wire.notify_commands``. Knows nothing of paho, displays, the render loop or Flask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import ValidationError

from appliance.wire.errors import CommandError, Transaction
from appliance.wire.payloads import PayloadModel

#: Keys that carry request metadata rather than command content.
TRANSACTION_KEY = "transaction"


@dataclass(frozen=True)
class Meta:
    """Request metadata every command carries: the echoed transaction and its source."""

    transaction: Transaction = None
    #: Where it came from (``http``, ``mqtt``, ``signal``, ``config``): a label for logs.
    source: str = "mqtt"


@dataclass(frozen=True, kw_only=True)
class BaseCommand:
    ACTION: ClassVar[str] = ""
    #: Counted in ``commands_total``: False for the box's own timers (the scheduler's
    #: ``ApplySchedule``, the image watch's ``LeaveImage``).
    COUNTED: ClassVar[bool] = True
    meta: Meta = Meta()

    @property
    def action(self) -> str:
        """The command's name on the wire (``cmd/<action>``)."""
        return self.ACTION

    @property
    def transaction(self) -> Transaction:
        """The transaction to echo in the reply."""
        return self.meta.transaction

    @property
    def source(self) -> str:
        """Where the command came from."""
        return self.meta.source




def validate_payload(model: type[PayloadModel], data: Any) -> Any:
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


def split_transaction(data: dict[str, Any]) -> tuple[dict[str, Any], Transaction]:
    data = dict(data)
    txn = data.pop(TRANSACTION_KEY, None)
    if txn is not None and (isinstance(txn, bool) or not isinstance(txn, str | int)):
        raise CommandError("invalid_value", "transaction must be a string or integer",
                           "transaction")
    return data, txn


