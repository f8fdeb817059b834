"""What the base shows at boot (``animation.boot``, contract section 8).

Owns the boot policies after ``Engine.start`` has put the default look (or, for
``last``, the saved look, power and brightness) in place: ``last`` also resumes
the playlist at its saved item and names the preset that was showing; ``off``
darkens the panel; ``preset:NAME`` and ``playlist:NAME`` show them. An unknown
name falls back to the default look with a warning, never a crash. Runs before
the first frame; knows nothing of files (the saved state is given) or MQTT.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from appliance.render.looks import Looks
from appliance.wire.errors import CommandError

log = structlog.get_logger("engine")


def apply_boot(looks: Looks, policy: str, saved: Mapping[str, Any] | None, now: float) -> None:
    """Put ``policy`` in force (``saved``: state.json's content, for ``last``)."""
    kind, _, name = policy.partition(":")
    try:
        if kind == "off":
            looks.panel.power_on = False
            looks.panel.apply_brightness()
            looks.changed()
        elif kind == "preset":
            looks.apply_preset(name, now, by="boot")
        elif kind == "playlist":
            looks.play(name, now, by="boot")
        elif kind == "last" and saved:
            _resume(looks, saved, now)
    except CommandError as exc:
        log.warning("boot_look_unavailable", boot=policy, error=exc.message,
                    using=looks.supervisor.target().name)
    log.info("boot_look", boot=policy, animation=looks.supervisor.target().name,
             power_on=looks.panel.power_on, preset=looks.preset,
             playlist=looks.position())


def _resume(looks: Looks, saved: Mapping[str, Any], now: float) -> None:
    """The playlist position and the preset from before the restart (the look, power and
    brightness are back already)."""
    position = saved.get("playlist")
    if isinstance(position, dict):
        name, index = position.get("name"), position.get("index")
        pl = looks.library.playlists.get(name) if isinstance(name, str) else None
        if pl is None:
            log.warning("boot_playlist_gone", playlist=name)
        else:
            start = index if isinstance(index, int) and not isinstance(index, bool) else 0
            looks.start_playlist(pl, now, start, 0.0, power_on=False)
            return
    preset = saved.get("preset")
    if isinstance(preset, str) and preset in looks.library.presets:
        looks.set_preset(preset)
