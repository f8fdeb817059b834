"""What the bridge's views depend on, injected by ``create_app``.

Owns the dependency bundle and the rate-limit decorators. Knows nothing of
routes or MQTT details.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from appliance.content.images import ImageStore
from appliance.settings import Settings
from bridge.events import EventHub
from bridge.metrics import BridgeMetrics
from bridge.ports import EngineLink
from bridge.security import Auth

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


@dataclass
class Deps:
    """Everything a view needs."""

    settings: Settings
    link: EngineLink
    hub: EventHub
    store: ImageStore
    auth: Auth
    metrics: BridgeMetrics
    version: str


@dataclass
class Limits:
    """flask-limiter decorators for each class of request."""

    reads: Decorator
    writes: Decorator
    uploads: Decorator
    login: Decorator
