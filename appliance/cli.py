"""The `lightbox` command line: one entry point, one subcommand per job.

Each subcommand imports its module lazily, so `lightbox check-config` never
loads paho or a display driver.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from appliance.settings import EX_CONFIG, default_settings_path

#: subcommand -> (module, help). Each module has add_arguments(parser) and run(args) -> int.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "engine": ("appliance.cli_engine", "run the render engine (display + animations + MQTT)"),
    "bridge": ("bridge.cli", "run the web bridge on bridge.host:bridge.port"),
    "dev": ("appliance.ops.dev", "local broker + engine + bridge for development"),
    "check-config": ("appliance.cli_config", "validate a settings file"),
    "verify": ("appliance.ops.verify", "verify a running installation (PASS/FAIL checklist)"),
    "bench": ("benchmarks.cli", "run the performance benchmarks"),
    "blank": ("appliance.cli_engine", "darken the panel (for ExecStopPost after a crash)"),
    "decommission": ("appliance.cli_engine", "remove this box from Home Assistant"),
    "diagnose": ("appliance.ops.diagnose", "check the machine for the LED panel and the service"),
    "test-pattern": ("appliance.ops.testpattern", "show wiring and panel test patterns"),
}


def settings_arg(parser: argparse.ArgumentParser) -> None:
    """Add the common --settings option."""
    parser.add_argument(
        "--settings", metavar="PATH", default=None,
        help="settings file (default: $LIGHTBOX_SETTINGS, else ./settings.json)",
    )


def settings_path(args: argparse.Namespace) -> Path:
    """Return the settings path chosen by --settings or the environment."""
    return default_settings_path(getattr(args, "settings", None))


class _Version(argparse.Action):
    """``--version``: the version is looked up only when asked for (see appliance.__version__)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        from appliance import __version__

        print(f"lightbox {__version__}")
        parser.exit()


def build_parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """Return the parser; only the ``chosen`` subcommand's module is imported."""
    parser = argparse.ArgumentParser(prog="lightbox", description="LightBox LED matrix appliance")
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        if name == chosen:
            mod = importlib.import_module(module)
            add: Callable[[argparse.ArgumentParser, str], None] = mod.add_arguments
            add(p, name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `lightbox` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # numpy's OpenBLAS starts one worker per core at import, and each spins for a while
    # (CPU at every start, most on a 4-core Pi). LightBox does no linear algebra.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(chosen)
    args = parser.parse_args(argv)
    mod = importlib.import_module(args._module)
    try:
        code: int = mod.run(args)
    except KeyboardInterrupt:
        return 130
    return code


__all__ = ["EX_CONFIG", "main", "settings_arg", "settings_path"]
