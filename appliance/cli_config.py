"""`lightbox check-config PATH`: validate a settings file, one `path: message` per problem."""

from __future__ import annotations

import argparse
from pathlib import Path

from appliance.settings import EX_CONFIG, SettingsError, load


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Add the PATH argument."""
    parser.add_argument("path", metavar="PATH", help="settings file to check")


def run(args: argparse.Namespace) -> int:
    """Exit 0 when valid, 78 when not."""
    path = Path(args.path)
    try:
        load(path)
    except SettingsError as exc:
        for line in exc.lines():
            print(line)
        return EX_CONFIG
    print(f"{path}: valid")
    return 0
