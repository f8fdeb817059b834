"""systemd notifications (READY, WATCHDOG, STATUS, STOPPING) through sdnotify.

Silent when the process is not run by systemd (no NOTIFY_SOCKET).
"""

from __future__ import annotations

import os

import sdnotify


class SystemdNotifier:
    """Sends sd_notify messages when systemd listens."""

    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        self._n = sdnotify.SystemdNotifier() if self.enabled else None
        self.sent: list[str] = []

    def notify(self, message: str) -> None:
        """Send one message (keeps the last few for tests and diagnostics)."""
        if self._n is not None:
            self._n.notify(message)
        self.sent.append(message.split("=", 1)[0])
        del self.sent[:-20]
