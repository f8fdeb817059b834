"""Command errors: a code, a human message and the offending field.

Imports nothing of the engine, the bridge, paho or the render loop.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

Transaction = str | int | None


class ErrorBody(TypedDict):
    """``error`` in a reply: the code, a human message and the field it names."""

    code: str
    message: str
    field: NotRequired[str]


class CommandError(Exception):
    """A command is malformed or cannot be applied; nothing was changed."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def as_dict(self) -> ErrorBody:
        """Return the JSON error object of a reply."""
        d: ErrorBody = {"code": self.code, "message": self.message}
        if self.field is not None:
            d["field"] = self.field
        return d
