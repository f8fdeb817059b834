"""Rate-limit storage for flask-limiter: limits' in-memory storage with one sweeper thread.

limits' MemoryStorage starts a new 10 ms timer thread whenever its last one
finished, which on a busy bridge means a thread start every few requests
(measured: ~1 ms each on the Pi-class test machine, a third of a /api/health
request). Counters expire lazily on read anyway, so one daemon thread sweeping
every few seconds is enough to bound memory. Knows nothing of Flask routes.
"""

from __future__ import annotations

import threading
import time

from limits.storage import MemoryStorage

SWEEP_INTERVAL_S = 5.0
STORAGE_URI = "lightbox-memory://"


class SweptMemoryStorage(MemoryStorage):
    """In-process counters; expired keys are swept by one long-lived thread."""

    STORAGE_SCHEME = ["lightbox-memory"]

    def _MemoryStorage__schedule_expiry(self) -> None:
        if getattr(self, "_sweeper", None) is None:
            self._sweeper = threading.Thread(target=self._sweep, name="ratelimit-sweep",
                                             daemon=True)
            self._sweeper.start()

    def _sweep(self) -> None:
        while True:
            time.sleep(SWEEP_INTERVAL_S)
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
