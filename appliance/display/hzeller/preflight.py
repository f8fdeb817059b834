"""The rgbmatrix preflight: every check that must pass before the library is touched.

A failed library init can segfault or ``exit(1)`` instead of raising, so the
display options (against what the library accepts and the mapping wires), the
device nodes and privileges, the board and the sound module (loaded now, or
turned on in the boot config) are checked in Python first. Also what
`lightbox diagnose` reports. Reads the host only
through ``Machine``; imports no rgbmatrix. Knows nothing of MQTT or the render loop.
"""

from __future__ import annotations

from appliance.display.hzeller.rp1 import is_pi5, pi5_device_checks, rp1_option_checks
from appliance.ops.checks import FAIL, PASS, SKIP, WARN, Check, Machine
from appliance.settings import HARDWARE_MAPPINGS, DisplaySettings, grammar

#: How many parallel chains each hardware mapping wires (hzeller's lib/hardware-mapping.c).
MAX_PARALLEL = {
    "regular": 3,
    "adafruit-hat": 1,
    "adafruit-hat-pwm": 1,
    "regular-pi1": 1,
    "classic": 3,
    "classic-pi1": 1,
    "compute-module": 6,
}
#: Mappings whose output-enable is a PWM pin (GPIO 18 or 12, lib/hardware-mapping.c): the
#: library drives them with the hardware pulser, whose PWM and clock registers only
#: /dev/mem maps. With /dev/gpiomem alone it prints "Need root" and calls exit(1).
PWM_PULSED = frozenset({"regular", "adafruit-hat-pwm", "regular-pi1", "compute-module"})
#: Pixel mappers built into the library (``Name`` or ``Name:param``, ``;``-separated).
KNOWN_PIXEL_MAPPERS = grammar.PIXEL_MAPPERS
#: Mappings lib/hardware-mapping.c has only when built with ENABLE_WIDE_GPIO_COMPUTE_MODULE,
#: which the Python build (CMakeLists.txt) never sets: the library abort()s on them.
NOT_IN_PYTHON_BUILD = frozenset({"compute-module"})
#: Panel initialisation sequences the library knows (empty means none needed).
KNOWN_PANEL_TYPES = ("FM6126A", "FM6127")
#: The sound module that shares the PWM hardware: the library refuses to run with it loaded.
SOUND_MODULE = "snd_bcm2835"
BOOT_CONFIGS = ("/boot/firmware/config.txt", "/boot/config.txt")
#: config.txt sections that apply to a Pi 4 (settings outside any section apply to all).
PI4_SECTIONS = frozenset({"", "all", "pi4"})


def option_checks(cfg: DisplaySettings) -> list[Check]:
    """Check the display options against what the library accepts and the mapping wires."""
    return _geometry(cfg) + _layout(cfg) + _timing(cfg) + _unknown_names(cfg)


def _bad(name: str, message: str, fix: str) -> Check:
    return Check(FAIL, f"display.{name}", message, fix)


def _geometry(cfg: DisplaySettings) -> list[Check]:
    """Rows, columns, mapping, parallel chains and chain length."""
    out: list[Check] = []

    def bad(name: str, message: str, fix: str) -> None:
        out.append(_bad(name, message, fix))

    if cfg.rows % 2 or not 8 <= cfg.rows <= 64:
        bad("rows", f"{cfg.rows} rows is not an even number from 8 to 64",
            "set display.rows to the panel's pixel height (16, 32 or 64; 8 for tiny panels).")
    if cfg.cols < 16:
        bad("cols", f"{cfg.cols} columns is fewer than the library's minimum of 16",
            "set display.cols to the panel's pixel width (usually 32 or 64).")
    if cfg.hardware_mapping not in HARDWARE_MAPPINGS:
        bad("hardware_mapping", f"unknown mapping {cfg.hardware_mapping!r}",
            "use regular for direct wiring or adafruit-hat / adafruit-hat-pwm for Adafruit's "
            "HAT or bonnet.")
    elif cfg.hardware_mapping in NOT_IN_PYTHON_BUILD:
        bad("hardware_mapping", f"{cfg.hardware_mapping!r} exists only in a library built "
            "with ENABLE_WIDE_GPIO_COMPUTE_MODULE; the Python binding's build lacks it and "
            "the library would abort", "use regular (up to 3 parallel chains) or classic.")
    else:
        most = MAX_PARALLEL[cfg.hardware_mapping]
        if cfg.parallel > most:
            bad("parallel", f"{cfg.hardware_mapping} wires {most} chain(s), not {cfg.parallel}",
                f"set display.parallel to at most {most} or use a mapping with more chains "
                "(regular: 3).")
    if not 1 <= cfg.chain_length <= 8:
        bad("chain_length", f"{cfg.chain_length} panels per chain is out of 1..8",
            "set display.chain_length to the number of panels daisy-chained on one connector.")
    return out


