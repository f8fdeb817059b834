"""Command payloads as strict pydantic models, shared by MQTT and HTTP.

Owns the shapes a command may take on the wire. Imports nothing of the engine, the
bridge, paho or the render loop.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from appliance.wire.errors import Transaction


class PayloadModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class SetPayload(PayloadModel):
    """Home Assistant JSON-light command (any subset)."""

    state: Literal["ON", "OFF"] | None = None
    brightness: Annotated[int, Field(ge=1, le=100, strict=True)] | None = None
    effect: str | None = None
    transition: Annotated[float, Field(ge=0, le=3600)] | None = None
    params: dict[str, Any] | None = None
    start_at: Annotated[float, Field(gt=0)] | None = None
    transaction: Transaction = None


class AnimationPayload(PayloadModel):
    """Switch animation, optionally with parameters and a fleet start time."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    start_at: Annotated[float, Field(gt=0)] | None = None
    transaction: Transaction = None


class BrightnessPayload(PayloadModel):
    """Brightness 0-100; 0 turns the display off and keeps the last level."""

    brightness: Annotated[int, Field(ge=0, le=100, strict=True)]
    transaction: Transaction = None


class PowerPayload(PayloadModel):
    """Power state."""

    state: Literal["ON", "OFF", "TOGGLE"]
    transaction: Transaction = None


class IdentifyPayload(PayloadModel):
    """Flash the panel to find it."""

    seconds: Annotated[float, Field(gt=0, le=60)] = 5.0
    transaction: Transaction = None


class PreviewPayload(PayloadModel):
    """Stream downscaled frames on ``<base>/preview`` for a while."""

    fps: Annotated[float, Field(gt=0, le=15)] = 5.0
    ttl_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    transaction: Transaction = None
