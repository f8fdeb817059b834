"""HTTP bodies of presets, playlists, schedules and live input (contract sections 8 and 9).

Owns the strict views of ``appliance.wire.look_commands``' payload models that the
``/api/presets``, ``/api/playlists``, ``/api/schedule`` and ``/api/live`` routes take,
and the check of a preset or playlist name taken from a URL. The wire parser
(``bridge.web.send_command``) checks each command once more exactly as the engine
will. Knows nothing of MQTT or Flask routing.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field

from appliance.wire.look_commands import (
    LOOK_NAME,
    MAX_PLAYLIST_ITEMS,
    LivePayload,
    LookName,
    PlaylistItemPayload,
    PlaylistPayload,
    PresetPayload,
    SchedulePayload,
)
from appliance.wire.payloads import strict_view
from bridge.errors import ApiError

_LOOK_NAME_RE = re.compile(LOOK_NAME)

PresetSaveBody = strict_view(
    PresetPayload, "PresetSaveBody",
    "Save a preset (``cmd/preset``'s save form): ``save`` alone stores the look showing "
    "now; with ``animation`` (and optionally ``params`` and ``brightness``) it stores "
    "the look given.",
    drop=("transaction", "apply", "delete"), fields={"save": (LookName, ...)})
PlaylistSaveBody = strict_view(
    PlaylistPayload, "PlaylistSaveBody",
    "Save a playlist (``cmd/playlist``'s save form): 1-100 items, each a preset or an "
    "animation with parameters, shown ``duration_s`` seconds.",
    drop=("transaction", "play", "delete"),
    fields={"save": (LookName, ...),
            "items": (Annotated[list[PlaylistItemPayload],
                                Field(min_length=1, max_length=MAX_PLAYLIST_ITEMS)], ...)})
ScheduleBody = strict_view(SchedulePayload, "ScheduleBody",
                           "Pause (``false``) or resume (``true``) every schedule window.")
LiveBody = strict_view(LivePayload, "LiveBody",
                       "Follow realtime streams (``auto``) or ignore them (``ignore``).")


def look_name(name: str, field: str = "name") -> str:
    """Return ``name`` (already URL-decoded) if it is a preset/playlist name, else 422."""
    if not _LOOK_NAME_RE.fullmatch(name):
        raise ApiError(422, "invalid_value",
                       f"{field}: {name[:60]!r} is not a name: 1-40 letters, digits, space, "
                       "'_' and '-', not starting or ending with a space",
                       {"field": field}, field=field)
    return name
