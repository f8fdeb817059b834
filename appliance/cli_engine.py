"""`lightbox engine`, `lightbox blank` and `lightbox decommission`."""

from __future__ import annotations

import argparse
import sys
import time

from appliance.cli import settings_arg, settings_path


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Add the options of each subcommand."""
    settings_arg(parser)
    if name == "engine":
        parser.add_argument("--uncapped", action="store_true",
                            help="render as fast as possible (benchmarks only)")


def run(args: argparse.Namespace) -> int:
    """Dispatch on the subcommand."""
    path = settings_path(args)
    if args.command == "engine":
        from appliance.service import EngineService

        return EngineService(path, uncapped=args.uncapped).run()
    if args.command == "blank":
        return blank(path)
    return decommission(path)


def blank(path: object) -> int:
    """Darken the panel with the configured driver; never fails loudly (ExecStopPost)."""
    from pathlib import Path

    from appliance.display import make_display
    from appliance.settings import Settings, SettingsError, load

    try:
        settings = load(Path(str(path)))
    except SettingsError:
        settings = Settings()
    try:
        display = make_display(settings.display)
        display.start()
        display.clear()
        display.stop()
    except Exception as exc:  # the panel may be gone: say so, exit 0 for ExecStopPost
        print(f"blank: could not reach the display: {exc}")
        return 0
    from appliance.testpattern import virtual_note

    note = virtual_note(display)
    print(f"blank: {note}" if note else "blank: panel darkened")
    return 0


def decommission(path: object) -> int:
    """Remove this device's Home Assistant discovery and retained topics."""
    from pathlib import Path

    from appliance import discovery, topics
    from appliance.mqtt_link import MQTTLink
    from appliance.settings import EX_CONFIG, SettingsError, load

    try:
        settings = load(Path(str(path)))
    except SettingsError as exc:
        for line in exc.lines():
            print(f"decommission: {path}: {line}", file=sys.stderr)
        return EX_CONFIG
    link = MQTTLink(settings.mqtt, settings.device_id, lambda *a: None, lambda: None)
    link.start()
    deadline = time.monotonic() + 10
    while not link.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    if not link.connected:
        print(f"decommission: broker not reachable: {link.last_error}")
        link.stop()
        return 1
    discovery.remove(link, settings)
    base = topics.base(settings.mqtt.base_topic, settings.device_id)
    for name in ("state", "animations", "health", "metrics", "info", "config"):
        link.raw_publish(topics.state_topic(base, name), b"", qos=1, retain=True)
    time.sleep(0.5)
    link.stop()
    print(f"decommission: removed {settings.device_id} from Home Assistant and the broker")
    return 0
