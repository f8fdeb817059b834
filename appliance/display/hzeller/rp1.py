"""The Pi 5 (RP1) part of the rgbmatrix preflight, as the vendored library decides it.

hzeller's library drives a Pi 5-family board (Pi 5, Pi 500, Compute Module 5) through
one of two RP1 backends (lib/rp1/, PR #1886), chosen by ``display.rp1_rio``:

- ``false`` (the library's default, ``--led-rp1-rio=0``): the RP1's PIO does the
  work, very little CPU. Needs ``/dev/pio0`` (the rp1-pio kernel driver).
- ``true`` (``--led-rp1-rio=1``): the CPU writes the RP1's registered I/O block:
  more CPU, faster refresh. Needs ``/dev/gpiomem0`` (or ``/dev/mem``).

Either backend accepts only some mappings, row address types 0 or 2 and 1-3
parallel chains; anything else makes ``CreateFromOptions`` return NULL, which the
binding does not turn into an exception (the next call segfaults). These checks
catch that first. Reads the host only through ``Machine``; imports no rgbmatrix.
"""

from __future__ import annotations

from appliance.ops.checks import FAIL, PASS, SKIP, WARN, Check, Machine
from appliance.settings import DisplaySettings

#: Device-tree model substrings the library takes for a Pi 5-family board
#: (lib/rp1/rp1_*_backend.cc; "Raspberry Pi 5" also matches the Pi 500).
PI5_MODELS = ("raspberry pi 5", "compute module 5")
#: ``MappingNameSupported`` of each backend (lib/rp1/rp1_pio_backend.cc, rp1_rio_backend.cc).
PIO_MAPPINGS = ("regular", "regular-pi1", "classic", "adafruit-hat", "adafruit-hat-pwm")
RIO_MAPPINGS = ("regular", "classic", "adafruit-hat", "adafruit-hat-pwm")
ROW_ADDRESS_TYPES = (0, 2)
PIO_NODE = "/dev/pio0"
#: The RIO backend maps the first of these it can open (``MapGpioOrDie``).
RIO_NODES = ("/dev/gpiomem0", "/dev/mem")


def is_pi5(model: str | None) -> bool:
    """True for a Pi 5-family device-tree model."""
    m = (model or "").lower()
    return any(p in m for p in PI5_MODELS)


def backend(cfg: DisplaySettings) -> str:
    """The RP1 backend the settings choose: ``PIO`` or ``RIO``."""
    return "RIO" if cfg.rp1_rio else "PIO"


def describe(cfg: DisplaySettings) -> str:
    """One phrase for the chosen backend and its device node."""
    if cfg.rp1_rio:
        return "the RP1's registered I/O (display.rp1_rio true, /dev/gpiomem0)"
    return "the RP1's PIO (display.rp1_rio false, /dev/pio0)"


def rp1_option_checks(cfg: DisplaySettings) -> list[Check]:
    """The options the chosen RP1 backend refuses (the library would return NULL)."""
    out: list[Check] = []
    supported = RIO_MAPPINGS if cfg.rp1_rio else PIO_MAPPINGS
    if cfg.hardware_mapping not in supported:
        out.append(Check(FAIL, "display.hardware_mapping",
                         f"the Pi 5's {backend(cfg)} backend does not drive "
                         f"{cfg.hardware_mapping!r} (it drives {', '.join(supported)})",
                         "use regular for direct wiring or adafruit-hat(-pwm) for "
                         "Adafruit's HAT or bonnet."))
    if cfg.row_address_type not in ROW_ADDRESS_TYPES:
        out.append(Check(FAIL, "display.row_address_type",
                         f"the Pi 5's RP1 backends take row address type 0 or 2, not "
                         f"{cfg.row_address_type}",
                         "use 0 (most panels) or 2 (direct row select); other panels need a "
                         "Pi 4 for now."))
    return out


def rp1_device_checks(machine: Machine) -> tuple[list[Check], str | None]:
    """The nodes of both backends; return the checks and the node the engine opens, if any."""
    pio_there = machine.path(PIO_NODE).exists()
    rio = next((n for n in RIO_NODES if machine.path(n).exists()), None)
    out = [_node_check(machine, "RP1 PIO", PIO_NODE, pio_there,
                       "update Raspberry Pi OS (sudo apt full-upgrade; the rp1-pio driver "
                       "came with kernel 6.6) and reboot, or set display.rp1_rio true."),
           _node_check(machine, "RP1 RIO", rio or RIO_NODES[0], rio is not None,
                       "run Raspberry Pi OS bookworm or later on the Pi 5, or set "
                       "display.rp1_rio false to use /dev/pio0.")]
    return out, rio


def _node_check(machine: Machine, name: str, node: str, there: bool, fix: str) -> Check:
    if not there:
        return Check(FAIL, name, f"{node} does not exist", fix)
    if not machine.usable(node):
        return Check(FAIL, name, f"{node} exists but this user cannot open it",
                     "start the engine as root (the systemd unit does), or add the service "
                     "user to the gpio group.")
    return Check(PASS, name, f"{node} is accessible")


def pi5_device_checks(machine: Machine, cfg: DisplaySettings | None) -> list[Check]:
    """The chosen backend's node must open; the other's only matters as a fallback.

    With ``rp1_rio`` false the library needs /dev/pio0 (without it, it refuses even when
    /dev/gpiomem0 is there); with ``rp1_rio`` true and no RIO node it falls back to PIO.
    """
    (pio, rio), _ = rp1_device_checks(machine)
    if cfg is None or not cfg.rp1_rio:
        if rio.level == FAIL:
            rio = Check(SKIP, rio.name, f"{rio.message} (only for display.rp1_rio true)")
        return [pio, rio]
    if rio.level == FAIL and pio.level == PASS:
        rio = Check(WARN, rio.name, f"{rio.message}: the library falls back to the PIO "
                    "backend", rio.fix)
    elif pio.level == FAIL:
        pio = Check(SKIP, pio.name, f"{pio.message} (only for display.rp1_rio false)")
    return [rio, pio]
