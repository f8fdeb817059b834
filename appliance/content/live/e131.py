"""E1.31 (sACN, UDP 5568): the packet parser and the standard's sequence rule.

A parser of our own rather than the ``sacn`` library's receiver: that receiver owns
its socket and thread (no ``recvfrom``, so no per-packet source address, no port 0,
no preallocated buffer), converts every datagram to a Python list, ignores
synchronization packets and keeps per-universe state without a bound. Its sender is
a good independent source for the tests, so it stays a development dependency.

Layout (ANSI E1.31-2016), offsets in bytes, big-endian::

    0-1 preamble size 0x0010   2-3 postamble 0   4-15 "ASC-E1.17\\0\\0\\0"
    16-17 flags+length   18-21 root vector (4 data, 8 extended)   22-37 CID
    data:  38-39 flags+length  40-43 vector 2  44-107 source name  108 priority (0-200)
           109-110 sync address  111 sequence  112 options (0x80 preview,
           0x40 stream terminated)  113-114 universe (1-63999)
           115-116 flags+length  117 vector 2  118 address type 0xA1
           119-120 first address 0  121-122 increment 1  123-124 property count
           125 start code (0 = DMX levels)  126- up to 512 slots
    sync:  38-39 flags+length  40-43 vector 1  44 sequence  45-46 sync address

``parse`` is pure and never raises; ``data`` views the caller's buffer. Knows
nothing of sockets, frames or the render loop.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from dataclasses import dataclass

from appliance.content.live.packets import Refused

PORT = 5568
IDENTIFIER = b"ASC-E1.17\x00\x00\x00"
VECTOR_ROOT_DATA, VECTOR_ROOT_EXTENDED = 4, 8
VECTOR_FRAMING_DATA, VECTOR_EXTENDED_SYNC, VECTOR_EXTENDED_DISCOVERY = 2, 1, 2
OPT_PREVIEW, OPT_TERMINATED = 0x80, 0x40
MAX_PRIORITY = 200
UNIVERSE_MIN, UNIVERSE_MAX = 1, 63999
DATA_HEADER, SYNC_LENGTH = 126, 49
MAX_SLOTS = 512
_ROOT = struct.Struct(">HH12sHI16s")  # preamble, postamble, identifier, flags+len, vector, cid
_FRAMING = struct.Struct(">HI64sBHBBH")  # flags+len, vector, name, prio, sync, seq, options, uni
_DMP = struct.Struct(">HBBHHH")  # flags+len, vector, address type, first, increment, count
_SYNC = struct.Struct(">HIBH")  # flags+len, vector, sequence, sync address


@dataclass(frozen=True, slots=True)
class E131Data:
    """One E1.31 data packet (``data``: the DMX slots after the start code; a view)."""

    cid: bytes
    name: bytes  # the source name field, NUL-padded UTF-8
    priority: int
    sync_address: int
    sequence: int
    preview: bool
    terminated: bool
    universe: int
    start_code: int
    data: memoryview

    @property
    def source_name(self) -> str:
        """The sender's name, decoded."""
        return self.name.split(b"\0", 1)[0].decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class E131Sync:
    """One E1.31-2016 universe synchronization packet."""

    cid: bytes
    sequence: int
    sync_address: int


def parse(datagram: bytes | bytearray | memoryview) -> E131Data | E131Sync | Refused:
    """Parse one datagram as an E1.31 data or sync packet, or say why not."""
    view = datagram if isinstance(datagram, memoryview) else memoryview(datagram)
    n = len(view)
    if n < _ROOT.size:
        return Refused("e131_short")
    pre, post, ident, _, vector, cid = _ROOT.unpack_from(view, 0)
    if pre != 0x0010 or post != 0 or ident != IDENTIFIER:
        return Refused("e131_not_acn")
    if vector == VECTOR_ROOT_EXTENDED:
        return _extended(view, bytes(cid))
    if vector != VECTOR_ROOT_DATA:
        return Refused("e131_vector")
    if n < DATA_HEADER:
        return Refused("e131_short")
    _, fvec, name, prio, sync, seq, opts, uni = _FRAMING.unpack_from(view, 38)
    if fvec != VECTOR_FRAMING_DATA:
        return Refused("e131_vector")
    _, dvec, atype, first, incr, count = _DMP.unpack_from(view, 115)
    if dvec != 0x02 or atype != 0xA1 or first != 0 or incr != 1 or count < 1:
        return Refused("e131_malformed")
    slots = count - 1
    if slots > MAX_SLOTS or 125 + count > n:
        return Refused("e131_length")
    if prio > MAX_PRIORITY:
        return Refused("e131_priority")
    if not UNIVERSE_MIN <= uni <= UNIVERSE_MAX:
        return Refused("e131_universe")
    return E131Data(cid=bytes(cid), name=bytes(name), priority=prio, sync_address=sync,
                    sequence=seq, preview=bool(opts & OPT_PREVIEW),
                    terminated=bool(opts & OPT_TERMINATED), universe=uni,
                    start_code=view[125], data=view[DATA_HEADER:DATA_HEADER + slots])


def _extended(view: memoryview, cid: bytes) -> E131Sync | Refused:
    """A synchronization packet; discovery packets are well-formed but unused."""
    if len(view) < SYNC_LENGTH - 2:  # (the two reserved bytes are often left off)
        return Refused("e131_short")
    _, fvec, seq, sync = _SYNC.unpack_from(view, 38)
    if fvec == VECTOR_EXTENDED_SYNC:
        return E131Sync(cid=cid, sequence=seq, sync_address=sync)
    if fvec == VECTOR_EXTENDED_DISCOVERY:
        return Refused("e131_discovery", invalid=False)
    return Refused("e131_vector")


def out_of_order(last: int, new: int) -> bool:
    """E1.31 6.7.2: discard when ``new - last`` (8-bit, signed) is in (-20, 0]."""
    diff = ((new - last + 128) & 0xFF) - 128
    return -20 < diff <= 0


class SequenceFilter:
    """The last sequence number per (source, universe); bounded (oldest forgotten)."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._last: OrderedDict[tuple[str, int], int] = OrderedDict()

    def accept(self, source: str, universe: int, sequence: int) -> bool:
        """True when the packet is in order (and remember it); False: discard it."""
        key = (source, universe)
        last = self._last.get(key)
        if last is not None and out_of_order(last, sequence):
            return False
        self._last[key] = sequence
        if last is None and len(self._last) > self.capacity:
            self._last.popitem(last=False)
        return True

    def forget(self, source: str) -> None:
        """Drop a source's numbers (its stream terminated: a restart may begin anywhere)."""
        for key in [k for k in self._last if k[0] == source]:
            del self._last[key]
