"""Hot settings: putting a validated change in force on the running parts, or taking it back.

Owns what a settings change touches while the engine runs (the fallback
animation, the panel's brightness, the running animation's configured
parameters, the realtime receivers through ``on_realtime``) and the undo point
that restores all of them when any step fails.
Runs on the render thread, between frames. Knows nothing of files, MQTT or the
config service that decided the change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from animations import Registry
from appliance.render.factory import ActiveAnimation, AnimationFactory
from appliance.render.panel import Panel
from appliance.render.supervisor import Supervisor
from appliance.settings import Settings
from appliance.settings.realtime_schema import RealtimeSettings
from appliance.wire.errors import CommandError

log = structlog.get_logger("engine")


@dataclass(frozen=True)
class Undo:
    """Everything a settings change may alter, as it was before."""

    settings: Settings
    fallback: ActiveAnimation | None
    brightness_pct: int
    params: dict[str, Any] | None


class LiveSettings:
    """Apply settings to the running supervisor and panel; ``set_settings`` swaps the copy."""

    def __init__(self, registry: Registry, factory: AnimationFactory, supervisor: Supervisor,
                 panel: Panel, set_settings: Callable[[Settings], None]) -> None:
        self.registry = registry
        self.factory = factory
        self.supervisor = supervisor
        self.panel = panel
        self.set_settings = set_settings
        #: Told the new ``realtime`` section when it changes (the service hands it to the
        #: receivers' own thread: nothing binds a socket on the render thread).
        self.on_realtime: Callable[[RealtimeSettings], None] = lambda rt: None

    def undo_point(self, current: Settings) -> Undo:
        """Remember what a change may alter."""
        req = self.supervisor.requested
        return Undo(current, self.supervisor.fallback, self.panel.brightness_pct,
                    dict(req.params) if req else None)

    def put_in_force(self, old: Settings, new: Settings) -> None:
        """Change the running parts from ``old`` to ``new`` (raises part-way on a fault)."""
        new_fallback = new.animation.fallback != old.animation.fallback
        if new_fallback:
            self.registry.get(new.animation.fallback)  # unknown: raise before any change
        self.set_settings(new)
        if new_fallback:
            self.supervisor.set_fallback(self.factory.make(new.animation.fallback, {}))
        if new.display.brightness != old.display.brightness:
            self.panel.brightness_pct = new.display.brightness
            self.panel.apply_brightness()
        req = self.supervisor.requested
        if req is not None:
            base = new.animation.params.get(req.name)
            if base != old.animation.params.get(req.name):
                resolved = self.registry.resolve_params(req.name, {}, base=base or {})
                self.supervisor.update_params(resolved)
        if new.realtime != old.realtime:  # last: nothing after it can fail, so no undo
            self.on_realtime(new.realtime)

    def roll_back(self, undo: Undo) -> None:
        """Put back everything ``undo`` remembers."""
        sup, panel = self.supervisor, self.panel
        self.set_settings(undo.settings)
        if sup.fallback is not undo.fallback:
            if sup.fallback is not None:
                sup.retire(sup.fallback)
            sup.fallback = undo.fallback
        if panel.brightness_pct != undo.brightness_pct:
            panel.brightness_pct = undo.brightness_pct
            panel.apply_brightness()
        req = sup.requested
        if req is not None and undo.params is not None and req.params != undo.params:
            sup.update_params(undo.params)

    def apply(self, old: Settings, new: Settings) -> None:
        """Put ``new`` in force, or put everything back as ``old`` had it and raise apply_failed."""
        undo = self.undo_point(old)
        try:
            self.put_in_force(old, new)
        except Exception as exc:
            self.roll_back(undo)
            log.warning("settings_apply_rolled_back", error=f"{type(exc).__name__}: {exc}")
            raise CommandError("apply_failed", f"settings could not be applied: {exc}") from None
