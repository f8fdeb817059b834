"""The playlist player's sequence: which item shows, in what order, and until when.

Owns the order of one cycle (a new shuffled order each cycle from an injected RNG,
so tests can fix it), the position in it, moving forwards and back (repeat wraps,
no repeat ends), and the item's deadline on the render clock (monotonic) with its
wall-clock twin for ``state.playlist.next_at``. Changed on the render thread; other
threads (state publishing, the state file timer) read ``view``, a value that is
replaced whole after every change. Pure: knows nothing of animations, the
supervisor, presets or files (``render.looks`` shows the items).
"""

from __future__ import annotations

import random
from typing import Any

from appliance.content.library import Playlist
from appliance.wire.look_commands import PlaylistItem


class Player:
    """One playing playlist (or none): ``start``, ``move``, ``arm``, ``stop``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.playlist: Playlist | None = None
        self.order: list[int] = []
        self.pos = 0
        #: Monotonic time the item ends (None: not playing).
        self.due: float | None = None
        #: Epoch seconds the item ends (what ``state.playlist.next_at`` says).
        self.next_at: float | None = None
        #: ``state.playlist`` as of the last change (None: not playing); never mutated.
        self.view: dict[str, Any] | None = None

    @property
    def playing(self) -> bool:
        """True while a playlist plays."""
        return self.playlist is not None

    @property
    def index(self) -> int:
        """The showing item's index in the playlist's definition."""
        return self.order[self.pos] if self.order else 0

    @property
    def item(self) -> PlaylistItem:
        """The showing item."""
        assert self.playlist is not None
        return self.playlist.items[self.index]

    def start(self, pl: Playlist, first: int | None) -> None:
        """Begin ``pl`` at item ``first`` (None: the start of a fresh, maybe shuffled, order)."""
        self.playlist = pl
        self.order = self._order(pl, first)
        self.pos = 0 if pl.shuffle or first is None else first
        self.due = self.next_at = None
        self._refresh()

    def _order(self, pl: Playlist, first: int | None, avoid: int | None = None) -> list[int]:
        order = list(range(len(pl.items)))
        if not pl.shuffle:
            return order
        self.rng.shuffle(order)
        lead = first if first is not None else None
        if lead is None and avoid is not None and len(order) > 1 and order[0] == avoid:
            order[0], order[1] = order[1], order[0]  # no item twice in a row across cycles
        if lead is not None and 0 <= lead < len(order):
            order.remove(lead)
            order.insert(0, lead)
        return order

    def redefine(self, pl: Playlist) -> None:
        """Keep playing under a new definition of the same name (from its next item)."""
        if self.playlist is None:
            return
        index = min(self.index, len(pl.items) - 1)
        self.playlist = pl
        self.order = self._order(pl, index)
        self.pos = 0 if pl.shuffle else index
        self._refresh()

    def move(self, step: int) -> bool:
        """Go ``step`` (+1 or -1) items; False when a playlist without repeat has ended."""
        pl = self.playlist
        assert pl is not None
        pos = self.pos + step
        if 0 <= pos < len(self.order):
            self.pos = pos
        elif step > 0:
            if not pl.repeat:
                return False
            self.order = self._order(pl, None, avoid=self.index)  # a new cycle
            self.pos = 0
        else:
            self.pos = len(self.order) - 1 if pl.repeat else 0
        self._refresh()
        return True

    def arm(self, now: float, wall: float) -> None:
        """The showing item started at ``now`` (monotonic) and ``wall`` (epoch)."""
        duration = self.item.duration_s
        self.due = now + duration
        self.next_at = round(wall + duration, 3)
        self._refresh()

    def stop(self) -> None:
        """Play nothing."""
        self.playlist = None
        self.order = []
        self.pos = 0
        self.due = self.next_at = None
        self._refresh()

    def _refresh(self) -> None:
        """Make ``view``: ``state.playlist``, ``{"name","index","item","next_at"}``, or None."""
        if self.playlist is None:
            self.view = None
            return
        item = self.item
        self.view = {"name": self.playlist.name, "index": self.index,
                     "item": item.preset if item.preset is not None else item.animation,
                     "next_at": self.next_at}

    def state(self) -> dict[str, Any] | None:
        """``state.playlist`` (a copy; safe from any thread)."""
        view = self.view
        return None if view is None else dict(view)
