"""Verdicts on the host's kernel, power and temperature readings, for `lightbox diagnose`.

Pure functions from readings (the kernel command line, the cgroup controllers, the
firmware's throttling word, the CPU temperature) to ``Check`` findings with their fix in
one sentence. They read nothing themselves: ``appliance.ops.diagnose`` reads the machine
and hands the readings in, so each verdict is testable with plain values.
"""

from __future__ import annotations

from appliance.ops.checks import FAIL, PASS, SKIP, WARN, Check
from appliance.settings import HealthSettings
from appliance.system import throttle_reasons

__all__ = ["cmdline_checks", "power_check", "temperature_check"]


def cmdline_checks(cmdline: str | None, controllers: str | None, pi: bool) -> list[Check]:
    """``isolcpus`` (a core for the refresh thread) and the memory cgroup (MemoryMax)."""
    args = cmdline.split() if cmdline else []
    return [_isolcpus_check(args, pi), _memory_cgroup_check(args, cmdline, controllers, pi)]


def _isolcpus_check(args: list[str], pi: bool) -> Check:
    if not pi:
        return Check(SKIP, "isolcpus", "only matters for the panel's refresh thread on a Pi")
    iso = [a for a in args if a.startswith("isolcpus=")]
    if iso:
        return Check(PASS, "isolcpus", f"{iso[-1]}: the refresh thread gets a core to itself")
    return Check(WARN, "isolcpus", "no isolcpus on the kernel command line: other work "
                 "can interrupt the refresh thread (visible flicker)",
                 "append isolcpus=3 to the single line of /boot/firmware/cmdline.txt "
                 "and reboot.")


def _memory_cgroup_check(args: list[str], cmdline: str | None, controllers: str | None,
                         pi: bool) -> Check:
    enabled = False
    for a in args:  # later arguments win, as in the kernel
        if a == "cgroup_enable=memory":
            enabled = True
        elif a == "cgroup_disable=memory":
            enabled = False
    if controllers is not None:
        enabled = "memory" in controllers.split()
    if cmdline is None and controllers is None:
        return Check(WARN, "memory cgroup", "cannot read /proc/cmdline or cgroup controllers",
                     "run diagnose on the target machine with /proc and /sys mounted.")
    if enabled:
        return Check(PASS, "memory cgroup", "enabled: the service's MemoryMax= is enforced")
    if pi:
        return Check(WARN, "memory cgroup", "the memory controller is off: the service's "
                     "MemoryMax= does nothing",
                     "append cgroup_enable=memory cgroup_memory=1 to /boot/firmware/cmdline.txt "
                     "and reboot.")
    return Check(WARN, "memory cgroup", "the memory controller is off: an installed "
                 "service's MemoryMax= would do nothing",
                 "nothing to do for `lightbox dev`; for the service, enable the memory "
                 "cgroup on the kernel command line the way your distribution documents.")


def power_check(word: int | None, pi: bool) -> Check:
    """Under-voltage and throttling, now and since boot, from the firmware's throttled word."""
    if not pi:
        return Check(SKIP, "power", "no Pi firmware to report under-voltage")
    if word is None:
        return Check(WARN, "power", "cannot read the throttling flags (no vcgencmd, no rpi_volt "
                     "sensor)", "install libraspberrypi-bin (vcgencmd) and run diagnose again.")
    now, past = word & 0xF, word & 0xF0000
    supply = ("use the official 5.1 V 3 A supply for the Pi and a separate 5 V supply "
              "sized for the panels (about 4 A per 64x32 panel at full white).")
    if now & 0x1:
        return Check(FAIL, "power", f"under-voltage NOW (0x{word:x}: "
                     + "; ".join(throttle_reasons(word)) + ")", supply)
    if now:
        return Check(WARN, "power", f"throttled now (0x{word:x}: "
                     + "; ".join(throttle_reasons(now)) + ")",
                     "improve cooling (heatsink or fan) and check the supply.")
    if past:
        return Check(WARN, "power", f"since boot: {'; '.join(throttle_reasons(past))} "
                     f"(0x{word:x})", supply)
    return Check(PASS, "power", "no under-voltage or throttling since boot")


def temperature_check(temp: float | None, h: HealthSettings, pi: bool) -> Check:
    """CPU temperature against the health thresholds."""
    if temp is None:
        if pi:
            return Check(WARN, "temperature", "no thermal_zone0 reading",
                         "check that /sys is mounted; the health report will lack temperature.")
        return Check(SKIP, "temperature", "no CPU temperature sensor here")
    if temp >= h.temp_failed_c:
        return Check(FAIL, "temperature", f"CPU at {temp} C (limit {h.temp_failed_c} C)",
                     "add a heatsink or fan and give the case air; the Pi throttles at 80-85 C.")
    if temp >= h.temp_degraded_c:
        return Check(WARN, "temperature", f"CPU at {temp} C (warning at {h.temp_degraded_c} C)",
                     "add a heatsink or fan before the Pi starts throttling.")
    return Check(PASS, "temperature", f"CPU at {temp} C")
