"""The realtime packet parsers (DDP, E1.31, Art-Net): spec layouts, real senders' bytes, fuzz.

E1.31 packets come from the ``sacn`` library's encoder and ArtDmx from ``stupidArtnet``
(encoders that are not ours); the DDP sender is written here to the protocol's
documentation and checked byte for byte. hypothesis throws arbitrary bytes at every
parser and handler: nothing may raise.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.content.live import artnet, ddp, e131
from appliance.content.live.assembler import Arbiter
from appliance.content.live.handlers import ArtNetHandler, DDPHandler, E131Handler
from appliance.content.live.model import FrameSlot, LiveCounters
from appliance.content.live.packets import Refused

CID = tuple(range(16))


def spec_ddp(data: bytes, offset: int, push: bool, seq: int = 3) -> bytes:
    """A DDP data packet built field by field from http://www.3waylabs.com/ddp/."""
    flags = 0b01 << 6  # V V = 01: version 1
    if push:
        flags |= 0x01  # P
    return (bytes([flags, seq & 0x0F, 0x0B, 0x01])  # flags, sequence, RGB 8-bit, display
            + offset.to_bytes(4, "big") + len(data).to_bytes(2, "big") + data)


def test_the_ddp_header_is_laid_out_as_the_spec_says() -> None:
    pkt = spec_ddp(b"\x01\x02\x03", offset=0x01020304, push=True, seq=5)
    assert pkt[0] == 0x41  # version 1, push
    assert pkt[1] == 0x05 and pkt[2] == 0x0B and pkt[3] == 0x01
    assert pkt[4:8] == b"\x01\x02\x03\x04" and pkt[8:10] == b"\x00\x03"
    assert pkt[10:] == b"\x01\x02\x03" and len(pkt) == 13
    assert ddp.header(0x01020304, 3, push=True, sequence=5) == pkt[:10]  # ours agrees


def test_ddp_parses_push_offset_and_data_and_the_timecode_variant() -> None:
    p = ddp.parse(spec_ddp(b"abc", 1440, push=False))
    assert isinstance(p, ddp.DDPPacket)
    assert (p.push, p.offset, bytes(p.data), p.sequence) == (False, 1440, b"abc", 3)
    timed = bytes([0x51, 1, 0x0B, 1]) + (0).to_bytes(4, "big") + (2).to_bytes(2, "big") \
        + (77).to_bytes(4, "big") + b"xy"
    t = ddp.parse(timed)
    assert isinstance(t, ddp.DDPPacket) and t.timecode == 77 and bytes(t.data) == b"xy"
    assert t.push


@pytest.mark.parametrize(("packet", "reason"), [
    (b"\x41\x01\x0b", "ddp_short"),
    (b"\x81\x01\x0b\x01" + bytes(6), "ddp_version"),
    (b"\x41\x01\x0b\x01\x00\x00\x00\x00\x00\x05ab", "ddp_length"),
    (b"\x41\x01\x0b\x01\x00\x00\x00\x00\x05\xa1" + bytes(1441), "ddp_too_long"),
    (b"\x41\x01\x0b\xfa" + bytes(6), "ddp_destination"),  # 250: JSON config
    (b"\x41\x01\x1b\x01" + bytes(6), "ddp_data_type"),  # RGBW
    (b"\x51\x01\x0b\x01" + bytes(6), "ddp_short"),  # timecode flag, no timecode
])
def test_ddp_refuses_bad_packets_with_a_reason(packet: bytes, reason: str) -> None:
    r = ddp.parse(packet)
    assert isinstance(r, Refused) and r.reason == reason and r.invalid


def test_ddp_queries_and_replies_are_not_data_but_not_invalid() -> None:
    r = ddp.parse(b"\x43\x01\x0b\x01" + bytes(6))
    assert isinstance(r, Refused) and not r.invalid


