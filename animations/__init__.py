"""LightBox animations: pure numpy drawing functions of (t, params).

Importing this package registers every built-in animation in ``REGISTRY``.
"""

from animations.base import (
    REGISTRY,
    Animation,
    Param,
    ParamError,
    Registry,
    RegistryError,
    UnknownAnimationError,
    load_builtins,
    register,
)

load_builtins()

__all__ = [
    "REGISTRY",
    "Animation",
    "Param",
    "ParamError",
    "Registry",
    "RegistryError",
    "UnknownAnimationError",
    "register",
]
