"""Realtime senders for the tests, independent of the receivers under test.

E1.31 packets are made by the ``sacn`` library's own encoder (``DataPacket``/``SyncPacket``,
sent to a port of our choosing: its sender only speaks to 5568), Art-Net by
``stupidArtnet``, and DDP by ``ddp_packet`` below, written to the protocol's
documentation (http://www.3waylabs.com/ddp/, the 10-byte header):

    byte 0   flags: V V x T S R Q P   version 1 (0x40); P push (0x01)
    byte 1   sequence: x x x x n n n n (1-15; 0 means unused)
    byte 2   data type: C R T T T S S S (RGB = TTT 001, 8 bits per element = SSS 011: 0x0B)
    byte 3   destination id (1 = the default output device)
    4-7      data offset in bytes, 32 bits, most significant byte first
    8-9      data length in bytes, 16 bits, most significant byte first
"""

from __future__ import annotations

import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable

import numpy as np

DDP_MAX_DATA = 1440
RGB_PER_UNIVERSE = 510  # 170 pixels


def free_udp_port() -> int:
    """A UDP port nobody listens on right now (on 127.0.0.1)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ddp_packet(data: bytes, offset: int, push: bool, seq: int = 1) -> bytes:
    """One DDP data packet: the header above and ``data`` (at most 1440 bytes)."""
    assert len(data) <= DDP_MAX_DATA
    flags = 0x40 | (0x01 if push else 0)
    return struct.pack(">BBBBIH", flags, seq & 0x0F, 0x0B, 1, offset, len(data)) + data


class Sender:
    """A UDP socket of its own (its port is the "source" the engine reports)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.source = f"127.0.0.1:{self.sock.getsockname()[1]}"

    def raw(self, data: bytes) -> None:
        self.sock.sendto(data, ("127.0.0.1", self.port))

    def close(self) -> None:
        self.sock.close()


class DDPSender(Sender):
    """Sends whole frames as DDP packets, the push flag on the last."""

    seq = 0

    def frame(self, pixels: np.ndarray, push: bool = True, upto: int | None = None) -> None:
        data = np.ascontiguousarray(pixels, np.uint8).tobytes()[:upto]
        self.seq = self.seq % 15 + 1
        chunks = range(0, len(data), DDP_MAX_DATA)
        for i, off in enumerate(chunks):
            last = i == len(chunks) - 1
            self.raw(ddp_packet(data[off:off + DDP_MAX_DATA], off, push and last, self.seq))


class E131Sender(Sender):
    """Sends whole frames as E1.31 data packets (the sacn library's encoder), one per universe."""

    def __init__(self, port: int, universe: int = 1, priority: int = 100) -> None:
        super().__init__(port)
        self.universe = universe
        self.priority = priority
        self.cid = tuple(uuid.uuid4().bytes)
        self.seq = 0

    def frame(self, pixels: np.ndarray) -> None:
        from sacn.messages.data_packet import DataPacket

        data = np.ascontiguousarray(pixels, np.uint8).tobytes()
        for i, off in enumerate(range(0, len(data), RGB_PER_UNIVERSE)):
            pkt = DataPacket(self.cid, "lightbox test", self.universe + i,
                             tuple(data[off:off + RGB_PER_UNIVERSE]), priority=self.priority,
                             sequence=self.seq)
            self.raw(bytes(pkt.getBytes()))
        self.seq = (self.seq + 1) % 256


class ArtNetSender:
    """Sends whole frames as ArtDmx with stupidArtnet, one instance per universe."""

    def __init__(self, port: int, pixels: int, universe: int = 0) -> None:
        from stupidArtnet import StupidArtnet

        n = -(-pixels * 3 // RGB_PER_UNIVERSE)
        self.outs = [StupidArtnet("127.0.0.1", universe + i, RGB_PER_UNIVERSE, 30, port=port)
                     for i in range(n)]

    def frame(self, pixels: np.ndarray) -> None:
        data = np.ascontiguousarray(pixels, np.uint8).tobytes()
        for i, out in enumerate(self.outs):
            chunk = data[i * RGB_PER_UNIVERSE:(i + 1) * RGB_PER_UNIVERSE]
            out.send(bytearray(chunk.ljust(RGB_PER_UNIVERSE, b"\0")))

    def close(self) -> None:
        for out in self.outs:
            out.close()


class Stream:
    """Calls ``send`` about ``fps`` times a second on a thread until stopped."""

    def __init__(self, send: Callable[[], None], fps: float = 30.0) -> None:
        self.send = send
        self.interval = 1.0 / fps
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Stream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.send()
            self.sent += 1
            time.sleep(self.interval)


def solid(width: int, height: int, rgb: tuple[int, int, int]) -> np.ndarray:
    """A frame of one colour."""
    px = np.empty((height, width, 3), np.uint8)
    px[...] = rgb
    return px
