"""What the base layer shows, and the commands that change it by hand.

Owns the light/animation switch (all or nothing, with its cross-fade), parameter
validation against the animation showing, and (contract section 8) presets and
playlists: applying, stepping and stopping them, and ``state.preset`` /
``state.playlist``. Runs on the render thread, between frames. Knows nothing of
files, MQTT or the schedule's timing (the scheduler tells it what is in force).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from animations import ParamError, Registry
from appliance.render.factory import AnimationFactory, Preloaded
from appliance.render.panel import Panel
from appliance.render.supervisor import Supervisor
from appliance.wire.commands import CommandError, SetAnimation, SetLight
from appliance.wire.look_commands import PlaylistCommand, PresetCommand

#: Who changed the look: a person (any command from MQTT or HTTP) or the schedule.
By = Literal["hand", "schedule"]


@dataclass(frozen=True)
class LookSnapshot:
    """What the base showed at one moment, to return to when a schedule window closes."""

    animation: str
    params: dict[str, Any] = field(default_factory=dict)
    power_on: bool = True
    preset: str | None = None
    playlist: str | None = None  # the playing playlist's name
    playlist_index: int = 0


class Looks:
    """The base layer's look: light commands, presets and playlists.

    ``on_hand_made`` is called (render thread) after every hand-made change of the
    look or the power, so the schedule can let it win until the next boundary.
    """

    def __init__(self, registry: Registry, factory: AnimationFactory, supervisor: Supervisor,
                 panel: Panel, changed: Callable[[], None]) -> None:
        self.registry = registry
        self.factory = factory
        self.supervisor = supervisor
        self.panel = panel
        self.changed = changed
        self.on_hand_made: Callable[[], None] = lambda: None

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

    def apply(self, cmd: PresetCommand | PlaylistCommand, now: float) -> None:
        """Apply a preset or playlist command completely, or raise CommandError."""
        raise CommandError("unknown_command", f"{cmd.action} is not available yet")

    def apply_preset(self, name: str, now: float, by: By = "hand") -> None:
        """Show the stored preset ``name`` (CommandError ``unknown_preset`` if none)."""
        raise CommandError("unknown_preset", f"no preset {name!r}", "apply")

    def play(self, name: str, now: float, by: By = "hand", index: int = 0) -> None:
        """Play the stored playlist ``name`` from item ``index`` (CommandError if none)."""
        raise CommandError("unknown_playlist", f"no playlist {name!r}", "play")

    def stop_playlist(self) -> None:
        """Stop a playing playlist, leaving its item showing."""

    def snapshot(self) -> LookSnapshot:
        """Return what the base shows now."""
        req = self.supervisor.target()
        return LookSnapshot(req.name, dict(req.params), self.panel.power_on)

    def restore(self, snap: LookSnapshot, now: float) -> None:
        """Return to ``snap`` (a missing preset or playlist falls back to its animation)."""

    def step(self, now: float) -> None:
        """Advance a playing playlist when its item is due (once per frame; cheap)."""

    def state_fields(self) -> tuple[str | None, dict[str, Any] | None]:
        """Return ``(state.preset, state.playlist)``."""
        return None, None
