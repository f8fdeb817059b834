"""Animation sandbox: runs ``draw()`` on a worker thread so a hung animation cannot hang the loop.

Owns the draw worker threads, the hand-off (two C-implemented SimpleQueues,
about 15 us a round trip), and abandoning a worker whose ``draw()`` never
returns: the worker gets an ``AnimationHung`` raised into it (which stops a
pure-Python loop) and is left to die on its own; a worker stuck in C code
stays parked, so the number of such threads is bounded and counted. Knows
nothing of MQTT, displays, settings files or which animation is which.
"""

from __future__ import annotations

import ctypes
import queue
import threading
from collections.abc import Callable
from typing import Any

#: Live abandoned workers tolerated before isolated animations are refused outright.
MAX_ABANDONED = 4


class AnimationHang(Exception):
    """An animation's draw() did not return within its hang budget."""


class AnimationHung(BaseException):
    """Raised asynchronously inside an abandoned worker to end a runaway pure-Python loop."""


class DrawWorker:
    """One thread that runs one animation's draw() calls, one at a time."""

    def __init__(self, name: str) -> None:
        self._in: queue.SimpleQueue[tuple[Callable[[float], Any], float] | None] = (
            queue.SimpleQueue())
        self._out: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
        #: Monotonic time the outstanding draw was handed over (None when idle).
        self.busy_since: float | None = None
        self.thread = threading.Thread(target=self._run, name=f"draw-{name}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                job = self._in.get()
                if job is None:
                    return
                draw, t = job
                try:
                    out: tuple[bool, Any] = (True, draw(t))
                except BaseException as exc:  # handed to the render loop, which decides
                    out = (False, exc)
                self._out.put(out)
        except BaseException:  # an AnimationHung that landed between jobs: just end quietly
            return

    def submit(self, draw: Callable[[float], Any], t: float, now: float) -> None:
        """Hand one draw(t) over to the worker."""
        self.busy_since = now
        self._in.put((draw, t))

    def result(self, timeout_s: float) -> tuple[bool, Any] | None:
        """Return (ok, pixels-or-exception), or None when draw() is still running."""
        try:
            r = self._out.get(timeout=timeout_s) if timeout_s > 0 else self._out.get_nowait()
        except queue.Empty:
            return None
        self.busy_since = None
        return r

    def retire(self) -> None:
        """Let the worker end after its current draw (if any)."""
        self._in.put(None)

    def abandon(self) -> None:
        """Give up on a hung draw: interrupt a pure-Python loop and let the thread end."""
        self.retire()
        tid = self.thread.ident
        if tid is not None and self.thread.is_alive():
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid),
                                                       ctypes.py_object(AnimationHung))

    def alive(self) -> bool:
        """True while the thread runs."""
        return self.thread.is_alive()


class Sandbox:
    """Keeps count of abandoned workers so hung threads stay bounded."""

    def __init__(self, max_abandoned: int = MAX_ABANDONED) -> None:
        self.max_abandoned = max_abandoned
        self.abandoned: list[DrawWorker] = []
        self.abandoned_total = 0

    def new_worker(self, name: str) -> DrawWorker:
        """Start a worker, or raise AnimationHang when too many hung threads are left."""
        if self.live_abandoned() >= self.max_abandoned:
            raise AnimationHang(
                f"{self.live_abandoned()} hung animation threads are still running; "
                "not starting another until they end (restart the engine to clear them)"
            )
        return DrawWorker(name)

    def abandon(self, worker: DrawWorker) -> None:
        """Abandon a hung worker and remember it until its thread ends."""
        worker.abandon()
        self.abandoned_total += 1
        self.abandoned.append(worker)

    def retire(self, worker: DrawWorker) -> None:
        """Retire a worker no longer needed; a busy one is tracked until it ends."""
        worker.retire()
        if worker.busy_since is not None:
            self.abandoned.append(worker)

    def live_abandoned(self) -> int:
        """Abandoned or retired-while-busy workers whose thread still runs."""
        self.abandoned = [w for w in self.abandoned if w.alive()]
        return len(self.abandoned)
