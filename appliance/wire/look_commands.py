"""The commands of contract sections 8 and 9: presets, playlists, schedules, live input.

Turns the payloads of ``cmd/preset``, ``cmd/playlist``, ``cmd/schedule`` and
``cmd/live`` into frozen commands. Validates shape and limits only (names, counts,
ranges); whether a preset or animation exists is the engine's business. Knows
nothing of the store, the render loop, paho or Flask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from appliance.wire.command_base import BaseCommand, Meta, validate_payload
from appliance.wire.errors import CommandError, Transaction
from appliance.wire.payloads import PayloadModel
from appliance.wire.replies import Params

#: A preset or playlist name: 1-40 letters, digits, space, ``_`` and ``-``, not starting
#: or ending with a space (names a person reads in a Home Assistant select).
LOOK_NAME = r"^[A-Za-z0-9_-](?:[A-Za-z0-9 _-]{0,38}[A-Za-z0-9_-])?$"
MAX_PRESETS = 100
MAX_PLAYLISTS = 100
MAX_PLAYLIST_ITEMS = 100
#: The longest cross-fade between playlist items, in seconds.
MAX_TRANSITION_S = 60.0

LookName = Annotated[str, Field(pattern=LOOK_NAME)]


class PresetPayload(PayloadModel):
    """``cmd/preset``: exactly one of ``save``, ``apply`` and ``delete``."""

    save: LookName | None = None
    apply: LookName | None = None
    delete: LookName | None = None
    animation: str | None = None
    params: dict[str, Any] | None = None
    brightness: Annotated[int, Field(ge=1, le=100, strict=True)] | None = None
    transaction: Transaction = None

    @model_validator(mode="after")
    def _one_verb(self) -> PresetPayload:
        verbs = [v for v in ("save", "apply", "delete") if getattr(self, v) is not None]
        if len(verbs) != 1:
            raise ValueError("give exactly one of 'save', 'apply' and 'delete'")
        if self.save is None and (self.animation, self.params, self.brightness) != (None,) * 3:
            raise ValueError("'animation', 'params' and 'brightness' go only with 'save'")
        if self.save is not None and self.params is not None and self.animation is None:
            raise ValueError("'params' needs 'animation' (the look to store)")
        return self


class PlaylistItemPayload(PayloadModel):
    """One playlist item: a preset, or an animation with parameters, for a while."""

    preset: LookName | None = None
    animation: str | None = None
    params: dict[str, Any] | None = None
    duration_s: Annotated[float, Field(ge=1, le=86400)]

    @model_validator(mode="after")
    def _one_look(self) -> PlaylistItemPayload:
        if (self.preset is None) == (self.animation is None):
            raise ValueError("give exactly one of 'preset' and 'animation'")
        if self.preset is not None and self.params is not None:
            raise ValueError("'params' goes only with 'animation'")
        return self


class PlaylistPayload(PayloadModel):
    """``cmd/playlist`` as an object: exactly one of ``save``, ``play`` and ``delete``."""

    save: LookName | None = None
    play: LookName | None = None
    delete: LookName | None = None
    items: Annotated[list[PlaylistItemPayload],
                     Field(min_length=1, max_length=MAX_PLAYLIST_ITEMS)] | None = None
    shuffle: bool = False
    repeat: bool = True
    transition_s: Annotated[float, Field(ge=0, le=MAX_TRANSITION_S)] = 1.0
    transaction: Transaction = None

    @model_validator(mode="after")
    def _one_verb(self) -> PlaylistPayload:
        verbs = [v for v in ("save", "play", "delete") if getattr(self, v) is not None]
        if len(verbs) != 1:
            raise ValueError("give exactly one of 'save', 'play' and 'delete' "
                             "(or the bare 'next', 'previous', 'stop')")
        if self.save is not None and self.items is None:
            raise ValueError("'save' needs 'items'")
        if self.save is None and self.items is not None:
            raise ValueError("'items' goes only with 'save'")
        return self


class SchedulePayload(PayloadModel):
    """``cmd/schedule``: pause (``false``) or resume (``true``) every schedule."""

    enabled: bool
    transaction: Transaction = None


class LivePayload(PayloadModel):
    """``cmd/live``: follow realtime streams (``auto``) or ignore them."""

    mode: Literal["auto", "ignore"]
    transaction: Transaction = None


@dataclass(frozen=True)
class Look:
    """What a preset stores: an animation, its parameters and the brightness."""

    animation: str
    params: Params = field(default_factory=dict)
    brightness: int | None = None


@dataclass(frozen=True)
class SavePreset(BaseCommand):
    """Store a preset: the look given, or (``look`` None) the one showing now."""

    ACTION: ClassVar[str] = "preset"
    name: str
    look: Look | None = None


@dataclass(frozen=True)
class ApplyPreset(BaseCommand):
    """Show a stored preset (a hand-made change of the look: stops a playlist)."""

    ACTION: ClassVar[str] = "preset"
    name: str


@dataclass(frozen=True)
class DeletePreset(BaseCommand):
    """Forget a stored preset."""

    ACTION: ClassVar[str] = "preset"
    name: str


@dataclass(frozen=True)
class PlaylistItem:
    """One item: a preset's name, or an animation with parameters; shown ``duration_s``."""

    duration_s: float
    preset: str | None = None
    animation: str | None = None
    params: Params = field(default_factory=dict)


