"""Saving presets and playlists: the validation a stored look gets (contract section 8).

Owns checking a look to store like ``cmd/animation`` would check it (unknown
animation, bad parameters, each error naming its field: ``animation``,
``params.speed``, ``items.2.preset``), then handing it to the library and
publishing the new document; and deleting (a deleted preset stops being
``state.preset``, a deleted playlist stops playing). Runs on the render thread
for ``render.looks``; knows nothing of files, MQTT or the playlist's timing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import structlog

from animations import ParamError, Registry
from animations.base import params_to_json
from appliance.render.factory import AnimationFactory
from appliance.wire.errors import CommandError
from appliance.wire.look_commands import Look, PlaylistItem, SavePlaylist

if TYPE_CHECKING:
    from appliance.render.looks import Looks

log = structlog.get_logger("engine")


def check_look(registry: Registry, factory: AnimationFactory, animation: str,
               params: Mapping[str, Any], animation_field: str, params_field: str
               ) -> dict[str, Any]:
    """Validate a look to store; return the params given, in their wire form."""
    if animation not in registry:
        raise CommandError("unknown_animation", f"unknown animation {animation!r}; known: "
                           f"{', '.join(registry.names())}", animation_field)
    cls = registry.get(animation)
    try:
        resolved = factory.resolve(animation, params)
    except ParamError as exc:
        raise CommandError("invalid_param", str(exc), f"{params_field}.{exc.field}") from None
    frames_param: str | None = getattr(cls, "frames_param", None)
    if frames_param and not resolved.get(frames_param):
        raise CommandError("invalid_param", "name an uploaded image (GET /api/images lists "
                           "them)", f"{params_field}.{frames_param}")
    wire = params_to_json(cls, resolved)
    return {k: wire[k] for k in params}


def save_preset(looks: Looks, name: str, look: Look | None) -> None:
    """Store the look given, or (``look`` None) the one showing now, as preset ``name``."""
    if look is None:
        target = looks.supervisor.target()
        look = Look(target.name, params_to_json(type(target.instance), target.params),
                    looks.panel.brightness_pct)
    else:
        params = check_look(looks.registry, looks.factory, look.animation, look.params,
                            "animation", "params")
        look = Look(look.animation, params, look.brightness)
        if looks.preset == name:
            looks.set_preset(None)  # the name now stands for another look
    looks.library.save_preset(name, look)
    looks.documents_changed("presets")
    log.info("preset_saved", name=name, animation=look.animation)


def save_playlist(looks: Looks, cmd: SavePlaylist) -> None:
    """Store a playlist, every item checked (a preset must exist now)."""
    items = []
    for n, item in enumerate(cmd.playlist.items):
        if item.preset is not None:
            looks.library.preset(item.preset, f"items.{n}.preset")
            items.append(item)
            continue
        assert item.animation is not None
        params = check_look(looks.registry, looks.factory, item.animation, item.params,
                            f"items.{n}.animation", f"items.{n}.params")
        items.append(PlaylistItem(item.duration_s, None, item.animation, params))
    pl = replace(cmd.playlist, items=tuple(items))
    looks.library.save_playlist(pl)
    playing = looks.player.playlist
    if playing is not None and playing.name == pl.name:
        looks.player.redefine(pl)  # plays on under the new definition
        looks.position_changed()
    looks.documents_changed("playlists")
    log.info("playlist_saved", name=pl.name, items=len(pl.items))


def delete_preset(looks: Looks, name: str) -> None:
    """Forget preset ``name`` (playlists that name it skip that item from now on)."""
    looks.library.delete_preset(name)
    if looks.preset == name:
        looks.set_preset(None)
    looks.documents_changed("presets")
    log.info("preset_deleted", name=name)


def delete_playlist(looks: Looks, name: str) -> None:
    """Forget playlist ``name``, stopping it if it plays."""
    looks.library.delete_playlist(name)
    playing = looks.player.playlist
    if playing is not None and playing.name == name:
        looks.end_playlist("deleted")
    looks.documents_changed("playlists")
    log.info("playlist_deleted", name=name)
