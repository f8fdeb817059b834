"""`lightbox check-config [PATH | --settings PATH]`: validate a settings file.

Prints one `dotted.path: message` line per problem (exit 78). Without PATH or
--settings it checks $LIGHTBOX_SETTINGS, else ./settings.json, like every
other command.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from appliance.settings import (
    EX_CONFIG,
    Settings,
    SettingsError,
    default_settings_path,
    load,
)


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Add the PATH argument."""
    from appliance.cli import settings_arg

    parser.add_argument("path", metavar="PATH", nargs="?", default=None,
                        help="settings file to check (same as --settings)")
    settings_arg(parser)


def run(args: argparse.Namespace) -> int:
    """Exit 0 when valid, 78 when not."""
    if args.path and args.settings and args.path != args.settings:
        print(f"check-config: give PATH or --settings, not both ({args.path} and "
              f"{args.settings})")
        return 2
    path = default_settings_path(args.path or args.settings)
    try:
        settings = load(path)
    except SettingsError as exc:
        for line in exc.lines():
            print(line)
        return EX_CONFIG
    for line in secret_warnings(settings):
        print(line)
    print(f"{path}: valid")
    return 0


def secret_warnings(settings: Settings) -> list[str]:
    """Return a `dotted.path: warning: ...` line per named secret file that cannot be read."""
    m, b = settings.mqtt, settings.bridge
    named: dict[str, Path | None] = {
        "mqtt.password_file": m.password_file,
        "bridge.auth_token_file": b.auth_token_file,
        "bridge.mqtt_password_file": b.mqtt_password_file,
    }
    if m.tls is not None:
        named.update({"mqtt.tls.ca_file": m.tls.ca_file, "mqtt.tls.cert_file": m.tls.cert_file,
                      "mqtt.tls.key_file": m.tls.key_file})
    out = []
    for dotted, file in named.items():
        if file is None:
            continue
        try:
            with file.open("rb"):
                pass
        except FileNotFoundError:
            out.append(f"{dotted}: warning: {file} does not exist")
        except OSError as exc:
            out.append(f"{dotted}: warning: cannot read {file}: {exc.strerror or exc}")
    return out
