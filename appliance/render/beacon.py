"""Who starts the identify layer: ``cmd/identify`` (with its event and log line) and a flash.

Owns what an identify or a Home Assistant ``flash`` does to the top layer of the
stack (``appliance.render.compositor.IdentifyLayer``): the layer flashes for the
seconds asked, or on for longer when one is already running (a flash never cuts an
identify short). An identify is logged (``identify_started``) and published on
``<base>/events`` as ``{"event":"identify","seconds":...,"source":...}``; a flash is
logged (``flash_started``) only, as it is part of a light command that is already
answered and published in ``state``. Power is not this module's: a turn-off during
either is in ``state`` at once, and the panel is dark as soon as the flash ends (the
dark layer is under this one). Knows nothing of paho, topics or displays.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from appliance.render.compositor import IdentifyLayer
from appliance.wire.commands import Identify, SetAnimation, SetLight

log = structlog.get_logger("engine")


class Beacon:
    """Starts the identify layer for ``cmd/identify`` and for a light command's flash."""

    def __init__(self, width: int, height: int, event: Callable[..., None]) -> None:
        self.layer = IdentifyLayer(width, height)  # the top of the compositor's stack
        self.event = event

    def identify(self, cmd: Identify, now: float) -> None:
        """Flash for ``cmd.seconds``; log it and publish the ``identify`` event."""
        self.layer.start(cmd.seconds, now)
        log.info("identify_started", seconds=cmd.seconds, source=cmd.source)
        self.event("identify", seconds=cmd.seconds, source=cmd.source)

    def flash(self, cmd: SetLight | SetAnimation, now: float) -> None:
        """Flash for a light command's ``flash_s`` (after the rest of it was applied)."""
        if isinstance(cmd, SetLight) and cmd.flash_s is not None:
            self.layer.start(cmd.flash_s, now)
            log.info("flash_started", seconds=cmd.flash_s, state=cmd.power, source=cmd.source)
