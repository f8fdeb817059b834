"""What every realtime packet parser returns when it will not use a packet: ``Refused``.

The parsers (``ddp``, ``e131``, ``artnet``) are pure functions from a datagram's
bytes to a typed packet or a ``Refused`` naming why; they never raise on any input.
Knows nothing of sockets, frames or the render loop.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Refused:
    """A datagram the receivers do not use, and why (``reason`` is snake_case).

    ``invalid`` is True for short, malformed or foreign packets (they count in
    ``live_packets_invalid_total``); False for well-formed packets the appliance has
    no use for (E1.31 preview data or discovery, Art-Net opcodes it does not serve).
    """

    reason: str
    invalid: bool = True
