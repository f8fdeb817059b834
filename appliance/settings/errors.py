"""Settings errors: one ``SettingsError`` and the mapping of pydantic's errors onto it.

Owns how a problem is named: ``dotted.path: message`` lines, one per problem, the
same words on the CLI, in MQTT replies and in HTTP answers. Knows no files.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

#: Exit status of a process refusing its settings (sysexits.h EX_CONFIG).
EX_CONFIG = 78


class SettingsError(Exception):
    """Settings are invalid or unreadable; ``problems`` are (dotted.path, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]], source: str = "") -> None:
        self.problems = problems
        self.source = source
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))

    def lines(self) -> list[str]:
        """Return one `dotted.path: message` line per problem."""
        return [f"{p}: {m}" for p, m in self.problems]

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description."""
        return {
            "code": "invalid_settings",
            "message": str(self),
            "problems": [{"field": p, "message": m} for p, m in self.problems],
        }


def problems_of(exc: ValidationError) -> list[tuple[str, str]]:
    """Return (dotted.path, message) pairs for a pydantic validation error."""
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if "\n" in msg and err["type"] == "value_error":
            # Model validators join several problems by newlines; split them back.
            for part in filter(None, msg.split("\n")):
                sub, _, m = part.partition(": ")
                out.append((f"{loc}.{sub}" if loc != "(root)" else sub, m))
            continue
        out.append((loc, msg))
    return out
