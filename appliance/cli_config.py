"""`lightbox check-config [PATH | --settings PATH]`: validate a settings file.

Prints one `dotted.path: message` line per problem (exit 78). Without PATH or
--settings it checks $LIGHTBOX_SETTINGS, else ./settings.json, like every
other command.
"""

from __future__ import annotations

import argparse

from appliance.settings import EX_CONFIG, SettingsError, default_settings_path, load


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
        load(path)
    except SettingsError as exc:
        for line in exc.lines():
            print(line)
        return EX_CONFIG
    print(f"{path}: valid")
    return 0