def _layout(cfg: DisplaySettings) -> list[Check]:
    """Pixel mappers that would lose pixels: U-mapper divides at a 32-pixel boundary."""
    out: list[Check] = []
    width = cfg.cols * cfg.chain_length
    names = [e.split(":", 1)[0].strip().lower() for e in cfg.pixel_mapper_config.split(";")]
    if "u-mapper" in names and width % 64:
        out.append(Check(WARN, "display.pixel_mapper_config",
                         f"U-mapper folds {width} columns into {(width // 64) * 32}: the "
                         "library divides the chain at a 32-pixel boundary",
                         "use U-mapper with a chain whose total width is a multiple of 64 "
                         "(e.g. 2 or 4 panels of 32 or 64 columns)."))
    return out


def _timing(cfg: DisplaySettings) -> list[Check]:
    """GPIO speed, PWM, brightness, scan, addressing, colour order and refresh limit."""
    out: list[Check] = []

    def bad(name: str, message: str, fix: str) -> None:
        out.append(_bad(name, message, fix))

    if not 0 <= cfg.gpio_slowdown <= 5:
        bad("gpio_slowdown", f"{cfg.gpio_slowdown} is out of 0..5",
            "use 4 on a Pi 4 (2 on a Pi 3, 1 on older Pis).")
    if not 1 <= cfg.pwm_bits <= 11:
        bad("pwm_bits", f"{cfg.pwm_bits} is out of 1..11",
            "use 11 for the best colours, fewer for a higher refresh rate.")
    if not 50 <= cfg.pwm_lsb_nanoseconds <= 3000:
        bad("pwm_lsb_nanoseconds", f"{cfg.pwm_lsb_nanoseconds} ns is out of 50..3000",
            "use 130 (the library default); raise it against ghosting, lower it against flicker.")
    if not 0 <= cfg.pwm_dither_bits <= 2:
        bad("pwm_dither_bits", f"{cfg.pwm_dither_bits} is out of 0..2", "use 0, 1 or 2.")
    if not 1 <= cfg.brightness <= 100:
        bad("brightness", f"{cfg.brightness} is out of 1..100", "use a percentage from 1 to 100.")
    if cfg.scan_mode not in (0, 1):
        bad("scan_mode", f"{cfg.scan_mode} is not 0 or 1", "use 0 (progressive) or 1 (interlaced).")
    if not 0 <= cfg.row_address_type <= 5:
        bad("row_address_type", f"{cfg.row_address_type} is out of 0..5",
            "use 0 for most panels; 1 for 64x64 AB-addressed panels, see docs/hardware.md.")
    seq = cfg.led_rgb_sequence.upper()
    if len(seq) != 3 or set(seq) != {"R", "G", "B"}:
        bad("led_rgb_sequence", f"{cfg.led_rgb_sequence!r} is not an order of R, G and B",
            "use RGB, or the order the solid-colour test patterns reveal (e.g. RBG).")
    if cfg.limit_refresh_rate_hz < 0:
        bad("limit_refresh_rate_hz", "a negative refresh limit", "use 0 (no limit) or e.g. 120.")
    return out


