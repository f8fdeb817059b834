"""One datagram in, its effect out: parse, filter, feed the assembler (one class per protocol).

``handle(view, source, now)`` never raises for anything a packet contains: what a
parser refuses is counted in ``LiveCounters`` and dropped. It returns the datagrams
to send back (only Art-Net answers: ArtPollReply to an ArtPoll, at most
``POLL_REPLIES_PER_S`` times a second so the box cannot be used to amplify a flood).
Knows nothing of sockets or threads (the receiver owns those) or the render loop.
"""

from __future__ import annotations

import socket
from typing import assert_never

from appliance.content.live import artnet, ddp, e131
from appliance.content.live.assembler import Arbiter, DDPAssembler, UniverseAssembler
from appliance.content.live.packets import Refused

Reply = tuple[bytes, tuple[str, int]]
POLL_REPLIES_PER_S = 4.0


def _refused(arbiter: Arbiter, r: Refused) -> None:
    if r.invalid:
        arbiter.counters.invalid(r.reason)
    else:
        arbiter.counters.ignored(r.reason)


class DDPHandler:
    """DDP data packets into a ``DDPAssembler``."""

    def __init__(self, width: int, height: int, arbiter: Arbiter) -> None:
        self.arbiter = arbiter
        self.assembler = DDPAssembler(width, height, arbiter)

    def handle(self, view: memoryview, source: str, now: float) -> list[Reply]:
        """Handle one datagram from ``source`` ("ip:port")."""
        pkt = ddp.parse(view)
        if isinstance(pkt, Refused):
            _refused(self.arbiter, pkt)
        else:
            self.assembler.feed(pkt.offset, pkt.data, pkt.push, source, now)
        return []


class E131Handler:
    """E1.31 data and sync packets: sequence rule, preview, start code, termination."""

    def __init__(self, first: int, width: int, height: int, arbiter: Arbiter) -> None:
        self.arbiter = arbiter
        self.assembler = UniverseAssembler("e131", first, width, height, arbiter)
        self.sequence = e131.SequenceFilter()

    def handle(self, view: memoryview, source: str, now: float) -> list[Reply]:
        """Handle one datagram from ``source`` ("ip:port")."""
        pkt = e131.parse(view)
        match pkt:
            case Refused():
                _refused(self.arbiter, pkt)
            case e131.E131Sync():
                if not self.assembler.sync(source, now, pkt.sync_address):
                    self.arbiter.counters.ignored("e131_sync_foreign")
            case e131.E131Data():
                self._data(pkt, source, now)
            case _:
                assert_never(pkt)
        return []

    def _data(self, pkt: e131.E131Data, source: str, now: float) -> None:
        counters = self.arbiter.counters
        if pkt.universe not in self.assembler.universes():
            counters.invalid("foreign_universe")
        elif not self.sequence.accept(source, pkt.universe, pkt.sequence):
            counters.invalid("e131_out_of_order")
        elif pkt.terminated:
            self.sequence.forget(source)
            self.assembler.terminate(source)
            counters.ignored("e131_terminated")
        elif pkt.preview:
            counters.ignored("e131_preview")
        elif pkt.start_code != 0:
            counters.ignored("e131_start_code")
        else:
            self.assembler.feed(pkt.universe, pkt.data, source, now, pkt.priority,
                                pkt.sync_address)


class ArtNetHandler:
    """ArtDmx and ArtSync into a ``UniverseAssembler``; ArtPoll answered."""

    def __init__(self, first: int, width: int, height: int, arbiter: Arbiter,
                 long_name: str = "LightBox LED matrix", local_ip: str = "0.0.0.0") -> None:
        self.arbiter = arbiter
        self.assembler = UniverseAssembler("artnet", first, width, height, arbiter, by_host=True)
        self.long_name = long_name
        self.local_ip = local_ip
        self._replies_allowed_at = 0.0

    def handle(self, view: memoryview, source: str, now: float) -> list[Reply]:
        """Handle one datagram from ``source`` ("ip:port")."""
        pkt = artnet.parse(view)
        match pkt:
            case Refused():
                _refused(self.arbiter, pkt)
            case artnet.ArtDmx():
                self.assembler.feed(pkt.port_address, pkt.data, source, now)
            case artnet.ArtSync():
                if not self.assembler.sync(source, now):
                    self.arbiter.counters.ignored("artnet_sync_foreign")
            case artnet.ArtPoll():
                return self._poll(source, now)
            case _:
                assert_never(pkt)
        return []

    def _poll(self, source: str, now: float) -> list[Reply]:
        if now < self._replies_allowed_at:
            self.arbiter.counters.ignored("artnet_poll_rate")
            return []
        self._replies_allowed_at = now + 1.0 / POLL_REPLIES_PER_S
        host, port = source.rsplit(":", 1)
        ip = socket.inet_aton(_reply_ip(self.local_ip, host))
        replies = artnet.poll_replies(ip, list(self.assembler.universes()), self.long_name)
        self.arbiter.counters.add("polls_answered_total")
        return [(r, (host, int(port))) for r in replies]


def _reply_ip(local_ip: str, peer: str) -> str:
    """The address a sender should use for us: the bind address, or the route's source."""
    if local_ip not in ("0.0.0.0", ""):
        return local_ip
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((peer, artnet.PORT))  # no packet is sent: this only picks a route
            return str(s.getsockname()[0])
    except OSError:
        return "0.0.0.0"
