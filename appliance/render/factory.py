"""The animation factory: animation instances from names and parameters, and image preloading.

Owns parameter resolution (defaults < settings params < command params), the
``ActiveAnimation`` record, and loading a stored image's frames. ``preload`` runs
on the thread that submits a command (never the render thread), so decoding an
image costs no frame; ``make`` then only uses what was loaded; ``build`` turns a
command's animation into one, or into the wire's error code. Knows nothing of
MQTT, displays or the render loop's state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import structlog

from animations import Animation, ParamError, Registry, UnknownAnimationError
from appliance.content.images import ImageStore, UnknownImageError, limits_from, resolve_dir
from appliance.render.clock import Clock
from appliance.render.sandbox import DrawWorker
from appliance.settings import Settings
from appliance.wire.commands import CommandError

log = structlog.get_logger("engine")

Frames = tuple[np.ndarray, list[float]]


@dataclass(frozen=True)
class Preloaded:
    """A stored image's frames (or the error loading them), read off the render thread."""

    image_id: str
    frames: Frames | None = None
    error: Exception | None = None


@dataclass
class ActiveAnimation:
    """The animation on screen: its instance, its clock anchor and its parameters."""

    name: str
    instance: Animation
    params: dict[str, Any]
    anchor: float  # monotonic time at which t == 0
    scheduled: bool = False  # True when a fleet start_at holds it back until ``anchor``
    #: The thread its draw() runs on when isolated (see appliance.render.sandbox).
    worker: DrawWorker | None = None
    #: Its image frames, kept so a rebuild (after a leak) reads no file on the frame path.
    preloaded: Preloaded | None = None


class AnimationFactory:
    """Builds animations of one geometry with the settings in force."""

    def __init__(self, registry: Registry, settings: Callable[[], Settings], clock: Clock,
                 width: int, height: int) -> None:
        self.registry = registry
        self.settings = settings
        self.clock = clock
        self.width = width
        self.height = height

    def build(self, name: str, params: Mapping[str, Any], start_at: float | None,
              preloaded: Preloaded | None) -> ActiveAnimation:
        """Build the animation a command asks for, or raise the CommandError that says why not.

        With ``start_at`` (epoch seconds) it is anchored there: scheduled for a fleet start.
        """
        if name not in self.registry:
            raise CommandError(
                "unknown_animation",
                f"unknown animation {name!r}; known: {', '.join(self.registry.names())}",
                "name",
            )
        try:
            active = self.make(name, params, preloaded)
        except UnknownImageError as exc:
            raise CommandError("unknown_image", exc.message, f"params.{exc.field}") from None
        except ParamError as exc:
            raise CommandError("invalid_param", str(exc), f"params.{exc.field}") from None
        except Exception as exc:  # a constructor bug is that animation's failure, not ours
            raise CommandError("animation_failed", f"{name} failed to start: {exc}",
                               "name") from None
        if start_at is not None:
            active.anchor = self.clock.monotonic() + (start_at - self.clock.wall())
            active.instance.epoch_at_t0 = start_at
            active.scheduled = True
        return active

    def resolve(self, name: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Resolve params for ``name`` over the settings' params (raise ParamError)."""
        base = self.settings().animation.params.get(name, {})
        return self.registry.resolve_params(name, dict(params), base=base)

    def image_of(self, name: str, resolved: Mapping[str, Any]) -> str | None:
        """The stored image an animation with these params shows, if any."""
        frames_param = getattr(self.registry.get(name), "frames_param", None)
        value = resolved.get(frames_param) if frames_param else None
        return str(value) if value else None

    def preload(self, name: str | None, params: Mapping[str, Any] | None) -> Preloaded | None:
        """Load the frames a switch to ``name`` will need (None: nothing to load, or a
        command the render thread will refuse for its name or params anyway)."""
        if name is None or name not in self.registry:
            return None
        try:
            image = self.image_of(name, self.resolve(name, params or {}))
        except (ParamError, UnknownAnimationError):
            return None
        return None if image is None else self.load(image)

    def load(self, image_id: str) -> Preloaded:
        """Read an image's frames from the store (the same limits as the uploads had)."""
        bridge = self.settings().bridge
        store = ImageStore(resolve_dir(bridge.images_dir), limits_from(bridge))
        try:
            return Preloaded(image_id, store.frames(image_id, self.width, self.height))
        except Exception as exc:  # raised where the animation is built, on the render thread
            return Preloaded(image_id, error=exc)

    def make(self, name: str, params: Mapping[str, Any],
             preloaded: Preloaded | None = None) -> ActiveAnimation:
        """Create an animation with params: defaults < settings params < ``params``.

        Frames of a stored image come from ``preloaded`` when it holds that image,
        else they are read here (boot and settings changes, not the frame path).
        """
        resolved = self.resolve(name, params)
        cls = self.registry.get(name)
        frames_param = getattr(cls, "frames_param", None)
        if frames_param and not resolved.get(frames_param):
            # Bare, it would only show a dark panel: ask for the picture instead.
            raise ParamError(frames_param, "name an uploaded image (GET /api/images lists them)")
        inst = cls(self.width, self.height, resolved, seed=0)
        image = self.image_of(name, resolved)
        if image is not None:
            if preloaded is None or preloaded.image_id != image:
                preloaded = self.load(image)
            if preloaded.error is not None:
                raise preloaded.error
            assert preloaded.frames is not None
            inst.set_frames(*preloaded.frames)  # type: ignore[attr-defined]
        inst.epoch_at_t0 = self.clock.wall()
        return ActiveAnimation(name, inst, resolved, self.clock.monotonic(), preloaded=preloaded)

    def make_default(self) -> ActiveAnimation:
        """Create ``animation.default``, or the fallback when it cannot start (a gone image)."""
        anim = self.settings().animation
        try:
            return self.make(anim.default, {})
        except (ParamError, UnknownImageError) as exc:
            log.warning("default_animation_invalid", animation=anim.default, error=str(exc))
            return self.make(anim.fallback, {})

    def gone_image(self, active: ActiveAnimation | None) -> str | None:
        """The stored image ``active`` shows when its file no longer exists (reads the disk)."""
        image = self.image_of(active.name, active.params) if active is not None else None
        if image is None:
            return None
        store = ImageStore(resolve_dir(self.settings().bridge.images_dir))
        return None if store.exists(image) else image
