"""`lightbox engine`, `lightbox blank` and `lightbox decommission`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

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
    from appliance.ops.testpattern import virtual_note

    note = virtual_note(display)
    if note:  # the snapshot is dark now, but there is no LED to see it on
        print("blank: virtual panel darkened; " + note.removeprefix("virtual panel: "))
    else:
        print("blank: panel darkened")
    return 0


#: Exit code of `lightbox decommission` while the engine still runs.
ENGINE_RUNNING = 3
DECOMMISSION_CLIENT_ID = "lightbox-decommission"


def engine_running(settings: Any) -> str | None:
    """Say why the engine of these settings looks alive (None when it does not)."""
    from pathlib import Path

    from appliance.mqtt.check import CheckClient
    from appliance.settings import read_secret
    from appliance.system import command_output
    from appliance.wire import topics

    if Path("/run/systemd/system").is_dir():
        active = command_output(["systemctl", "is-active", "lightbox-engine.service"], 15.0)
        if (active or "").strip() in ("active", "activating", "reloading"):
            return "lightbox-engine.service is active"
    b, m = settings.bridge, settings.mqtt
    if b.mqtt_username is None:
        return None  # no reader login: systemd above is all we can ask
    c = CheckClient(m.host, m.port, b.mqtt_username, read_secret(b.mqtt_password_file), m.tls,
                    client_id=DECOMMISSION_CLIENT_ID)
    try:
        if not c.connect(5.0):
            return None
        topic = topics.state_topic(topics.base(m.base_topic, settings.device_id), "status")
        got = c.read([topic], wait_s=2.0, until=lambda msgs: topic in msgs)
        if got.get(topic) == b"online":
            return f"{topic} is retained 'online'"
        return None
    finally:
        c.close()


def decommission(path: object) -> int:
    """Remove this device's Home Assistant discovery and retained topics.

    Refuses while the engine runs: it would publish them again on its next connect.
    Uses a client id of its own, so the engine's session is never taken over.
    """
    from pathlib import Path

    from appliance.mqtt.check import CheckClient
    from appliance.settings import EX_CONFIG, SettingsError, load, read_secret
    from appliance.wire import topics

    try:
        settings = load(Path(str(path)))
    except SettingsError as exc:
        for line in exc.lines():
            print(f"decommission: {path}: {line}", file=sys.stderr)
        return EX_CONFIG
    m = settings.mqtt
    alive = engine_running(settings)
    if alive is not None:
        print(f"decommission: the engine of {settings.device_id} is running ({alive}); it would "
              "publish its discovery again. Stop it first (sudo systemctl stop lightbox.target, "
              "or stop `lightbox engine`/`lightbox dev`), then run this again.")
        return ENGINE_RUNNING
    c = CheckClient(m.host, m.port, m.username, read_secret(m.password_file) if m.password_file
                    else None, m.tls, client_id=DECOMMISSION_CLIENT_ID)
    try:
        if not c.connect(10.0):
            print(f"decommission: broker {m.host}:{m.port} refused or not reachable: {c.refused}")
            return 1
        base = topics.base(m.base_topic, settings.device_id)
        wanted = [topics.discovery(m.discovery_prefix, settings.device_id)]
        wanted += topics.retained_topics(base)
        # PUBACK codes below 0x80 are success (0x10: no subscriber right now).
        codes = {t: c.publish(t, b"", retain=True) for t in wanted}
        refused = [t for t, code in codes.items() if code is None or code >= 0x80]
    finally:
        c.close()
    if refused:
        print("decommission: the broker did not accept: " + ", ".join(refused))
        return 1
    print(f"decommission: removed {settings.device_id} from Home Assistant and the broker")
    return 0