def _unknown_names(cfg: DisplaySettings) -> list[Check]:
    """Warn about panel types and pixel mappers the library is not known to have."""
    out: list[Check] = []
    if cfg.panel_type and cfg.panel_type.upper() not in KNOWN_PANEL_TYPES:
        out.append(Check(WARN, "display.panel_type", f"{cfg.panel_type!r} is not a panel type "
                         "the library is known to support",
                         "leave it empty unless the panel stays dark; then try FM6126A or FM6127."))
    for part in filter(None, (p.strip() for p in cfg.pixel_mapper_config.split(";"))):
        mapper = part.split(":", 1)[0]
        if mapper.lower() not in {m.lower() for m in KNOWN_PIXEL_MAPPERS}:
            out.append(Check(WARN, "display.pixel_mapper_config",
                             f"unknown pixel mapper {mapper!r}",
                             f"use one of {', '.join(KNOWN_PIXEL_MAPPERS)} "
                             "(e.g. 'U-mapper;Rotate:90')."))
    return out


def device_checks(machine: Machine, cfg: DisplaySettings | None = None) -> list[Check]:
    """Check the GPIO device nodes (the RP1's on a Pi 5) and what running as root means."""
    if is_pi5(machine.model()):
        return pi5_device_checks(machine, cfg) + _privilege_checks(machine, cfg, "the RP1")
    out: list[Check] = []
    mem, gpiomem = machine.usable("/dev/mem"), machine.usable("/dev/gpiomem")
    mem_there = machine.path("/dev/mem").exists()
    gpiomem_there = machine.path("/dev/gpiomem").exists()
    if not mem_there and not gpiomem_there:
        out.append(Check(FAIL, "device nodes", "neither /dev/mem nor /dev/gpiomem exists",
                         "run on a Raspberry Pi with Raspberry Pi OS (or use display.driver "
                         "virtual on this machine)."))
        return out
    if mem:
        out.append(Check(PASS, "device nodes", "/dev/mem is accessible (full GPIO and PWM "
                         "access, hardware pulsing available)"))
    elif gpiomem:
        out.append(_gpiomem_only(cfg))
    else:
        there = "/dev/mem" if mem_there else "/dev/gpiomem"
        out.append(Check(FAIL, "device nodes", f"{there} exists but this user cannot open it",
                         "start the engine as root (sudo, or the systemd unit), or add the "
                         "service user to the gpio group for /dev/gpiomem."))
    return out + _privilege_checks(machine, cfg, "/dev/mem")


def _gpiomem_only(cfg: DisplaySettings | None) -> Check:
    """Only /dev/gpiomem: fine without hardware pulsing, fatal with a PWM-pulsed mapping."""
    pulsing_off = cfg is not None and cfg.disable_hardware_pulsing
    fix = ("start the engine as root (the systemd unit does; the library drops privileges "
           "after init) or set display.disable_hardware_pulsing true and accept more flicker.")
    if cfg is not None and not pulsing_off and cfg.hardware_mapping in PWM_PULSED:
        return Check(FAIL, "device nodes",
                     f"only /dev/gpiomem is accessible, and {cfg.hardware_mapping!r} pulses "
                     "its output-enable pin with the PWM hardware, which needs /dev/mem: the "
                     "library would exit(1) at start", fix)
    return Check(PASS if pulsing_off else WARN, "device nodes",
                 "only /dev/gpiomem is accessible: GPIO works but hardware pulsing needs "
                 "/dev/mem", fix)


def drop_user_checks(machine: Machine, cfg: DisplaySettings | None) -> list[Check]:
    """The privilege-drop user and group must exist, or the library silently keeps root.

    lib/led-matrix.cc drop_privs() looks the group up first, then the user; when one is
    missing it prints "lookup" and returns without dropping, and the return value is
    ignored: the engine would go on as root.
    """
    if cfg is None or not cfg.drop_privileges or not machine.is_root():
        return []  # drop_privs() does nothing for a process that is not root
    out: list[Check] = []
    for what, name, exists in (("group", cfg.drop_priv_group, machine.group_exists),
                               ("user", cfg.drop_priv_user, machine.user_exists)):
        if not exists(name):
            out.append(Check(FAIL, f"display.drop_priv_{what}",
                             f"the {what} {name!r} does not exist: the library would keep "
                             "running as root after init",
                             f"create it (deploy/install.sh makes 'lightbox') or set "
                             f"display.drop_priv_{what} to an existing {what}."))
    return out


