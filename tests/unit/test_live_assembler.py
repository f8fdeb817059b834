"""Frame assembly and arbitration without sockets: the mapping, whole frames only, sync, priority.

Packets are fed straight to the handlers (the layer under the receiver threads) with
an explicit clock, so every case is exact and machine-independent.
"""

from __future__ import annotations

import numpy as np

from appliance.content.live import artnet
from appliance.content.live.assembler import Arbiter, universes_for
from appliance.content.live.handlers import ArtNetHandler, DDPHandler, E131Handler
from appliance.content.live.model import FrameSlot, LiveCounters

W, H = 20, 20  # 400 pixels = 1200 bytes: one DDP packet, 3 universes (the last short)
A, B = "10.0.0.2:5000", "10.0.0.3:6000"
CID = tuple(range(16))


class Rig:
    def __init__(self, timeout_s: float = 2.5) -> None:
        self.slot = FrameSlot()
        self.counters = LiveCounters()
        self.arb = Arbiter(self.slot, self.counters, timeout_s)
        self.ddp = DDPHandler(W, H, self.arb)
        self.e131 = E131Handler(1, W, H, self.arb)
        self.art = ArtNetHandler(0, W, H, self.arb, local_ip="10.0.0.1")

    def pixels(self) -> np.ndarray | None:
        f = self.slot.latest()
        return None if f is None else f.pixels


def frame(rgb: tuple[int, int, int]) -> bytes:
    return bytes(rgb) * (W * H)


def ddp_pkt(data: bytes, offset: int, push: bool) -> memoryview:
    from appliance.content.live import ddp

    return memoryview(ddp.header(offset, len(data), push) + data)


def e131_pkt(universe: int, data: bytes, seq: int, priority: int = 100, **kw: object) -> memoryview:
    from sacn.messages.data_packet import DataPacket

    return memoryview(bytes(DataPacket(CID, "t", universe, tuple(data), priority=priority,
                                       sequence=seq, **kw).getBytes()))


def e131_frame(rig: Rig, src: str, data: bytes, seq: int, now: float, priority: int = 100,
               **kw: object) -> None:
    for i in range(universes_for(W, H)):
        rig.e131.handle(e131_pkt(1 + i, data[i * 510:(i + 1) * 510], seq, priority, **kw), src, now)


def test_the_mapping_is_row_major_from_the_top_left_across_the_panel() -> None:
    rig = Rig()
    data = bytearray(W * H * 3)
    data[0:3] = b"\xff\x00\x00"  # pixel (0, 0)
    i = (1 * W + 2) * 3  # row 1, column 2
    data[i:i + 3] = b"\x00\xff\x00"
    rig.ddp.handle(ddp_pkt(bytes(data), 0, push=True), A, 1.0)
    px = rig.pixels()
    assert px is not None and px.shape == (H, W, 3) and px.dtype == np.uint8
    assert tuple(px[0, 0]) == (255, 0, 0) and tuple(px[1, 2]) == (0, 255, 0)
    assert not px.flags.writeable  # a copy nobody can change under the render loop


def test_ddp_shows_only_a_whole_pushed_frame() -> None:
    rig = Rig()
    red = frame((255, 0, 0))
    rig.ddp.handle(ddp_pkt(red[:600], 0, push=False), A, 1.0)
    rig.ddp.handle(ddp_pkt(red[600:], 600, push=False), A, 1.0)
    assert rig.pixels() is None  # all there, but no push
    rig.ddp.handle(ddp_pkt(red[:600], 0, push=False), A, 1.0)  # a new frame starts at 0
    rig.ddp.handle(ddp_pkt(red[600:1170], 600, push=True), A, 1.0)  # pushed, 30 bytes short
    assert rig.pixels() is None and rig.counters.frames_incomplete_total == 1
    rig.ddp.handle(ddp_pkt(red[:600], 0, push=False), A, 1.0)
    rig.ddp.handle(ddp_pkt(red[600:], 600, push=False), A, 1.0)
    rig.ddp.handle(ddp_pkt(b"", 0, push=True), A, 1.0)  # a push-only packet completes it
    px = rig.pixels()
    assert px is not None and (px == (255, 0, 0)).all()
    assert rig.counters.frames_total == 1
    rig.ddp.handle(ddp_pkt(b"", 0, push=True), A, 1.1)  # a push with nothing new: no frame
    assert rig.counters.frames_total == 1


