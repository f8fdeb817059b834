"""`lightbox test-pattern [NAME]`: drive the configured display directly with test patterns.

For bringing up a panel with the engine service stopped: builds the display
with ``make_display``, passes every frame through ``FrameGuard`` like the
engine does, and prints what to look for with each pattern. Knows nothing of
MQTT; the patterns themselves live in ``animations.test_patterns``.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from animations import REGISTRY
from animations.test_patterns import PATTERNS
from appliance.display import Display, DisplayError, make_display
from appliance.render.frame import FrameGuard
from appliance.settings import EX_CONFIG, DisplaySettings, SettingsError, load

DEFAULT_SECONDS_EACH = 10.0
ENGINE_UNIT = "lightbox-engine.service"


def describe(name: str, width: int = 78) -> str:
    """Return a pattern's title and what to look for, wrapped for a terminal."""
    cls = REGISTRY.get(name)
    body = textwrap.fill(cls.description, width=width, initial_indent="  ",
                         subsequent_indent="  ")
    return f"{cls.title} ({name})\n{body}"


def pattern_params(name: str, cfg: DisplaySettings, seconds: float | None) -> dict[str, Any]:
    """Parameters that fit the configured panel (and a walk that covers it in ``seconds``)."""
    specs = {p.name for p in REGISTRY.get(name).params}
    params: dict[str, Any] = {}
    if "panel_width" in specs:
        params["panel_width"] = cfg.cols
        params["panel_height"] = cfg.rows
    if name == "test_walk" and seconds:
        params["speed"] = min(5000.0, max(1.0, cfg.width * cfg.height / seconds))
    return params


def drive(
    display: Display,
    cfg: DisplaySettings,
    names: Sequence[str],
    seconds: float | None,
    *,
    out: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Show each pattern for ``seconds`` (None: until interrupted); return frames shown."""
    out = out or sys.stdout
    guard = FrameGuard(display.width, display.height)
    frame_s = 1.0 / cfg.fps
    shown = 0
    for index, name in enumerate(names):
        params = pattern_params(name, cfg, seconds)
        anim = REGISTRY.create(name, display.width, display.height, params)
        step = f"[{index + 1}/{len(names)}] " if len(names) > 1 else ""
        length = f"{seconds:g} s" if seconds is not None else "until Ctrl-C"
        print(f"\n{step}{describe(name)}\n  ({length})", file=out, flush=True)
        start = clock()
        next_at = start
        while True:
            now = clock()
            t = now - start
            if seconds is not None and t >= seconds:
                break
            display.show(guard(anim.draw(t)))
            shown += 1
            next_at += frame_s
            delay = next_at - clock()
            if delay > 0:
                sleep(delay)
            else:
                next_at = clock()  # late: do not try to catch up
    return shown


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Add NAME, --settings, --seconds and --list."""
    from appliance.cli import settings_arg

    parser.add_argument("name", nargs="?", metavar="NAME",
                        help="pattern to show (default: cycle through all of them)")
    settings_arg(parser)
    parser.add_argument("--seconds", type=float, default=None, metavar="N",
                        help=f"seconds per pattern (default: {DEFAULT_SECONDS_EACH:g} when "
                        "cycling, until Ctrl-C for one NAME)")
    parser.add_argument("--list", action="store_true", help="list the patterns and exit")


def _engine_running() -> bool:
    from appliance.system import command_output

    return (command_output(["systemctl", "is-active", ENGINE_UNIT]) or "").strip() == "active"


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def virtual_note(display: Display) -> str | None:
    """Say, for the virtual panel, that nothing lights up and where its picture goes."""
    if display.name != "virtual":
        return None
    from appliance.display.virtual import SNAPSHOT_ENV

    snap = os.environ.get(SNAPSHOT_ENV)
    where = (f"its picture is written to {snap}" if snap else
             f"see it in the web UI's preview (run `lightbox dev`), or set ${SNAPSHOT_ENV} "
             "to a file for a snapshot of it")
    return ("virtual panel: no LED panel is driven here, so nothing is visible; " + where
            + ". On the Pi set display.driver to auto or rgbmatrix.")


def _chosen(args: argparse.Namespace) -> tuple[list[str], float | None] | None:
    """Return the patterns and seconds each, or None after saying what is wrong."""
    names = [args.name] if args.name else list(PATTERNS)
    unknown = [n for n in names if n not in PATTERNS]
    if unknown:
        print(f"unknown pattern {unknown[0]!r}; known: {', '.join(PATTERNS)}", file=sys.stderr)
        return None
    seconds: float | None = args.seconds
    if seconds is None and len(names) > 1:
        seconds = DEFAULT_SECONDS_EACH
    if seconds is not None and (not math.isfinite(seconds) or seconds <= 0):
        print("--seconds must be a positive number", file=sys.stderr)
        return None
    return names, seconds


def run(args: argparse.Namespace) -> int:
    """Show the patterns on the configured display; exit 0 when done or interrupted."""
    from appliance.cli import settings_path

    if args.list:
        for name in PATTERNS:
            print(describe(name) + "\n")
        return 0
    chosen = _chosen(args)
    if chosen is None:
        return 2
    names, seconds = chosen
    path = settings_path(args)
    try:
        cfg = load(path).display
    except SettingsError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        return EX_CONFIG
    display = make_display(cfg)
    if display.name == "rgbmatrix" and _engine_running():
        print(f"{ENGINE_UNIT} is running and owns the panel: stop it first with "
              f"`sudo systemctl stop {ENGINE_UNIT}`", file=sys.stderr)
        return 1
    note = virtual_note(display)
    if note:
        print(note)
    print(f"display: {display.name} {display.width}x{display.height} "
          f"(panel {cfg.cols}x{cfg.rows}, chain {cfg.chain_length}, parallel {cfg.parallel}, "
          f"mapping {cfg.hardware_mapping})")
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        display.start()
        display.set_brightness(cfg.brightness)
        drive(display, cfg, names, seconds)
    except DisplayError as exc:
        print(f"display failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopped")
    finally:
        try:
            display.stop()
        except DisplayError as exc:
            print(f"could not clear the panel: {exc}", file=sys.stderr)
        signal.signal(signal.SIGTERM, previous)
    return 0