def _privilege_checks(machine: Machine, cfg: DisplaySettings | None, opens: str) -> list[Check]:
    """Root for init and the refresh thread's priority, and dropping it afterwards."""
    out: list[Check] = []
    root = machine.is_root()
    if root:
        if cfg is not None and not cfg.drop_privileges:
            then = "keeps root (drop_privileges is off)"
        else:
            then = ("drops to " + f"{cfg.drop_priv_user}:{cfg.drop_priv_group}" if cfg is not None
                    else "drops to the configured user")
        out.append(Check(PASS, "privileges", f"running as root: the library opens {opens}, "
                         f"then {then}"))
    elif opens == "/dev/mem":
        out.append(Check(WARN, "privileges", "not running as root: no /dev/mem, so no hardware "
                         "pulsing and no real-time priority for the refresh thread",
                         "run the engine through its systemd unit, which starts it as root."))
    else:
        out.append(Check(WARN, "privileges", "not running as root: no real-time priority for "
                         "the refresh thread",
                         "run the engine through its systemd unit, which starts it as root."))
    if root and cfg is not None and not cfg.drop_privileges:
        out.append(Check(WARN, "display.drop_privileges", "the engine keeps root after init",
                         "set display.drop_privileges true so a bug cannot act as root."))
    return out + drop_user_checks(machine, cfg)


def module_checks(machine: Machine) -> list[Check]:
    """Check that the on-board sound module, which the library refuses to share with, is off."""
    if is_pi5(machine.model()):
        return [Check(SKIP, SOUND_MODULE, "a Pi 5: the RP1 backends do not share PWM with sound")]
    mods = machine.modules()
    if mods is None:
        return [Check(WARN, SOUND_MODULE, "/proc/modules is unreadable, cannot tell",
                      "run on Linux with /proc mounted.")]
    if SOUND_MODULE in mods:
        return [Check(FAIL, SOUND_MODULE, "the on-board sound module is loaded; the LED library "
                      "exits when it is, because sound and the panel share the PWM hardware",
                      "set dtparam=audio=off in /boot/firmware/config.txt (or blacklist "
                      "snd_bcm2835 in /etc/modprobe.d/) and reboot.")]
    return [Check(PASS, SOUND_MODULE, "not loaded")]


def preflight_checks(cfg: DisplaySettings, machine: Machine) -> list[Check]:
    """Every check that must pass before ``rgbmatrix`` is touched."""
    checks = option_checks(cfg)
    if not machine.is_pi():
        model = machine.model()
        checks.append(Check(FAIL, "board",
                            f"not a Raspberry Pi ({model or 'no device-tree model'})",
                            "use display.driver virtual or emulator on this machine."))
    if is_pi5(machine.model()):
        checks += rp1_option_checks(cfg)
    checks += device_checks(machine, cfg)
    checks += module_checks(machine)
    return checks


def boot_config_audio(text: str) -> str | None:
    """Return the last ``dtparam=audio`` value that applies to a Pi 4, or None if unset."""
    section = ""
    value: str | None = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
            continue
        if section not in PI4_SECTIONS or not line.startswith("dtparam="):
            continue
        for param in line[len("dtparam="):].split(","):
            key, _, val = param.partition("=")
            if key.strip() == "audio":
                value = (val.strip() or "on").lower()
    return value


def boot_config_checks(machine: Machine) -> list[Check]:
    """Check that the boot config turns the sound module off (``dtparam=audio=off``)."""
    if is_pi5(machine.model()):
        return [Check(SKIP, "boot config", "dtparam=audio does not matter to the RP1 backends")]
    for rel in BOOT_CONFIGS:
        text = machine.read(rel)
        if text is None:
            continue
        audio = boot_config_audio(text)
        if audio == "off":
            return [Check(PASS, "boot config", f"dtparam=audio=off in {rel}")]
        if audio is None:
            return [Check(WARN, "boot config", f"{rel} does not set dtparam=audio; Raspberry Pi "
                          "OS images load the sound module unless it is off",
                          f"add dtparam=audio=off to {rel} and reboot.")]
        return [Check(WARN, "boot config", f"dtparam=audio={audio} in {rel}: the sound module "
                      "loads at boot and the LED library then refuses to run",
                      f"change it to dtparam=audio=off in {rel} and reboot.")]
    return [Check(WARN, "boot config", "neither /boot/firmware/config.txt nor /boot/config.txt "
                  "is readable", "check that the boot partition is mounted (it is on Raspberry "
                  "Pi OS) and run diagnose as root.")]
