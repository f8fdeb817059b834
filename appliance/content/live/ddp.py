"""DDP (Distributed Display Protocol, UDP 4048): the packet parser.

Written to the protocol's documentation (http://www.3waylabs.com/ddp/); no Python
library is worth depending on for ten header bytes. The header, big-endian::

    byte 0    flags   V V x T S R Q P   version 01 (0x40), T timecode 0x10, S storage 0x08,
                                        R reply 0x04, Q query 0x02, P push 0x01
    byte 1    sequence: low nibble 1-15 (0 = not used)
    byte 2    data type  C R TTT SSS   (0x0B: RGB, 8 bits each; 0x00 undefined)
    byte 3    destination id (1 = the default output device, 255 = all devices)
    4-7       data offset in bytes (32 bits)
    8-9       data length in bytes (16 bits)
    10-13     timecode (only when the T flag is set)

Accepted: version 1, no query/reply/storage, a data type that is undefined or RGB
with 8 bits an element (``C`` and ``R`` bits clear), destination 0, 1 or 255, at most
1440 data bytes and no more than the datagram holds. ``parse`` is pure and never
raises; the returned ``data`` is a view into the caller's buffer (copy it before
the buffer is reused). Knows nothing of sockets, frames or the render loop.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from appliance.content.live.packets import Refused

PORT = 4048
HEADER = 10
HEADER_TIMECODE = 14
MAX_DATA = 1440
VERSION_MASK, VERSION_1 = 0xC0, 0x40
FLAG_TIMECODE, FLAG_STORAGE, FLAG_REPLY, FLAG_QUERY, FLAG_PUSH = 0x10, 0x08, 0x04, 0x02, 0x01
DEST_DEFAULT, DEST_ALL = 1, 255
#: Destination ids that address the display (0 is "reserved": some senders use it).
DISPLAY_DESTINATIONS = frozenset({0, DEST_DEFAULT, DEST_ALL})
TYPE_RGB8 = 0x0B
_HEAD = struct.Struct(">BBBBIH")


@dataclass(frozen=True, slots=True)
class DDPPacket:
    """One DDP data packet (``data`` views the datagram: copy before reuse)."""

    push: bool
    sequence: int  # 0-15 (0: the sender does not number its packets)
    data_type: int
    destination: int
    offset: int  # byte offset into the frame
    data: memoryview
    timecode: int | None = None


def _type_ok(data_type: int) -> bool:
    """Undefined (0) or RGB, each element undefined-size or 8 bits, standard (C=0, R=0)."""
    if data_type & 0xC0:
        return False
    kind, size = (data_type >> 3) & 0x07, data_type & 0x07
    return kind in (0, 1) and size in (0, 3)


def parse(datagram: bytes | bytearray | memoryview) -> DDPPacket | Refused:
    """Parse one datagram as a DDP data packet for the display, or say why not."""
    view = memoryview(datagram).cast("B") if not isinstance(datagram, memoryview) else datagram
    n = len(view)
    if n < HEADER:
        return Refused("ddp_short")
    flags, seq, data_type, dest, offset, length = _HEAD.unpack_from(view, 0)
    if flags & VERSION_MASK != VERSION_1:
        return Refused("ddp_version")
    if flags & (FLAG_QUERY | FLAG_REPLY | FLAG_STORAGE):
        return Refused("ddp_not_data", invalid=False)
    start = HEADER
    timecode = None
    if flags & FLAG_TIMECODE:
        if n < HEADER_TIMECODE:
            return Refused("ddp_short")
        timecode = int.from_bytes(view[HEADER:HEADER_TIMECODE], "big")
        start = HEADER_TIMECODE
    if length > MAX_DATA:
        return Refused("ddp_too_long")
    if start + length > n:
        return Refused("ddp_length")
    if dest not in DISPLAY_DESTINATIONS:
        return Refused("ddp_destination")
    if not _type_ok(data_type):
        return Refused("ddp_data_type")
    return DDPPacket(push=bool(flags & FLAG_PUSH), sequence=seq & 0x0F, data_type=data_type,
                     destination=dest, offset=offset, data=view[start:start + length],
                     timecode=timecode)


def header(offset: int, length: int, push: bool, sequence: int = 0,
           data_type: int = TYPE_RGB8, destination: int = DEST_DEFAULT) -> bytes:
    """The 10-byte header of a data packet (for senders and tests)."""
    flags = VERSION_1 | (FLAG_PUSH if push else 0)
    return _HEAD.pack(flags, sequence & 0x0F, data_type, destination, offset, length)
