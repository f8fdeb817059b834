"""What the base layer shows, and the commands that change it by hand.

Owns the light/animation switch (all or nothing, with its cross-fade), parameter
validation against the animation showing, and (contract section 8) presets and
playlists: applying, stepping and stopping them, and ``state.preset`` /
``state.playlist``. Runs on the render thread, between frames. Knows nothing of
files, MQTT or the schedule's timing (the scheduler tells it what is in force);
the stored presets and playlists are ``content.library``'s, the playlist's sequence
``render.playlist``'s.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any, assert_never

import structlog

from animations import ParamError, Registry
from appliance.content.library import Library, Playlist
from appliance.render import look_edits
from appliance.render.factory import ActiveAnimation, AnimationFactory, Preloaded
from appliance.render.item_frames import ItemFrames
from appliance.render.look_types import Built, By, LookSnapshot
from appliance.render.panel import Panel
from appliance.render.playlist import Player
from appliance.render.supervisor import Supervisor
from appliance.wire.commands import CommandError, SetAnimation, SetBrightness, SetLight, SetPower
from appliance.wire.look_commands import (
    ApplyPreset,
    DeletePlaylist,
    DeletePreset,
    PlaylistCommand,
    PlaylistItem,
    PlayPlaylist,
    PresetCommand,
    SavePlaylist,
    SavePreset,
    StepPlaylist,
)

log = structlog.get_logger("engine")

class Looks:
    """The base layer's look: light commands, presets and playlists.

    ``on_hand_made`` is called (render thread) after every hand-made change of the
    look or the power, so the schedule can let it win until the next boundary.
    """

    def __init__(self, registry: Registry, factory: AnimationFactory, supervisor: Supervisor,
                 panel: Panel, changed: Callable[[], None], *,
                 publish: Callable[[str, Any], None] | None = None,
                 event: Callable[..., None] | None = None,
                 rng: random.Random | None = None) -> None:
        self.registry = registry
        self.factory = factory
        self.supervisor = supervisor
        self.panel = panel
        self.changed = changed
        self.on_hand_made: Callable[[], None] = lambda: None
        self.publish = publish or (lambda name, body: None)  # a retained document
        self.event = event or (lambda name, **fields: None)
        self.library = Library()
        self.frames = ItemFrames(factory)
        self.player = Player(rng or random.Random())
        self.preset: str | None = None
        #: Goes up when the playlist's position changes by itself (saved debounced).
        self.position_version = 0
        self._republish = True

    def apply_light(self, cmd: SetLight | SetAnimation, now: float,
                    preloaded: Preloaded | None) -> None:
        """A light command or animation switch, all or nothing (ends a running cross-fade)."""
        effect = cmd.name if isinstance(cmd, SetAnimation) else cmd.effect
        params = cmd.params
        new_anim = None
        new_params: dict[str, Any] = {}
        if effect is not None:
            new_anim = self.factory.build(effect, params or {}, cmd.start_at, preloaded)
        elif params is not None:
            new_params = self.validated_params(params)
        # Everything validated: now change state.
        panel, sup = self.panel, self.supervisor
        from_level = panel.visible_level(now)
        transition_s = (cmd.transition_s or 0.0) if isinstance(cmd, SetLight) else 0.0
        sup.xfade.end()
        if new_anim is not None:
            sup.install(new_anim, now, transition_s if from_level > 0 else 0.0)  # dark: fade in
        elif params is not None:
            sup.update_params(new_params)
        if isinstance(cmd, SetLight):
            if cmd.brightness is not None:
                panel.brightness_pct, panel.power_on = cmd.brightness, True
            if cmd.power is not None:
                panel.power_on = cmd.power == "ON"
        panel.start_fade(from_level, transition_s, now)
        panel.apply_brightness()
        if effect is not None:
            self._hand_made_look()
        elif params is not None:
            self.set_preset(None)
        self.on_hand_made()

    def set_params(self, params: Mapping[str, Any]) -> None:
        """``cmd/params``: new parameters for the animation showing (clears ``state.preset``)."""
        self.supervisor.update_params(self.validated_params(params))
        self.set_preset(None)
        self.on_hand_made()

    def set_level(self, cmd: SetBrightness | SetPower) -> None:
        """``cmd/brightness`` and ``cmd/power``: at once, ending any transition.

        Neither changes the look: a preset stays in ``state.preset`` and a playlist plays on.
        """
        self.supervisor.xfade.end()
        if isinstance(cmd, SetBrightness):
            self.panel.set_brightness(cmd.pct)
        else:
            self.panel.set_power(cmd.state)
        self.on_hand_made()

    def validated_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Return ``params`` resolved for the animation showing, or raise CommandError."""
        target = self.supervisor.target()
        frames_param: str | None = getattr(type(target.instance), "frames_param", None)
        if frames_param is not None and frames_param in params \
                and params[frames_param] != target.params.get(frames_param):
            raise CommandError("invalid_param", "choose another image with cmd/animation",
                               f"params.{frames_param}")
        try:
            return self.registry.resolve_params(target.name, dict(params), base=target.params)
        except ParamError as exc:
            raise CommandError("invalid_param", str(exc), f"params.{exc.field}") from None

    # ------------------------------------------------------------------ commands
    def apply(self, cmd: PresetCommand | PlaylistCommand, now: float,
              preloaded: Preloaded | None = None) -> None:
        """Apply a preset or playlist command completely, or raise CommandError."""
        match cmd:
            case SavePreset(name=name, look=look):
                look_edits.save_preset(self, name, look)
            case ApplyPreset(name=name):
                self.apply_preset(name, now, preloaded=preloaded)
            case DeletePreset(name=name):
                look_edits.delete_preset(self, name)
            case SavePlaylist():
                look_edits.save_playlist(self, cmd)
            case PlayPlaylist(name=name):
                self.play(name, now)
            case DeletePlaylist(name=name):
                look_edits.delete_playlist(self, name)
            case StepPlaylist(step=step):
                self._step_by_hand(step, now)
            case _:
                assert_never(cmd)

    def documents_changed(self, name: str) -> None:
        """Publish the retained ``presets`` or ``playlists`` document."""
        doc = self.library.presets_doc if name == "presets" else self.library.playlists_doc
        self.publish(name, doc.doc)

    def preload(self) -> None:
        """Decode the playing playlist's images ahead of their turn (a timer thread)."""
        view = self.player.view
        try:
            self.frames.refresh(view["name"] if view else None, self.library.presets_doc.doc,
                                self.library.playlists_doc.doc)
        except Exception as exc:  # the timer thread must go on saving state
            log.warning("playlist_preload_failed", error=f"{type(exc).__name__}: {exc}")

    def republish(self) -> None:
        """Publish the retained presets and playlists at the next frame (thread-safe)."""
        self._republish = True

    # ------------------------------------------------------------------ presets
    def apply_preset(self, name: str, now: float, by: By = "hand",
                     preloaded: Preloaded | None = None) -> None:
        """Show the stored preset ``name`` (CommandError ``unknown_preset`` if none)."""
        look = self.library.preset(name, "apply")
        active = self._build(look.animation, look.params, "apply", f"preset {name!r}: ",
                             preloaded)
        self.end_playlist(by)
        self._show(active, look.brightness, now, 0.0, power_on=True)
        self.set_preset(name)
        log.info("preset_applied", name=name, by=by)
        if by == "hand":
            self.on_hand_made()

    def _build(self, animation: str, params: Mapping[str, Any], field_name: str,
               prefix: str, preloaded: Preloaded | None = None) -> ActiveAnimation:
        try:
            return self.factory.build(animation, params, None,
                                      preloaded or self.frames.get(animation, params))
        except CommandError as exc:
            raise CommandError(exc.code, prefix + exc.message, field_name) from None

    def _show(self, active: ActiveAnimation, brightness: int | None, now: float,
              fade_s: float, power_on: bool) -> None:
        """Install ``active`` (cross-fading over ``fade_s`` unless dark) and the brightness."""
        panel = self.panel
        from_level = panel.visible_level(now)
        self.supervisor.install(active, now, fade_s if from_level > 0 else 0.0)
        if brightness is not None:
            panel.brightness_pct = brightness
        if power_on:
            panel.power_on = True
        panel.start_fade(from_level, fade_s, now)
        panel.apply_brightness()
        self.changed()

    def set_preset(self, name: str | None) -> None:
        """Set ``state.preset`` (marking the state changed when it differs)."""
        if self.preset != name:
            self.preset = name
            self.changed()

    def _hand_made_look(self) -> None:
        """A person chose another look: no preset, no playlist."""
        self.set_preset(None)
        self.end_playlist("hand")

    # ------------------------------------------------------------------ playlists
    def play(self, name: str, now: float, by: By = "hand", index: int = 0) -> None:
        """Play the stored playlist ``name`` from item ``index`` (CommandError if none)."""
        pl = self.library.playlist(name, "play")
        first = None if pl.shuffle and index == 0 else index
        fade_s = 0.0 if by == "boot" else pl.transition_s
        self.start_playlist(pl, now, first, fade_s=fade_s, power_on=True)
        log.info("playlist_started", name=name, by=by, index=self.player.index)
        if by == "hand":
            self.on_hand_made()

    def start_playlist(self, pl: Playlist, now: float, first: int | None, fade_s: float,
                       power_on: bool) -> None:
        """Show ``pl``'s first showable item from ``first``; CommandError if none can show."""
        if first is not None and not 0 <= first < len(pl.items):
            first = 0
        player = Player(self.player.rng)
        player.start(pl, first)
        active = self._first_showable(player, +1)
        if active is None:
            raise CommandError("playlist_unplayable", f"no item of playlist {pl.name!r} can "
                               "show (their presets or animations are gone)", "play")
        self.end_playlist("replaced")
        self.set_preset(None)
        self.player = player
        self._show_item(active, now, fade_s, power_on)

    def _first_showable(self, player: Player, step: int) -> Built | None:
        """Build the item at the player's position, moving on past the ones that cannot show.

        Returns the animation and the brightness, or None (ended, or none can show).
        """
        pl = player.playlist
        assert pl is not None
        for _ in range(len(pl.items)):
            built = self._build_item(pl, player.index, player.item)
            if built is not None:
                return built
            if not player.move(step):
                return None
        return None

    def _build_item(self, pl: Playlist, index: int, item: PlaylistItem) -> Built | None:
        try:
            if item.preset is not None:
                look = self.library.preset(item.preset, f"items.{index}.preset")
                return self._build(look.animation, look.params, "", ""), look.brightness
            assert item.animation is not None
            return self._build(item.animation, item.params, "", ""), None
        except CommandError as exc:
            log.warning("playlist_item_skipped", playlist=pl.name, index=index,
                        item=item.preset or item.animation, code=exc.code, error=exc.message)
            self.event("playlist_item_skipped", playlist=pl.name, index=index,
                       item=item.preset or item.animation, code=exc.code, error=exc.message)
            return None

    def _show_item(self, built: Built, now: float, fade_s: float, power_on: bool) -> None:
        active, brightness = built
        self._show(active, brightness, now, fade_s, power_on)
        clock = self.factory.clock  # ``now`` may be a moment ago (the item was due then)
        self.player.arm(now, clock.wall() + (now - clock.monotonic()))
        self.position_changed()

    def position_changed(self) -> None:
        """The playlist's position moved: mark it for saving and the state for publishing."""
        self.position_version += 1
        self.changed()

    def _advance(self, step: int, now: float) -> None:
        """Show the next (``step`` +1) or previous (-1) item, or end the playlist."""
        pl = self.player.playlist
        assert pl is not None
        if not self.player.move(step):
            self.end_playlist("finished")
            return
        built = self._first_showable(self.player, step)
        if built is None:
            self.end_playlist("finished" if not pl.repeat else "unplayable")
            return
        self._show_item(built, now, pl.transition_s, power_on=False)

    def _step_by_hand(self, step: str, now: float) -> None:
        if step == "stop":
            self.stop_playlist()
            return
        if not self.player.playing:
            raise CommandError("not_playing", f"no playlist is playing to go {step!r} in",
                               "playlist")
        self._advance(+1 if step == "next" else -1, now)
        self.on_hand_made()

    def stop_playlist(self) -> None:
        """Stop a playing playlist, leaving its item showing."""
        self.end_playlist("stopped")

    def end_playlist(self, reason: str) -> None:
        """Stop the playlist (if one plays) for ``reason``, leaving its item showing."""
        pl = self.player.playlist
        if pl is None:
            return
        index = self.player.index
        self.player.stop()
        self.position_changed()
        log.info("playlist_ended", name=pl.name, index=index, reason=reason)
        self.event("playlist_ended", playlist=pl.name, reason=reason)

    def step(self, now: float) -> None:
        """Advance a playing playlist when its item is due (once per frame; cheap)."""
        if self._republish:
            self._republish = False
            self.documents_changed("presets")
            self.documents_changed("playlists")
        due = self.player.due
        if due is not None and now >= due:
            # A frame late: the next item's time counts from when it was due (no drift).
            self._advance(+1, due if now - due < 1.0 else now)

    # ------------------------------------------------------------------ the schedule's
    def snapshot(self) -> LookSnapshot:
        """Return what the base shows now."""
        req = self.supervisor.target()
        pl = self.player.playlist
        return LookSnapshot(req.name, dict(req.params), self.panel.power_on, self.preset,
                            pl.name if pl is not None else None, self.player.index)

    def restore(self, snap: LookSnapshot, now: float) -> None:
        """Return to ``snap`` (a missing preset or playlist falls back to its animation)."""
        pl = self.library.playlists.get(snap.playlist) if snap.playlist else None
        if pl is not None:
            try:
                self.start_playlist(pl, now, snap.playlist_index, 0.0, snap.power_on)
                self._restore_power(snap.power_on, now)
                return
            except CommandError as exc:
                log.warning("restore_playlist_failed", playlist=pl.name, error=exc.message)
        try:
            active = self.factory.build(snap.animation, snap.params, None, None)
        except CommandError as exc:
            log.warning("restore_animation_failed", animation=snap.animation, error=exc.message)
            active = self.factory.make_default()
        self.end_playlist("replaced")
        self._show(active, None, now, 0.0, power_on=False)
        self.set_preset(snap.preset if snap.preset in self.library.presets else None)
        self._restore_power(snap.power_on, now)

    def _restore_power(self, power_on: bool, now: float) -> None:
        if self.panel.power_on != power_on:
            self.panel.power_on = power_on
            self.panel.start_fade(self.panel.visible_level(now), 0.0, now)
            self.panel.apply_brightness()
            self.changed()

    def state_fields(self) -> tuple[str | None, dict[str, Any] | None]:
        """Return ``(state.preset, state.playlist)``."""
        return self.preset, self.player.state()

    def position(self) -> dict[str, Any] | None:
        """The playlist position to save for ``animation.boot: last`` (name and item index;
        safe from any thread)."""
        view = self.player.view
        return None if view is None else {"name": view["name"], "index": view["index"]}
