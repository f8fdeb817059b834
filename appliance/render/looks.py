"""What the base layer shows, and the commands that change it by hand.

Owns the light/animation switch (all or nothing, with its cross-fade), parameter
validation against the animation showing, and (contract section 8) presets and
playlists: applying, stepping and stopping them, and ``state.preset`` /
``state.playlist``. Runs on the render thread, between frames. Knows nothing of
files, MQTT or the schedule's timing (the scheduler tells it what is in force).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from animations import ParamError, Registry
from appliance.render.factory import AnimationFactory, Preloaded
from appliance.render.panel import Panel
from appliance.render.supervisor import Supervisor
from appliance.wire.commands import CommandError, SetAnimation, SetLight
from appliance.wire.look_commands import PlaylistCommand, PresetCommand


class Looks:
    """The base layer's look: light commands, presets and playlists."""

    def __init__(self, registry: Registry, factory: AnimationFactory, supervisor: Supervisor,
                 panel: Panel, changed: Callable[[], None]) -> None:
        self.registry = registry
        self.factory = factory
        self.supervisor = supervisor
        self.panel = panel
        self.changed = changed

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

    def step(self, now: float) -> None:
        """Advance a playing playlist when its item is due (once per frame; cheap)."""

    def state_fields(self) -> tuple[str | None, dict[str, Any] | None]:
        """Return ``(state.preset, state.playlist)``."""
        return None, None
