"""Logging set-up shared by every LightBox process: structlog over the standard library.

JSON lines on stdout for journald (a readable console on a TTY), snake_case
event names with key-values, and optional per-component files in
``logging.dir`` (``engine.log``, ``mqtt.log``, ``bridge.log``, ``access.log``).
Third-party loggers (paho, waitress, werkzeug) go through the same processors.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path
from typing import Any

import structlog

#: Which file a logger's records go to when logging.dir is set.
COMPONENT_FILES = {
    "engine": "engine.log",
    "display": "engine.log",
    "telemetry": "engine.log",
    "service": "engine.log",
    "config": "engine.log",
    "mqtt": "mqtt.log",
    "paho": "mqtt.log",
    "bridge": "bridge.log",
    "waitress": "bridge.log",
    "werkzeug": "bridge.log",
    "access": "access.log",
}

_COMPONENT = ["lightbox"]


def _add_component(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    """Name the process (engine or bridge) on every line, from any thread."""
    event.setdefault("component", _COMPONENT[0])
    return event


_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    _add_component,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
]


#: The files each process writes (two services as two users must not share a file).
PROCESS_FILES = {
    "engine": ("engine.log", "mqtt.log"),
    "bridge": ("bridge.log", "access.log"),
}


class _ComponentFilter(logging.Filter):
    def __init__(self, filename: str, files: tuple[str, ...]) -> None:
        super().__init__()
        self.filename = filename
        self.files = files

    def filter(self, record: logging.LogRecord) -> bool:
        target = COMPONENT_FILES.get(record.name.split(".")[0], self.files[0])
        if target not in self.files:
            target = self.files[0]  # e.g. the bridge's own paho client: bridge.log
        return target == self.filename


def configure(level: str = "info", fmt: str = "auto", log_dir: Path | None = None,
              component: str = "engine") -> None:
    """Configure structlog and the standard library once for this process."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stdout.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())
    )
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )

    def formatter(render: Any) -> logging.Formatter:
        return structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_SHARED,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                render,
            ],
        )

    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    stdout = logging.StreamHandler(sys.stdout)
    stdout.setFormatter(formatter(renderer))
    root.addHandler(stdout)
    if log_dir is not None:
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            files = PROCESS_FILES.get(component, (f"{component}.log",))
            for filename in files:
                # WatchedFileHandler reopens after logrotate moves the file.
                fh = logging.handlers.WatchedFileHandler(log_dir / filename, encoding="utf-8")
                fh.setFormatter(formatter(structlog.processors.JSONRenderer()))
                fh.addFilter(_ComponentFilter(filename, files))
                root.addHandler(fh)
        except OSError as exc:
            print(f"logging.dir: cannot write log files in {log_dir}: {exc}", file=sys.stderr)
    root.setLevel(level.upper())
    # Quiet, but routed: third-party libraries log through the same handlers.
    for name in ("paho", "waitress", "werkzeug", "urllib3"):
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
    _COMPONENT[0] = component
