"""Command payloads as strict pydantic models, shared by MQTT and HTTP.

Owns the shapes a command may take on the wire, and ``strict_view``: the HTTP
bodies are views of the same models (JSON objects only, no coercion, no
``transaction``), so a field's limits are written once. Imports nothing of the
engine, the bridge, paho or the render loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from appliance.wire.errors import Transaction


class PayloadModel(BaseModel):
    """Base of the wire payloads. Each model's validator is built on its first use (a
    command of that kind), not on import: the engine's start-up needs none of them."""

    model_config = ConfigDict(extra="forbid", strict=False, defer_build=True)


#: Seconds of Home Assistant's short and long flash. Its JSON-schema light sends
#: ``"flash": flash_time_short`` (or ``_long``) from the discovery document, which
#: gives these, so both sides agree; the words ``short``/``long`` map to them too.
FLASH_SHORT_S = 2
FLASH_LONG_S = 10
#: The longest flash (and identify) in seconds.
FLASH_MAX_S = 60
FLASH_WORDS = {"short": FLASH_SHORT_S, "long": FLASH_LONG_S}


def _flash_seconds(value: object) -> object:
    """Map the words ``short``/``long`` to their seconds; refuse any other text."""
    if isinstance(value, str):
        if value not in FLASH_WORDS:
            raise ValueError(f"seconds or 'short'/'long', got {value!r}")
        return float(FLASH_WORDS[value])
    return value


class SetPayload(PayloadModel):
    """Home Assistant JSON-light command (any subset)."""

    state: Literal["ON", "OFF"] | None = None
    brightness: Annotated[int, Field(ge=1, le=100, strict=True)] | None = None
    effect: str | None = None
    transition: Annotated[float, Field(ge=0, le=3600)] | None = None
    flash: Annotated[float, BeforeValidator(_flash_seconds),
                     Field(gt=0, le=FLASH_MAX_S, strict=True)] | None = None
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

    seconds: Annotated[float, Field(gt=0, le=FLASH_MAX_S)] = 5.0
    transaction: Transaction = None


class PreviewPayload(PayloadModel):
    """Stream downscaled frames on ``<base>/preview`` for a while."""

    fps: Annotated[float, Field(gt=0, le=15)] = 5.0
    ttl_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    transaction: Transaction = None


class StrictBody(BaseModel):
    """Base of the HTTP views: a JSON object, no type coercion, no unknown keys."""

    model_config = ConfigDict(extra="forbid", strict=True)


#: The longest animation name the HTTP API passes on (the engine's catalogue decides
#: which exist; over MQTT a longer name is simply an unknown animation).
ANIMATION_NAME_MAX = 32
#: An animation name as HTTP takes it: 1 to ANIMATION_NAME_MAX characters.
HttpAnimationName = Annotated[str, Field(min_length=1, max_length=ANIMATION_NAME_MAX)]


def strict_view(model: type[PayloadModel], name: str, doc: str, *,
                drop: tuple[str, ...] = ("transaction",),
                fields: Mapping[str, tuple[Any, Any]] | None = None,
                validators: Mapping[str, Callable[..., Any]] | None = None,
                ) -> type[StrictBody]:
    """Return ``model`` as a strict HTTP body named ``name``: same fields and limits.

    ``drop`` removes wire-only fields, ``fields`` tightens one (``(annotation,
    default)`` as ``pydantic.create_model`` takes it), ``validators`` adds
    ``field_validator``s by name.
    """
    spec: dict[str, Any] = {n: (f.annotation, f) for n, f in model.model_fields.items()
                            if n not in drop}
    spec.update(fields or {})
    view: type[StrictBody] = create_model(name, __base__=StrictBody, __doc__=doc,
                                          __validators__=dict(validators or {}), **spec)
    return view


#: A notification id (contract section 7).
NOTIFICATION_ID = r"^[A-Za-z0-9_.-]{1,64}$"
#: A colour as ``#rrggbb``.
HEX_COLOUR = r"^#[0-9a-fA-F]{6}$"
#: The longest notification text, in characters (code points).
NOTIFY_TEXT_MAX = 280


class NotifyPayload(PayloadModel):
    """``cmd/notify``: a message over whatever is playing (a bare string is the text)."""

    text: Annotated[str, Field(min_length=1, max_length=NOTIFY_TEXT_MAX)]
    id: Annotated[str, Field(pattern=NOTIFICATION_ID)] | None = None
    color: Annotated[str, Field(pattern=HEX_COLOUR)] = "#ffffff"
    background: Annotated[str, Field(pattern=HEX_COLOUR)] | None = None
    icon: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    position: Literal["banner", "fullscreen"] = "banner"
    duration_s: Annotated[float, Field(ge=1, le=3600)] = 8.0
    priority: Annotated[int, Field(ge=0, le=100, strict=True)] = 50
    hold: bool = False
    wake: bool = False
    ttl_s: Annotated[float, Field(ge=1, le=86400)] = 600.0
    transaction: Transaction = None


class DismissPayload(PayloadModel):
    """``cmd/notify/dismiss``: ``{"id": ...}``; the bare forms (an id, ``all``, empty) map here."""

    id: Annotated[str, Field(pattern=NOTIFICATION_ID)] | None = None
    all: bool = False
    transaction: Transaction = None