def test_ddp_data_past_the_panel_is_clipped_and_counted() -> None:
    rig = Rig()
    rig.ddp.handle(ddp_pkt(frame((1, 2, 3)) + b"\x09" * 30, 0, push=False), A, 1.0)
    rig.ddp.handle(ddp_pkt(b"\x09" * 30, 5000, push=True), A, 1.0)
    px = rig.pixels()
    assert px is not None and (px == (1, 2, 3)).all()
    assert rig.counters.by_reason["ddp_beyond_frame"] == 1


def test_e131_frame_shows_when_every_universe_arrived() -> None:
    rig = Rig()
    green = frame((0, 255, 0))
    assert universes_for(W, H) == 3
    for i in range(2):
        rig.e131.handle(e131_pkt(1 + i, green[i * 510:(i + 1) * 510], i), A, 1.0)
    assert rig.pixels() is None  # two of three universes
    rig.e131.handle(e131_pkt(3, green[1020:], 2), A, 1.0)
    px = rig.pixels()
    assert px is not None and (px == (0, 255, 0)).all()
    rig.e131.handle(e131_pkt(9, green[:510], 3), A, 1.0)  # not a universe of the frame
    assert rig.counters.by_reason["foreign_universe"] == 1


def test_channels_511_and_512_of_a_universe_are_ignored() -> None:
    rig = Rig()
    blue = frame((0, 0, 255))
    for i in range(3):
        chunk = blue[i * 510:(i + 1) * 510]
        rig.e131.handle(e131_pkt(1 + i, chunk + b"\xee\xee", i), A, 1.0)
    px = rig.pixels()
    assert px is not None and (px == (0, 0, 255)).all()


def test_out_of_order_e131_packets_are_dropped_and_counted() -> None:
    rig = Rig()
    e131_frame(rig, A, frame((9, 9, 9)), seq=10, now=1.0)
    e131_frame(rig, A, frame((1, 1, 1)), seq=5, now=1.1)  # 5 behind: late, dropped
    px = rig.pixels()
    assert px is not None and (px == (9, 9, 9)).all()
    assert rig.counters.by_reason["e131_out_of_order"] == 3


def test_a_higher_priority_takes_over_and_the_lower_waits_for_its_timeout() -> None:
    rig = Rig(timeout_s=2.5)
    e131_frame(rig, A, frame((1, 0, 0)), 0, 1.0, priority=100)
    e131_frame(rig, B, frame((0, 1, 0)), 0, 1.1, priority=150)
    px = rig.pixels()
    assert px is not None and tuple(px[0, 0]) == (0, 1, 0)
    e131_frame(rig, A, frame((1, 0, 0)), 1, 1.2, priority=100)  # lower: ignored
    f = rig.slot.latest()
    assert f is not None and f.source == B and f.priority == 150
    assert rig.counters.by_reason["not_owner"] == 3
    e131_frame(rig, A, frame((1, 0, 0)), 2, 5.0, priority=100)  # B silent for 3.9 s
    f = rig.slot.latest()
    assert f is not None and f.source == A


def test_the_first_source_keeps_the_layer_until_it_times_out() -> None:
    rig = Rig(timeout_s=2.5)
    rig.ddp.handle(ddp_pkt(frame((1, 1, 1)), 0, True), A, 1.0)
    rig.ddp.handle(ddp_pkt(frame((2, 2, 2)), 0, True), B, 1.5)
    for u, p in enumerate(range(3)):  # Art-Net from B too: the DDP sender holds the layer
        rig.art.handle(memoryview(artnet.dmx(u, frame((3, 3, 3))[p * 510:(p + 1) * 510])), B, 1.6)
    f = rig.slot.latest()
    assert f is not None and f.source == A and f.protocol == "ddp"
    rig.ddp.handle(ddp_pkt(frame((2, 2, 2)), 0, True), B, 4.1)
    f = rig.slot.latest()
    assert f is not None and f.source == B and f.seq == 2


def test_stream_terminated_releases_the_layer_at_once() -> None:
    rig = Rig(timeout_s=60)
    e131_frame(rig, A, frame((1, 0, 0)), 0, 1.0, priority=150)
    rig.e131.handle(e131_pkt(1, b"", 1, 150, streamTerminated=True), A, 1.1)
    assert rig.slot.ended() == (A, 1) and rig.arb.owner is None
    rig.ddp.handle(ddp_pkt(frame((2, 2, 2)), 0, True), B, 1.2)
    f = rig.slot.latest()
    assert f is not None and f.source == B