def _sacn(universe: int = 1, data: tuple[int, ...] = (1, 2, 3), **kw: object) -> bytes:
    from sacn.messages.data_packet import DataPacket

    return bytes(DataPacket(CID, "xLights", universe, data, **kw).getBytes())


def test_e131_parses_the_sacn_librarys_data_packet() -> None:
    p = e131.parse(_sacn(7, (9, 8, 7, 6), priority=150, sequence=42, sync_universe=9))
    assert isinstance(p, e131.E131Data)
    assert (p.universe, p.priority, p.sequence, p.sync_address) == (7, 150, 42, 9)
    assert bytes(p.data[:4]) == bytes([9, 8, 7, 6]) and p.start_code == 0  # (sacn pads to 512)
    assert p.source_name == "xLights" and p.cid == bytes(CID)
    assert not p.preview and not p.terminated
    flagged = e131.parse(_sacn(streamTerminated=True, previewData=True))
    assert isinstance(flagged, e131.E131Data) and flagged.terminated and flagged.preview
    full = e131.parse(_sacn(data=tuple(range(256)) * 2))
    assert isinstance(full, e131.E131Data) and len(full.data) == 512


def test_e131_parses_the_sacn_librarys_sync_packet() -> None:
    from sacn.messages.sync_packet import SyncPacket

    p = e131.parse(bytes(SyncPacket(CID, 63999, 5).getBytes()))
    assert isinstance(p, e131.E131Sync) and (p.sync_address, p.sequence) == (63999, 5)


def test_e131_refuses_malformed_packets() -> None:
    good = bytearray(_sacn())
    assert isinstance(e131.parse(good[:100]), Refused)
    bad_id = bytearray(good)
    bad_id[4] = ord("X")
    assert e131.parse(bad_id) == Refused("e131_not_acn")
    bad_prio = bytearray(good)
    bad_prio[108] = 201
    assert e131.parse(bad_prio) == Refused("e131_priority")
    bad_uni = bytearray(good)
    bad_uni[113:115] = (64000).to_bytes(2, "big")
    assert e131.parse(bad_uni) == Refused("e131_universe")
    assert e131.parse(good[:300]) == Refused("e131_length")  # fewer slots than it says
    long_count = bytearray(good)
    long_count[123:125] = (600).to_bytes(2, "big")  # more than 512 slots
    assert e131.parse(long_count) == Refused("e131_length")


@pytest.mark.parametrize(("last", "new", "dropped"), [
    (10, 10, True), (10, 9, True), (10, -9 % 256, True), (10, 11, False),
    (10, 246 - 256 + 256, False),  # 20 behind: outside the window, accepted (a restart)
    (5, 250, True),  # 11 behind across the wrap
    (250, 3, False),  # ahead across the wrap
])
def test_e131_out_of_order_window(last: int, new: int, dropped: bool) -> None:
    assert e131.out_of_order(last, new % 256) is dropped


def test_the_sequence_filter_is_per_source_and_universe_and_bounded() -> None:
    f = e131.SequenceFilter(capacity=4)
    assert f.accept("a:1", 1, 10) and not f.accept("a:1", 1, 9)
    assert f.accept("b:1", 1, 9) and f.accept("a:1", 2, 9)
    for u in range(10):
        f.accept("c:1", 10 + u, 0)
    assert len(f._last) <= 5


def test_artnet_parses_stupidartnets_artdmx_and_artsync() -> None:
    from stupidArtnet import StupidArtnet

    out = StupidArtnet("127.0.0.1", 0x123, 510, 30, artsync=True)
    try:
        out.buffer = bytearray(range(255)) * 2
        pkt = artnet.parse(bytes(out.packet_header) + bytes(out.buffer))
        assert isinstance(pkt, artnet.ArtDmx)
        assert pkt.port_address == 0x123 and len(pkt.data) == 510
        assert bytes(pkt.data[:3]) == b"\x00\x01\x02" and pkt.version == 14
        assert isinstance(artnet.parse(bytes(out.artsync_header)), artnet.ArtSync)
    finally:
        out.close()


