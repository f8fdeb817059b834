"""Art-Net 4 (UDP 6454): the packet parser and the ArtPollReply that lets senders find the box.

Every packet starts ``"Art-Net\\0"`` and a 16-bit opcode, low byte first. Used:

    ArtDmx  0x5000  10-11 protocol version (14)  12 sequence  13 physical
                    14 SubUni  15 Net (port-address = Net << 8 | SubUni, 15 bits)
                    16-17 length, high byte first (2-512; odd lengths accepted)  18- data
    ArtSync 0x5200  (14 bytes)
    ArtPoll 0x2000  answered with ArtPollReply 0x2100 (239 bytes, below)

Other opcodes are well-formed traffic of other nodes: refused as unused, not invalid.
``parse`` is pure and never raises; ``data`` views the caller's buffer. Knows
nothing of sockets, frames or the render loop.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from appliance.content.live.packets import Refused

PORT = 6454
ID = b"Art-Net\x00"
OP_POLL, OP_POLL_REPLY, OP_DMX, OP_SYNC = 0x2000, 0x2100, 0x5000, 0x5200
PROTOCOL_VERSION = 14
DMX_HEADER = 18
MAX_SLOTS = 512
MAX_PORT_ADDRESS = 0x7FFF
PORTS_PER_REPLY = 4
REPLY_LENGTH = 239
SHORT_NAME = "LightBox"
_DMX = struct.Struct(">HBBBBH")  # version, sequence, physical, subuni, net, length


@dataclass(frozen=True, slots=True)
class ArtDmx:
    """One ArtDmx packet (``data``: the DMX slots, a view into the datagram)."""

    version: int
    sequence: int
    physical: int
    port_address: int
    data: memoryview


@dataclass(frozen=True, slots=True)
class ArtSync:
    """ArtSync: show the ArtDmx data received since the last one."""


@dataclass(frozen=True, slots=True)
class ArtPoll:
    """ArtPoll: a controller looking for nodes (answer with ArtPollReply)."""

    version: int


ArtPacket = ArtDmx | ArtSync | ArtPoll


def parse(datagram: bytes | bytearray | memoryview) -> ArtPacket | Refused:
    """Parse one datagram as ArtDmx, ArtSync or ArtPoll, or say why not."""
    view = datagram if isinstance(datagram, memoryview) else memoryview(datagram)
    n = len(view)
    if n < 12:
        return Refused("artnet_short")
    if view[:8] != ID:
        return Refused("artnet_id")
    opcode = view[8] | view[9] << 8
    version = view[10] << 8 | view[11]
    if opcode == OP_DMX:
        return _dmx(view)
    if opcode == OP_SYNC:
        return ArtSync()
    if opcode == OP_POLL:
        return ArtPoll(version=version)
    return Refused("artnet_opcode", invalid=False)


def _dmx(view: memoryview) -> ArtDmx | Refused:
    if len(view) < DMX_HEADER:
        return Refused("artnet_short")
    version, seq, physical, subuni, net, length = _DMX.unpack_from(view, 10)
    if not 1 <= length <= MAX_SLOTS:
        return Refused("artnet_length")
    if DMX_HEADER + length > len(view):
        return Refused("artnet_length")
    return ArtDmx(version=version, sequence=seq, physical=physical,
                  port_address=(net & 0x7F) << 8 | subuni,
                  data=view[DMX_HEADER:DMX_HEADER + length])


def dmx(port_address: int, data: bytes, sequence: int = 0) -> bytes:
    """An ArtDmx packet (for tests and tools)."""
    return (ID + struct.pack("<H", OP_DMX)
            + struct.pack(">HBBBBH", PROTOCOL_VERSION, sequence & 0xFF, 0, port_address & 0xFF,
                          (port_address >> 8) & 0x7F, len(data)) + data)


def poll_reply(ip: bytes, port_addresses: list[int], long_name: str,
               bind_index: int = 1) -> bytes:
    """One ArtPollReply (239 bytes) describing up to 4 output ports of one Net and Sub-Net.

    ``ip`` is the 4-byte address the senders should send to; ``port_addresses`` share
    their top 11 bits (Net and Sub-Net); ``bind_index`` numbers the replies of one node.
    """
    assert len(ip) == 4 and 1 <= len(port_addresses) <= PORTS_PER_REPLY
    first = port_addresses[0]
    n = len(port_addresses)
    out = bytearray(REPLY_LENGTH)
    out[0:8] = ID
    struct.pack_into("<H", out, 8, OP_POLL_REPLY)
    out[10:14] = ip
    struct.pack_into("<H", out, 14, PORT)  # the Art-Net port, low byte first
    struct.pack_into(">H", out, 16, 1)  # firmware version
    out[18] = (first >> 8) & 0x7F  # NetSwitch
    out[19] = (first >> 4) & 0x0F  # SubSwitch
    out[23] = 0xD0  # Status1: indicators normal, port-addresses set by network or front panel
    out[26:44] = SHORT_NAME.encode("ascii")[:17].ljust(18, b"\0")
    out[44:108] = long_name.encode("utf-8", "replace")[:63].ljust(64, b"\0")
    out[108:172] = b"#0001 [0000] LightBox ready".ljust(64, b"\0")
    struct.pack_into(">H", out, 172, n)  # NumPorts
    for i, addr in enumerate(port_addresses):
        out[174 + i] = 0x80  # PortTypes: can output DMX512 from the Art-Net network
        out[182 + i] = 0x80  # GoodOutputA: data being output
        out[190 + i] = addr & 0x0F  # SwOut
    out[200] = 0x00  # Style: StNode
    out[207:211] = ip  # BindIp
    out[211] = bind_index & 0xFF
    out[212] = 0x08  # Status2: Art-Net 3/4 15-bit port-addresses
    return bytes(out)


def poll_replies(ip: bytes, port_addresses: list[int], long_name: str) -> list[bytes]:
    """Every ArtPollReply for the universes served (groups of 4 within a Sub-Net)."""
    groups: list[list[int]] = []
    for addr in port_addresses:
        if groups and len(groups[-1]) < PORTS_PER_REPLY and groups[-1][0] >> 4 == addr >> 4:
            groups[-1].append(addr)
        else:
            groups.append([addr])
    return [poll_reply(ip, g, long_name, i + 1) for i, g in enumerate(groups)]
