"""HTTP request bodies: strict views of the wire payload models, validated at the edge.

Owns the shapes the HTTP API accepts (stricter than MQTT: JSON objects only,
no bare values, no type coercion, no ``transaction``) as views of
``appliance.wire.payloads`` (one definition of every field's limits), the
login body, and turning validation errors into HTTP errors that name the
field. The OpenAPI document is generated from them. Knows nothing of MQTT or
Flask routing.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import Field, ValidationError, field_validator

from appliance.wire.commands import command_error
from appliance.wire.payloads import (
    AnimationPayload,
    BrightnessPayload,
    DismissPayload,
    HttpAnimationName,
    IdentifyPayload,
    NotifyPayload,
    PowerPayload,
    StrictBody,
    strict_view,
)
from bridge.errors import ApiError


def _any_case(cls: type[StrictBody], v: Any) -> Any:
    return v.upper() if isinstance(v, str) else v


AnimationBody = strict_view(AnimationPayload, "AnimationBody",
                            "Switch animation (``cmd/animation``).",
                            fields={"name": (HttpAnimationName, ...)})
BrightnessBody = strict_view(BrightnessPayload, "BrightnessBody",
                             "Brightness in percent; 0 turns the display off and keeps the level.")
PowerBody = strict_view(PowerPayload, "PowerBody",
                        "Power state, in any case (`on`, `On`, `ON`), as ``cmd/power`` takes it.",
                        validators={"_any_case": field_validator("state", mode="before")(
                            classmethod(_any_case))})  # type: ignore[dict-item]
IdentifyBody = strict_view(IdentifyPayload, "IdentifyBody", "Flash the panel for a few seconds.")
NotifyBody = strict_view(NotifyPayload, "NotifyBody",
                         "A message over whatever is playing (``cmd/notify``, contract section 7).")
DismissBody = strict_view(DismissPayload, "DismissBody",
                          "End a notification by id (``cmd/notify/dismiss``).",
                          drop=("transaction", "all"))


class LoginBody(StrictBody):
    """The bridge token, exchanged for an HttpOnly session cookie."""

    token: Annotated[str, Field(min_length=1, max_length=512)]


M = TypeVar("M", bound=StrictBody)


def validate_body(model: type[M], data: Any) -> M:
    """Validate a decoded JSON body or raise a 400/422 ApiError naming the field."""
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_payload",
                       f"expected a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = command_error(exc)
        # A key that does not exist is a malformed request; a bad value is unprocessable.
        status = 400 if err.code == "unknown_field" else 422
        raise ApiError(status, err.code, err.message, {"field": err.field},
                       field=err.field) from None