def test_artnet_refuses_and_ignores() -> None:
    assert artnet.parse(b"Art-Net\0") == Refused("artnet_short")
    assert artnet.parse(b"Art-Nxt\0\x00\x50\x00\x0e") == Refused("artnet_id")
    short = artnet.dmx(1, b"\1\2\3\4")[:-2]
    assert artnet.parse(short) == Refused("artnet_length")
    reply = artnet.parse(b"Art-Net\0\x00\x21\x00\x0e" + bytes(20))
    assert isinstance(reply, Refused) and not reply.invalid  # another node's ArtPollReply
    poll = artnet.parse(b"Art-Net\0\x00\x20\x00\x0e\x00\x00")
    assert isinstance(poll, artnet.ArtPoll)


def test_artpollreply_layout() -> None:
    r = artnet.poll_reply(bytes([10, 0, 0, 7]), [0x123, 0x124], "LightBox kitchen", 2)
    assert len(r) == 239 and r[:8] == b"Art-Net\0" and r[8:10] == b"\x00\x21"
    assert r[10:14] == bytes([10, 0, 0, 7]) and r[14:16] == struct.pack("<H", 6454)
    assert r[18] == 0x01 and r[19] == 0x02  # NetSwitch, SubSwitch of 0x123
    assert r[26:34] == b"LightBox" and r[44:60] == b"LightBox kitchen"
    assert r[172:174] == b"\x00\x02" and r[174:176] == b"\x80\x80"
    assert r[190:192] == b"\x03\x04" and r[211] == 2
    groups = artnet.poll_replies(bytes(4), list(range(14, 23)), "x")
    assert [g[190:190 + g[173]] for g in groups] == [bytes([14, 15]), bytes(range(4)),
                                                      bytes(range(4, 7))]


def _handlers() -> tuple[list[DDPHandler | E131Handler | ArtNetHandler], LiveCounters]:
    counters = LiveCounters()
    arb = Arbiter(FrameSlot(), counters)
    return [DDPHandler(8, 4, arb), E131Handler(1, 8, 4, arb), ArtNetHandler(0, 8, 4, arb)], counters


PREFIXES = [b"", b"\x41\x01\x0b\x01", bytes(_sacn())[:126], b"Art-Net\0\x00\x50\x00\x0e",
            b"Art-Net\0\x00\x52", b"\x00\x10\x00\x00ASC-E1.17\0\0\0"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PREFIXES), st.binary(max_size=1600))
def test_fuzz_parsers_and_handlers_never_raise(prefix: bytes, tail: bytes) -> None:
    data = prefix + tail
    for parse in (ddp.parse, e131.parse, artnet.parse):
        parse(data)
    handlers, counters = _handlers()
    for h in handlers:
        h.handle(memoryview(data), "10.0.0.2:5000", 1.0)
    assert counters.errors_total == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2**32 - 1), st.integers(0, 1440),
                          st.booleans(), st.integers(0, 3)), max_size=30))
def test_fuzz_well_formed_packets_with_wild_fields_never_raise(
        packets: list[tuple[int, int, int, bool, int]]) -> None:
    handlers, counters = _handlers()
    for kind, offset, length, flag, src in packets:
        source = f"10.0.0.{src}:{5000 + src}"
        if kind == 0:
            data = ddp.header(offset % 200 if flag else offset, length, flag) + bytes(length)
        elif kind == 1:
            data = artnet.dmx(offset & 0x7FFF if not flag else offset % 3, bytes(length % 513))
        else:
            data = _sacn(1 + offset % 63999 if not flag else 1 + offset % 3,
                         tuple(range(length % 256)), priority=offset % 201, sequence=offset % 256)
        for h in handlers:
            h.handle(memoryview(data), source, 1.0 + offset / 2**32)
    assert counters.errors_total == 0
    frame = handlers[0].arbiter.slot.latest()
    assert frame is None or frame.pixels.shape == (4, 8, 3)
