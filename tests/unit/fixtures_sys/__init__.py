"""Fake host trees (``pi4``, ``non_pi``) and helpers that derive the broken cases from them."""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).parent


def make_tree(name: str, dest: Path) -> Path:
    """Copy the named tree into ``dest`` (a fresh directory) and return it."""
    root = dest / name
    shutil.copytree(HERE / name, root)
    return root


def load_sound_module(root: Path) -> None:
    """Make the tree look like snd_bcm2835 is loaded and audio is on in config.txt."""
    with (root / "proc/modules").open("a") as f:
        f.write("snd_bcm2835 24576 1 - Live 0x0000000000000000\n")
    cfg = root / "boot/firmware/config.txt"
    cfg.write_text(cfg.read_text().replace("dtparam=audio=off", "dtparam=audio=on"))


def remove_device_nodes(root: Path) -> None:
    """Delete /dev/mem and /dev/gpiomem from the tree."""
    for node in ("mem", "gpiomem"):
        (root / "dev" / node).unlink(missing_ok=True)


def overheat(root: Path, millidegrees: int = 86500) -> None:
    """Set the CPU temperature."""
    (root / "sys/class/thermal/thermal_zone0/temp").write_text(f"{millidegrees}\n")
