"""A publisher for engine unit tests: keeps every (name, payload, retain) it is given."""

from __future__ import annotations

from typing import Any


class Recorder:
    """A publisher that keeps everything."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, Any, bool]] = []

    def publish(self, name: str, payload: Any, *, retain: bool = False) -> None:
        self.messages.append((name, payload, retain))

    def of(self, name: str) -> list[Any]:
        """Every payload published on ``name``, oldest first."""
        return [p for n, p, _ in self.messages if n == name]

    def events(self, name: str) -> list[dict[str, Any]]:
        """Every ``events`` document of event ``name``."""
        return [e for e in self.of("events") if e["event"] == name]
