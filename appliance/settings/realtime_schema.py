"""The ``realtime`` section of settings.json (contract section 9): DDP, E1.31, Art-Net.

Pure pydantic models; all receivers are off by default. Knows no sockets.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Port = Annotated[int, Field(ge=1, le=65535)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DDPSettings(_Section):
    """DDP (UDP 4048): xLights, LedFx, Hyperion."""

    enabled: bool = False
    port: Port = 4048


class E131Settings(_Section):
    """E1.31 / sACN (UDP 5568), unicast and multicast 239.255.<hi>.<lo>."""

    enabled: bool = False
    port: Port = 5568
    #: The first universe of the frame; the frame takes consecutive universes from here.
    universe: Annotated[int, Field(ge=1, le=63999)] = 1
    multicast: bool = True


class ArtNetSettings(_Section):
    """Art-Net (UDP 6454): ArtDmx, ArtSync, and ArtPoll answered."""

    enabled: bool = False
    port: Port = 6454
    #: The first port-address (15 bits) of the frame.
    universe: Annotated[int, Field(ge=0, le=32767)] = 0


class RealtimeSettings(_Section):
    """Realtime input: the live layer over the base while a stream sends frames."""

    ddp: DDPSettings = Field(default_factory=DDPSettings)
    e131: E131Settings = Field(default_factory=E131Settings)
    artnet: ArtNetSettings = Field(default_factory=ArtNetSettings)
    #: The local address the receivers listen on: an IP address, never a host name.
    bind: str = "0.0.0.0"
    timeout_s: Annotated[float, Field(ge=0.1, le=3600)] = 2.5
    on_timeout: Literal["resume", "blank", "hold"] = "resume"

    @field_validator("bind")
    @classmethod
    def _ip_literal(cls, v: str) -> str:
        try:
            return str(ipaddress.ip_address(v))
        except ValueError:
            raise ValueError(f"must be an IP address such as 0.0.0.0 or 127.0.0.1, "
                             f"got {v!r}") from None