@dataclass(frozen=True)
class Playlist:
    """A playlist definition: its items and how they play (what ``cmd/playlist`` saves
    and the library stores)."""

    name: str
    items: tuple[PlaylistItem, ...]
    shuffle: bool = False
    repeat: bool = True
    transition_s: float = 1.0


@dataclass(frozen=True)
class SavePlaylist(BaseCommand):
    """Store a playlist definition."""

    ACTION: ClassVar[str] = "playlist"
    playlist: Playlist

    @property
    def name(self) -> str:
        """The playlist's name."""
        return self.playlist.name


@dataclass(frozen=True)
class PlayPlaylist(BaseCommand):
    """Start a stored playlist from its first item."""

    ACTION: ClassVar[str] = "playlist"
    name: str


@dataclass(frozen=True)
class DeletePlaylist(BaseCommand):
    """Forget a stored playlist (stops it if it is playing)."""

    ACTION: ClassVar[str] = "playlist"
    name: str


@dataclass(frozen=True)
class StepPlaylist(BaseCommand):
    """``next``, ``previous`` or ``stop`` the playing playlist."""

    ACTION: ClassVar[str] = "playlist"
    step: Literal["next", "previous", "stop"]


@dataclass(frozen=True)
class SetSchedule(BaseCommand):
    """Pause or resume all schedules."""

    ACTION: ClassVar[str] = "schedule"
    enabled: bool


@dataclass(frozen=True)
class SetLiveMode(BaseCommand):
    """Follow (``auto``) or ignore realtime streams."""

    ACTION: ClassVar[str] = "live"
    mode: Literal["auto", "ignore"]


PresetCommand = SavePreset | ApplyPreset | DeletePreset
PlaylistCommand = SavePlaylist | PlayPlaylist | DeletePlaylist | StepPlaylist
LookCommand = PresetCommand | PlaylistCommand | SetSchedule | SetLiveMode

_STEPS = ("next", "previous", "stop")


def parse_preset(data: Any, now: float | None, source: str) -> PresetCommand:
    """``cmd/preset``: ``{"save"|"apply"|"delete": NAME, ...}``."""
    m = validate_payload(PresetPayload, data)
    meta = Meta(m.transaction, source)
    if m.apply is not None:
        return ApplyPreset(m.apply, meta=meta)
    if m.delete is not None:
        return DeletePreset(m.delete, meta=meta)
    look = None if m.animation is None else Look(m.animation, m.params or {}, m.brightness)
    if look is None and m.brightness is not None:
        raise CommandError("invalid_value", "'brightness' needs 'animation' (the look to store)",
                           "brightness")
    return SavePreset(m.save, look, meta=meta)


def parse_playlist(data: Any, now: float | None, source: str) -> PlaylistCommand:
    """``cmd/playlist``: an object (save, play, delete) or the bare next/previous/stop."""
    if isinstance(data, str):
        step = data.strip().lower()
        if step not in _STEPS:
            raise CommandError("invalid_value", f"playlist: expected an object or one of "
                               f"{', '.join(_STEPS)}, got {data!r}")
        return StepPlaylist(step, meta=Meta(None, source))  # type: ignore[arg-type]
    m = validate_payload(PlaylistPayload, data)
    meta = Meta(m.transaction, source)
    if m.play is not None:
        return PlayPlaylist(m.play, meta=meta)
    if m.delete is not None:
        return DeletePlaylist(m.delete, meta=meta)
    items = tuple(PlaylistItem(i.duration_s, i.preset, i.animation, i.params or {})
                  for i in m.items or ())
    return SavePlaylist(Playlist(m.save, items, m.shuffle, m.repeat, m.transition_s), meta=meta)


def parse_schedule(data: Any, now: float | None, source: str) -> SetSchedule:
    """``cmd/schedule``: ``{"enabled": bool}``."""
    m = validate_payload(SchedulePayload, data)
    return SetSchedule(m.enabled, meta=Meta(m.transaction, source))


def parse_live(data: Any, now: float | None, source: str) -> SetLiveMode:
    """``cmd/live``: ``{"mode": "auto"|"ignore"}`` or the bare mode."""
    if isinstance(data, str):
        data = {"mode": data.strip().lower()}
    m = validate_payload(LivePayload, data)
    return SetLiveMode(m.mode, meta=Meta(m.transaction, source))
