"""The virtual display: the render thread never waits on the disk for its snapshot file."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from appliance.display.virtual import VirtualDisplay


def test_show_returns_while_the_snapshot_write_is_stuck(tmp_path: Path) -> None:
    # A FIFO where the snapshot's temporary file goes: opening it for writing blocks until
    # a reader comes, as a write or rename can block on a disk busy flushing (seen: 476 ms).
    snap = tmp_path / "panel.npy"
    fifo = snap.with_name(snap.name + ".tmp.npy")
    os.mkfifo(fifo)
    d = VirtualDisplay(8, 4, snapshot_file=snap, snapshot_every=5)
    d.start()
    frame = np.full((4, 8, 3), 200, np.uint8)
    done = threading.Event()

    def render() -> None:
        for _ in range(50):  # ten snapshots due
            d.show(frame)
        done.set()

    threading.Thread(target=render, daemon=True).start()
    try:
        assert done.wait(10), "show() waited for the snapshot file"
        assert d.frames_shown == 50
    finally:
        # Unblock the writer thread: read what it writes into the FIFO.
        with open(fifo, "rb") as fh:
            fh.read()


def test_stop_leaves_a_dark_snapshot(tmp_path: Path) -> None:
    snap = tmp_path / "panel.npy"
    d = VirtualDisplay(8, 4, snapshot_file=snap, snapshot_every=1)
    d.start()
    for _ in range(20):
        d.show(np.full((4, 8, 3), 255, np.uint8))
    d.stop()
    assert not np.any(np.load(snap))
