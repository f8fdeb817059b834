"""The frame loop: pacing at the configured rate and answering commands between frames.

Owns the bounded newest-wins ``CommandQueue``, the ``Pending`` hand-off, and
``FrameLoop``: the clock-paced loop that calls one ``tick`` per frame, counts the
frames it missed (no catch-up burst), logs visible stutters, and wakes early once
a frame to answer commands. Knows nothing of animations, displays or MQTT.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import structlog

from appliance.render.clock import Clock
from appliance.render.stats import FrameStats
from appliance.wire.commands import CommandError, Invalid
from appliance.wire.replies import Reply

if TYPE_CHECKING:
    from appliance.render.engine import EngineCommand
    from appliance.render.factory import Preloaded

log = structlog.get_logger("engine")

#: Who is told a command's outcome (the MQTT edge sends ``reply.as_json()``).
ReplyFn = Callable[[Reply], None]
COMMAND_QUEUE_SIZE = 1024
WAIT_SLICE_S = 0.05


@dataclass
class Pending:
    """A command waiting for the render loop, with the way to answer it."""

    command: EngineCommand | Invalid
    reply: ReplyFn | None = None
    #: Set when the command was rejected at the edge: the loop only counts and answers it.
    error: CommandError | None = None
    #: Image frames decoded before the command reached the render thread.
    preloaded: Preloaded | None = None
    #: A notification's icon (RGBA), read before the command reached the render thread.
    icon: np.ndarray | None = None
    #: Resolved with the reply, for a caller that waits (``Engine.call``).
    future: Future[Reply] | None = None

    def answer(self, reply: Reply) -> None:
        """Hand the reply to whoever waits for it."""
        if self.future is not None:
            self.future.set_result(reply)
        if self.reply is not None:
            self.reply(reply)


class CommandQueue:
    """A bounded queue that keeps the newest commands.

    When full, the oldest command is dropped (later commands supersede earlier
    ones, so the last value always wins); its sender is told ``superseded``.
    """

    def __init__(self, maxlen: int = COMMAND_QUEUE_SIZE) -> None:
        self._items: deque[Pending] = deque()
        self._maxlen = maxlen
        self._lock = threading.Lock()
        self.dropped = 0
        #: Set while commands wait: lets the render loop answer between frames at once.
        self.arrived = threading.Event()

    def put(self, item: Pending) -> None:
        """Add a command, dropping the oldest when full."""
        dropped: Pending | None = None
        with self._lock:
            if len(self._items) >= self._maxlen:
                dropped = self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self.arrived.set()
        if dropped is not None:
            err = CommandError("superseded", "a newer command replaced this one before it ran")
            dropped.answer(Reply(False, dropped.command.transaction, error=err))

    def drain(self) -> list[Pending]:
        """Take every queued command, oldest first."""
        if not self._items:  # the usual frame: no lock, no Event.clear
            # A put() racing this check sets ``arrived`` after appending, so the item is
            # taken at the next drain (the wait between frames wakes for it).
            return []
        with self._lock:
            self.arrived.clear()
            if not self._items:
                return []
            items = list(self._items)
            self._items.clear()
            return items

    def __len__(self) -> int:
        return len(self._items)


class FrameLoop:
    """Calls ``tick(now)`` once a frame until stopped; ``between`` answers early commands."""

    def __init__(self, clock: Clock, stats: FrameStats, queue: CommandQueue,
                 tick: Callable[[float], None], between: Callable[[float], None],
                 interval_s: Callable[[], float], uncapped: bool = False) -> None:
        self.clock = clock
        self.stats = stats
        self.queue = queue
        self.tick = tick
        self.between = between
        self.interval_s = interval_s
        self.uncapped = uncapped

    def run(self, stop: threading.Event, max_frames: int | None = None) -> None:
        """Render until ``stop`` is set (or ``max_frames`` frames)."""
        # Bound once: each is used every frame.
        monotonic, tick, stats, interval_s = (self.clock.monotonic, self.tick, self.stats,
                                              self.interval_s)
        record, uncapped, is_stopped = stats.record, self.uncapped, stop.is_set
        next_at = monotonic()
        frames = 0
        last_cost_ms = 0.0
        while not is_stopped():
            interval = interval_s()
            start = monotonic()
            tick(start)
            end = monotonic()
            gaps = stats.gaps_over_100ms
            cost_ms = (end - start) * 1000.0
            record(start, cost_ms)
            if stats.gaps_over_100ms != gaps:
                self._log_gap(last_cost_ms)
            last_cost_ms = cost_ms
            frames += 1
            if max_frames is not None and frames >= max_frames:
                return
            if uncapped:
                next_at = end
                continue
            next_at += interval
            if next_at - end < 0:
                # Late: count the frame slots we missed and re-anchor (no catch-up burst).
                stats.frames_dropped += int((end - next_at) // interval) + 1
                next_at = end
            if self._wait_for_frame(next_at, stop):
                return

    def _log_gap(self, frame_ms: float) -> None:
        """The journal line that explains a visible stutter.

        ``frame_ms`` is the cost of the frame before the gap: large means a slow
        (or blocked) frame; small means the loop woke late for the next one
        (``wait_ms``: the planned wait plus however late the OS scheduled it).
        """
        gap_ms = self.stats.last_gap_s * 1000.0
        log.warning("frame_gap", gap_ms=round(gap_ms, 1), frame_ms=round(frame_ms, 1),
                    wait_ms=round(gap_ms - frame_ms, 1), frames_total=self.stats.frames_total)

    def _wait_for_frame(self, next_at: float, stop: threading.Event) -> bool:
        """Sleep until ``next_at``, applying commands the moment they arrive.

        A command is answered (and its state published) between frames without
        waiting for the next frame, so command latency is the broker round trip,
        not up to a frame period more. Returns True when ``stop`` was set.
        """
        clock = self.clock
        answered = False
        while not stop.is_set():
            delay = next_at - clock.monotonic()
            if delay <= 0:
                return False
            # At most one early answer per frame: under a flood of commands, waking for
            # each one turned into a state publish per command, starving the frames and
            # overflowing paho's queue (the final state was dropped). Later arrivals wait
            # for the frame and are applied together.
            event = stop if answered else self.queue.arrived
            # Short slices keep a stop request prompt without a second event to wait on.
            if clock.sleep(min(delay, WAIT_SLICE_S), event) and not stop.is_set():
                self.between(clock.monotonic())
                answered = True
        return True
