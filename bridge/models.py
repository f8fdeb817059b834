"""HTTP request bodies: strict pydantic models, validated at the edge.

Owns the shapes the HTTP API accepts (stricter than MQTT: JSON objects only,
no bare values, no type coercion) and turning validation errors into HTTP
errors that name the field. The OpenAPI document is generated from them.
Knows nothing of MQTT or Flask routing.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from appliance.wire.commands import command_error
from bridge.errors import ApiError


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class AnimationBody(_Body):
    """Switch animation (``cmd/animation``)."""

    name: Annotated[str, Field(min_length=1, max_length=32)]
    params: dict[str, Any] = Field(default_factory=dict)
    start_at: Annotated[float, Field(gt=0)] | None = None


class BrightnessBody(_Body):
    """Brightness in percent; 0 turns the display off and keeps the level."""

    brightness: Annotated[int, Field(ge=0, le=100)]


class PowerBody(_Body):
    """Power state, in any case (`on`, `On`, `ON`), as ``cmd/power`` takes it."""

    state: Literal["ON", "OFF", "TOGGLE"]

    @field_validator("state", mode="before")
    @classmethod
    def _any_case(cls, v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v


class IdentifyBody(_Body):
    """Flash the panel for a few seconds."""

    seconds: Annotated[float, Field(gt=0, le=60)] = 5.0


class LoginBody(_Body):
    """The bridge token, exchanged for an HttpOnly session cookie."""

    token: Annotated[str, Field(min_length=1, max_length=512)]


M = TypeVar("M", bound=_Body)


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
