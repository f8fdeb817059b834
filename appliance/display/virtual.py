"""The virtual display: a headless panel for tests, previews and ``lightbox dev``.

Keeps the last frame and a frame counter. Public test hooks, usable from inside
the process (``fail_with``/``recover``) or from outside it through environment
variables, so fault tests never patch internals:

- ``LIGHTBOX_VIRTUAL_FAULT_FILE``: while this file exists, ``start`` and ``show``
  raise DisplayError with the file's text (a failing driver on demand).
- ``LIGHTBOX_VIRTUAL_SNAPSHOT``: path of a ``.npy`` file the display writes
  atomically with what the panel shows (every ``snapshot_every`` frames and on
  every clear/stop), so a test can see that a stopped panel is dark.

The render thread never writes the snapshot itself: ``show`` copies the frame
and a ``virtual-snapshot`` thread writes it (a write or rename can wait on the
disk for hundreds of ms while the system flushes). ``clear`` and ``stop`` write
at once, so the file shows a dark panel when they return.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from appliance.display import DisplayError

FAULT_ENV = "LIGHTBOX_VIRTUAL_FAULT_FILE"
SNAPSHOT_ENV = "LIGHTBOX_VIRTUAL_SNAPSHOT"


class VirtualDisplay:
    """A panel in memory."""

    name = "virtual"

    def __init__(
        self,
        width: int,
        height: int,
        fault_file: Path | None = None,
        snapshot_file: Path | None = None,
        snapshot_every: int = 15,
    ) -> None:
        self.width = width
        self.height = height
        self.brightness_pct = 100
        self.frames_shown = 0
        self.started = False
        self.fault_file = fault_file
        self.snapshot_file = snapshot_file
        self.snapshot_every = max(1, snapshot_every)
        self._frame = np.zeros((height, width, 3), np.uint8)
        self._lock = threading.Lock()
        self._fault: str | None = None
        self.last_error: str | None = None
        self._wanted = threading.Event()  # a snapshot is due
        self._write_lock = threading.Lock()  # one writer of the file at a time
        self._writer: threading.Thread | None = None

    @classmethod
    def from_env(cls, width: int, height: int) -> VirtualDisplay:
        """Build one with the test hooks named by the environment, if any."""
        fault = os.environ.get(FAULT_ENV)
        snap = os.environ.get(SNAPSHOT_ENV)
        return cls(width, height, Path(fault) if fault else None, Path(snap) if snap else None)

    # Test hooks ----------------------------------------------------------------------
    def fail_with(self, message: str) -> None:
        """Make every start/show raise DisplayError(message) until ``recover``."""
        self._fault = message

    def recover(self) -> None:
        """Undo ``fail_with``."""
        self._fault = None

    def _check_fault(self) -> None:
        msg = self._fault
        if msg is None and self.fault_file is not None:
            with contextlib.suppress(OSError):
                if self.fault_file.exists():
                    msg = self.fault_file.read_text(encoding="utf-8").strip() or "injected fault"
        if msg is not None:
            self.last_error = msg
            raise DisplayError(msg)

    # Display interface ----------------------------------------------------------------
    def start(self) -> None:
        """Start (fails while a fault is injected)."""
        self._check_fault()
        self.started = True
        self.last_error = None

    def show(self, frame: np.ndarray) -> None:
        """Keep a copy of the frame."""
        self._check_fault()
        with self._lock:
            np.copyto(self._frame, frame)
            self.frames_shown += 1
        if self.snapshot_file is not None and self.frames_shown % self.snapshot_every == 0:
            self._snapshot_later()

    def set_brightness(self, pct: int) -> None:
        """Record the brightness."""
        self.brightness_pct = pct

    def clear(self) -> None:
        """Black out the panel."""
        with self._lock:
            self._frame[...] = 0
        self._snapshot()

    def stop(self) -> None:
        """Black out and stop."""
        self.clear()
        self.started = False

    def health(self) -> dict[str, Any]:
        """Return driver facts."""
        return {"driver": self.name, "frames_shown": self.frames_shown}

    def frame(self) -> np.ndarray:
        """Return a copy of what the panel shows now."""
        with self._lock:
            return self._frame.copy()

    def _snapshot_later(self) -> None:
        """Ask the writer thread for a snapshot (started on first use; never blocks)."""
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_loop, name="virtual-snapshot",
                                            daemon=True)
            self._writer.start()
        self._wanted.set()

    def _write_loop(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            self._snapshot()

    def _snapshot(self) -> None:
        if self.snapshot_file is None:
            return
        tmp = self.snapshot_file.with_name(self.snapshot_file.name + ".tmp.npy")
        # The copy is taken under the write lock: a later writer always writes a later frame.
        with self._write_lock, contextlib.suppress(OSError):
            with self._lock:
                frame = self._frame.copy()
            np.save(tmp, frame)
            os.replace(tmp, self.snapshot_file)