def test_sync_mode_shows_frames_only_on_sync() -> None:
    rig = Rig()
    from sacn.messages.sync_packet import SyncPacket

    def sync(seq: int, now: float, address: int = 7) -> None:
        rig.e131.handle(memoryview(bytes(SyncPacket(CID, address, seq).getBytes())), A, now)

    e131_frame(rig, A, frame((5, 5, 5)), 0, 1.0, sync_universe=7)
    assert rig.counters.frames_total == 1  # no sync seen yet: complete on all universes
    sync(0, 1.0)  # nothing new since that frame: nothing to show
    assert rig.counters.frames_total == 1
    e131_frame(rig, A, frame((6, 6, 6)), 1, 1.1, sync_universe=7)
    assert rig.counters.frames_total == 1  # a sync-mode source waits for the sync
    sync(1, 1.1, address=8)  # another sync address: not ours
    assert rig.counters.frames_total == 1
    sync(2, 1.1)
    px = rig.pixels()
    assert rig.counters.frames_total == 2 and px is not None and (px == 6).all()
    rig.e131.handle(e131_pkt(1, frame((7, 7, 7))[:510], 2, sync_universe=7), A, 1.2)
    sync(3, 1.2)  # one universe changed: the frame is what has arrived
    px = rig.pixels()
    assert px is not None and tuple(px[0, 0]) == (7, 7, 7) and tuple(px[-1, -1]) == (6, 6, 6)


def test_a_sync_before_every_universe_ever_arrived_shows_nothing() -> None:
    rig = Rig()
    rig.art.handle(memoryview(artnet.dmx(0, frame((4, 4, 4))[:510])), A, 1.0)
    rig.art.handle(memoryview(b"Art-Net\0\x00\x52\x00\x0e\x00\x00"), "10.0.0.2:6454", 1.0)
    assert rig.pixels() is None and rig.counters.frames_incomplete_total == 1


def test_artpoll_is_answered_with_the_universes_served_and_rate_limited() -> None:
    rig = Rig()
    poll = memoryview(b"Art-Net\0\x00\x20\x00\x0e\x00\x00")
    replies = rig.art.handle(poll, "10.0.0.9:6454", 1.0)
    assert [addr for _, addr in replies] == [("10.0.0.9", 6454)]
    reply = replies[0][0]
    assert reply[10:14] == bytes([10, 0, 0, 1]) and reply[173] == 3
    assert reply[190:193] == bytes([0, 1, 2])
    assert rig.art.handle(poll, "10.0.0.9:6454", 1.01) == []  # a poll flood is not amplified
    assert len(rig.art.handle(poll, "10.0.0.9:6454", 2.0)) == 1


def test_preview_other_start_codes_and_foreign_syncs_are_ignored_not_shown() -> None:
    rig = Rig()
    from sacn.messages.sync_packet import SyncPacket

    data = frame((8, 8, 8))
    for i in range(3):
        rig.e131.handle(e131_pkt(1 + i, data[i * 510:(i + 1) * 510], i, previewData=True), A, 1.0)
        rig.e131.handle(e131_pkt(1 + i, data[i * 510:(i + 1) * 510], 10 + i, dmxStartCode=0xDD),
                        A, 1.0)
    assert rig.pixels() is None
    assert rig.counters.by_reason["e131_preview"] == 3
    assert rig.counters.by_reason["e131_start_code"] == 3
    assert rig.counters.packets_invalid_total == 0  # well-formed: ignored, not invalid
    rig.e131.handle(memoryview(bytes(SyncPacket(CID, 1, 0).getBytes())), B, 1.0)
    assert rig.counters.by_reason["e131_sync_foreign"] == 1


def test_a_stream_terminated_from_another_source_releases_nothing() -> None:
    rig = Rig()
    e131_frame(rig, A, frame((1, 0, 0)), 0, 1.0)
    rig.e131.handle(e131_pkt(1, b"", 0, streamTerminated=True), B, 1.1)
    assert rig.arb.owner is not None and rig.arb.owner.source == A
    assert rig.slot.ended() is None


def test_artnet_sources_are_hosts_so_a_socket_per_universe_works() -> None:
    rig = Rig()
    data = frame((2, 4, 6))
    for u in range(3):
        rig.art.handle(memoryview(artnet.dmx(u, data[u * 510:(u + 1) * 510])),
                       f"10.0.0.2:{40000 + u}", 1.0)
    f = rig.slot.latest()
    assert f is not None and f.protocol == "artnet" and f.source == "10.0.0.2:40000"
    assert (f.pixels == (2, 4, 6)).all()
