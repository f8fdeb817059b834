"""Stored-image frames for the playing playlist's items, read off the render thread.

Owns a small cache of decoded image frames (``Preloaded``) for the items of the
playlist that plays, so an item that shows an uploaded image does not read or
decode its file on the render loop when it comes round. ``refresh`` runs on the
service's timer thread and replaces the cache whole; the render thread only reads
it (``get``). ``for_preset`` reads an applied preset's image on the thread that
submits the command. Only the playing playlist's images are kept (memory on a Pi is
small). Knows nothing of MQTT or the playlist's timing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from appliance.render.factory import AnimationFactory, Preloaded
from appliance.wire.look_commands import Look


class ItemFrames:
    """Decoded frames of the images the playing playlist shows."""

    def __init__(self, factory: AnimationFactory) -> None:
        self.factory = factory
        self.cache: dict[str, Preloaded] = {}

    def image_of(self, animation: str | None, params: Mapping[str, Any]) -> str | None:
        """The stored image a look shows, if any."""
        if animation is None or animation not in self.factory.registry:
            return None
        return self.factory.image_of(animation, params)

    def for_preset(self, look: Look | None) -> Preloaded | None:
        """Read the frames an applied preset shows, if it is an image (on the submitting
        thread; the render thread uses them only if they are still that look's image)."""
        return None if look is None else self.factory.preload(look.animation, look.params)

    def get(self, animation: str, params: Mapping[str, Any]) -> Preloaded | None:
        """Cached frames for this look (None: not cached, or no image)."""
        image = self.image_of(animation, params)
        return None if image is None else self.cache.get(image)

    def refresh(self, playing: str | None, presets: list[dict[str, Any]],
                playlists: list[dict[str, Any]]) -> None:
        """Load the images of playlist ``playing`` (its documents given); drop the rest."""
        doc = next((p for p in playlists if p["name"] == playing), None)
        looks = {p["name"]: p for p in presets}
        wanted: set[str] = set()
        for item in doc["items"] if doc is not None else ():
            look = looks.get(item["preset"]) if "preset" in item else item
            image = self.image_of(look.get("animation"), look.get("params") or {}) \
                if look is not None else None
            if image is not None:
                wanted.add(image)
        old = self.cache
        if not wanted and not old:
            return
        self.cache = {i: old[i] if i in old and old[i].error is None else self.factory.load(i)
                      for i in wanted}
