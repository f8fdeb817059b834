"""Notifications in the engine: the queue put to work, its layer, its events and its document.

Owns applying ``Notify`` and ``Dismiss`` (on the render thread, between frames),
stepping the queue once a frame, the notification layer of the compositor (drawn
over the frame below it through the one choke point), the ``notification_*``
events and the retained ``notifications`` document (published on every change).
Resolves a notification's icon off the render thread (``resolve_icon``). The
queue's rules are ``appliance.content.notifications``; the drawing is
``appliance.render.banner``. Knows nothing of paho, topics or Flask.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from animations.font import FONT_5X7
from appliance.content import icons
from appliance.content.images import ImageStore, UnknownImageError, resolve_dir
from appliance.content.notifications import Note, NoteEvent, NotificationQueue
from appliance.render.banner import Banner, Look, band_rows, hex_rgb
from appliance.render.clock import Clock
from appliance.render.frame import FrameGuard
from appliance.wire.commands import CommandError, Dismiss, Notify


def icon_size(height: int, position: str) -> int:
    """The icon size that fits the band of a notification at ``position``."""
    _, rows = band_rows(height, FONT_5X7, position)
    return 16 if rows >= 16 else 8


def rgba(rgb: np.ndarray, black_is_clear: bool = False) -> np.ndarray:
    """An RGB icon as RGBA: opaque, or (a built-in's black background) clear where black."""
    alpha = (rgb.any(axis=2) if black_is_clear else np.ones(rgb.shape[:2], bool)) * 255
    return np.ascontiguousarray(np.dstack([rgb, alpha.astype(np.uint8)]))


def image_icon(frame: np.ndarray, size: int, source: tuple[int, int] | None = None
               ) -> np.ndarray:
    """An uploaded image's frame (H, W, 3) scaled to ``size`` square (nearest), RGB.

    ``source`` (the upload's width and height) crops away the black bars the frame was
    fitted to the panel with.
    """
    if source is not None and min(source) > 0:
        fh, fw = frame.shape[:2]
        scale = min(fw / source[0], fh / source[1])
        cw, ch = max(1, round(source[0] * scale)), max(1, round(source[1] * scale))
        x, y = (fw - cw) // 2, (fh - ch) // 2
        frame = frame[y : y + ch, x : x + cw]
    h, w = frame.shape[:2]
    rows = (np.arange(size) * h // size).clip(0, h - 1)
    cols = (np.arange(size) * w // size).clip(0, w - 1)
    return np.ascontiguousarray(frame[rows][:, cols, :3], np.uint8)


class NotificationLayer:
    """The notification showing now, drawn over the frame below it."""

    name = "notification"

    def __init__(self, width: int, height: int, queue: NotificationQueue,
                 power_on: Callable[[], bool]) -> None:
        self.width = width
        self.height = height
        self.queue = queue
        self.power_on = power_on
        self._pixels = np.zeros((height, width, 3), np.uint8)
        self._banner: tuple[Note, Banner] | None = None

    def _banner_for(self, note: Note) -> Banner:
        if self._banner is None or self._banner[0] is not note:
            look = note.look if isinstance(note.look, Look) else Look()
            self._banner = (note, Banner(note.text, look, self.width, self.height,
                                         None if note.hold else note.duration_s))
        return self._banner[1]

    def opaque(self, now: float) -> bool:
        """A fullscreen notification with a background covers everything."""
        shown = self.queue.shows(self.power_on())
        if shown is None or not isinstance(shown.note.look, Look):
            return False
        return shown.note.look.position == "fullscreen" and shown.note.look.background is not None

    def draw(self, now: float, below: np.ndarray, guard: FrameGuard) -> np.ndarray | None:
        """The showing notification over ``below``, or nothing."""
        shown = self.queue.shows(self.power_on())
        if shown is None:
            self._banner = None
            return None
        banner = self._banner_for(shown.note)
        np.copyto(self._pixels, below)
        # The time it has shown, this showing (a resumed one scrolls on from where it was).
        full = shown.note.duration_s
        done_before = 0.0 if shown.note.remaining_s is None else full - shown.note.remaining_s
        banner.draw(self._pixels, done_before + now - shown.started_at)
        return guard(self._pixels)


class Notices:
    """Applies notification commands and steps the queue; publishes what changed."""

    def __init__(self, width: int, height: int, clock: Clock, power_on: Callable[[], bool],
                 event: Callable[..., None], publish: Callable[[str, Any], None],
                 changed: Callable[[], None], images_dir: Callable[[], Path | None]) -> None:
        self.clock = clock
        self.power_on = power_on
        self.event = event
        self.publish = publish
        self.changed = changed
        self.images_dir = images_dir
        self.width = width
        self.height = height
        self.queue = NotificationQueue()
        self.layer = NotificationLayer(width, height, self.queue, power_on)
        self._showing: str | None = None
        self._dirty = True

    def republish(self) -> None:
        """Send the retained document again at the next frame (after a reconnect; thread-safe)."""
        self._dirty = True

    def showing(self) -> str | None:
        """The id of the notification on the panel now, or None."""
        shown = self.queue.shows(self.power_on())
        return None if shown is None else shown.note.id

    # ------------------------------------------------------------------ off the render thread
    def resolve_icon(self, cmd: Notify) -> np.ndarray | None:
        """The icon's pixels (reads files), or raise ``invalid_param`` naming ``icon``."""
        if cmd.icon is None:
            return None
        size = icon_size(self.height, cmd.position)
        pixels = icons.icon(cmd.icon, size)
        if pixels is not None:
            return rgba(pixels, black_is_clear=True)
        store = ImageStore(resolve_dir(self.images_dir()))
        try:
            info = store.get(cmd.icon)
            frames, _ = store.frames(cmd.icon, self.width, self.height)
        except UnknownImageError:
            known = ", ".join(icons.names()) or "none yet"
            raise CommandError("invalid_param", f"unknown icon {cmd.icon!r}: name a built-in "
                               f"icon ({known}) or an uploaded image id", "icon") from None
        return rgba(image_icon(frames[0], size, (info.source_width, info.source_height)))

    # ------------------------------------------------------------------ the render thread
    def notify(self, cmd: Notify, now: float, icon: np.ndarray | None) -> str:
        """Queue or show ``cmd``; return its id (made here when it has none)."""
        note_id = cmd.id or f"n-{secrets.token_hex(4)}"
        look = Look(hex_rgb(cmd.color), None if cmd.background is None
                    else hex_rgb(cmd.background), cmd.position, icon)
        note = Note(note_id, cmd.text, cmd.priority, cmd.duration_s, cmd.hold, cmd.wake,
                    cmd.ttl_s, look)
        self._dirty = True  # a queued one replaced in place changes only the document
        self._report(self.queue.add(note, now, self.power_on()))
        return note_id

    def dismiss(self, cmd: Dismiss, now: float) -> None:
        """End the one named, every one, or the showing one (when none shows: nothing).

        An id that is neither showing nor queued is ``unknown_notification``.
        """
        events = self.queue.dismiss(cmd.id, cmd.all, now, self.power_on())
        if events is None and cmd.id is not None:
            raise CommandError("unknown_notification", f"no notification {cmd.id!r} is showing "
                               "or queued", "id")
        self._dirty = True
        self._report(events or [])

    def step(self, now: float) -> None:
        """Once a frame: expiry, ttl, pre-emption, the next one; publish what changed."""
        self._report(self.queue.step(now, self.power_on()))
        if self._dirty:
            self._dirty = False
            offset = self.clock.wall() - self.clock.monotonic()
            self.publish("notifications", self.queue.document(lambda t: t + offset))

    def _report(self, events: list[NoteEvent]) -> None:
        if events:
            self._dirty = True
        for ev in events:
            self.event(ev.name, **ev.fields())
        showing = self.showing()
        if showing != self._showing:
            self._showing = showing
            self.changed()
