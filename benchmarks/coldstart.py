"""`lightbox bench coldstart`: CPU seconds from process start to the engine's first frame.

N fresh ``lightbox engine`` processes (virtual 64x32 panel, plasma, the bench broker),
one after the other and outside any cgroup: per start, the child's CPU (user +
system, every thread) and the wall time until its ``engine_ready`` log line, which
the engine writes once the first frame is on the panel. The figure is the median of
the N starts (11; 5 with ``--quick``). The bytecode is cached first, as on an
installed box (pip compiles it): one unmeasured start writes it to a private cache
(``PYTHONPYCACHEPREFIX`` in the work folder), so a source tree run with
``PYTHONDONTWRITEBYTECODE`` is not measured compiling. One more start with
``PYTHONPROFILEIMPORTTIME`` gives the import breakdown up to the first frame (self
time per top-level package; the import profiler itself adds to it, so read it as
shares; modules loaded through ``importlib.import_module``, such as the animation
modules, are not in its output).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from appliance.ops.broker import LocalBroker
from benchmarks.common import Check, check, median, rnd
from benchmarks.harness import LightboxChild, engine_settings, first_frame

TARGET_CPU_S = 0.4
STARTS = 11
QUICK_STARTS = 5
#: Packages listed in the import breakdown (the rest are summed as "other").
BREAKDOWN_TOP = 12


def _start(workdir: Path, settings: dict[str, Any], env: dict[str, str]
           ) -> tuple[float, float, str]:
    """One engine start: (wall s, CPU s) to the first frame, and its log."""
    child = LightboxChild("engine", workdir, settings, env=env)
    t0 = time.perf_counter()
    child.start()
    try:
        wall, cpu = first_frame(child, t0)
    finally:
        child.stop()
    return wall, cpu, child.log()


def bytecode_env(workdir: Path) -> dict[str, str]:
    """Child environment whose bytecode is cached in ``workdir/pycache`` (as pip leaves it
    on an installed box), whatever PYTHONDONTWRITEBYTECODE says; ``warm_up`` fills it."""
    # An empty PYTHONDONTWRITEBYTECODE is "not set": the warm-up start may write the cache.
    return {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(workdir / "pycache")}


def warm_up(broker: LocalBroker, workdir: Path, env: dict[str, str]) -> None:
    """One unmeasured engine start that writes the bytecode cache of ``env``."""
    _start(workdir / "warmup", _settings(broker), env)


def _settings(broker: LocalBroker) -> dict[str, Any]:
    return engine_settings(broker, 64, 32, 30, animation={"default": "plasma", "boot": "default"})


def import_breakdown(log: str, top: int = BREAKDOWN_TOP) -> list[dict[str, Any]]:
    """Self import time per top-level package (ms), largest first, from the ``-X importtime``
    lines before ``engine_ready`` (what the first frame waited for); ``appliance`` and
    ``animations`` are split one level further."""
    self_us: Counter[str] = Counter()
    count: Counter[str] = Counter()
    for line in log.splitlines():
        if '"engine_ready"' in line:
            break
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        try:
            own, _, name = line.removeprefix("import time:").split("|")
            us = int(own)
        except ValueError:
            continue
        parts = name.strip().split(".")
        key = ".".join(parts[:2]) if parts[0] in ("appliance", "animations") else parts[0]
        self_us[key] += us
        count[key] += 1
    shown = self_us.most_common(top)
    rows: list[dict[str, Any]] = [{"package": k, "self_ms": rnd(v / 1000, 1), "modules": count[k]}
                                  for k, v in shown]
    rest = sum(self_us.values()) - sum(v for _, v in shown)
    if rest:
        rows.append({"package": "other", "self_ms": rnd(rest / 1000, 1),
                     "modules": sum(count.values()) - sum(count[k] for k, _ in shown)})
    return rows


def run(broker: LocalBroker, workdir: Path, quick: bool) -> tuple[dict[str, Any], list[Check]]:
    """Start the engine N times; the median CPU and wall time to its first frame."""
    n = QUICK_STARTS if quick else STARTS
    settings = _settings(broker)
    env = bytecode_env(workdir)
    warm_up(broker, workdir, env)
    walls, cpus = [], []
    for i in range(n):
        wall, cpu, _ = _start(workdir / f"start{i}", settings, env)
        walls.append(wall)
        cpus.append(cpu)
    _, _, log = _start(workdir / "importtime", settings, {**env, "PYTHONPROFILEIMPORTTIME": "1"})
    cpu_median = median(cpus)
    out = {
        "starts": n, "animation": "plasma", "size": "64x32", "bytecode": "cached",
        "first_frame_cpu_s_median": rnd(cpu_median, 3),
        "first_frame_cpu_s_min": rnd(min(cpus), 3), "first_frame_cpu_s_max": rnd(max(cpus), 3),
        "first_frame_s_median": rnd(median(walls), 3),
        "first_frame_cpu_s": [rnd(c, 3) for c in cpus], "first_frame_s": [rnd(w, 3) for w in walls],
        "import_self_ms": import_breakdown(log),
    }
    checks = [check("coldstart", f"cold start: CPU s to the first frame (median of {n})",
                    cpu_median, "s", "<=", TARGET_CPU_S,
                    note="outside the cgroup, bytecode cached; about 3 s on a Pi 4")]
    return out, checks


def key_figures(sec: dict[str, Any]) -> list[tuple[str, Any]]:
    """The section's lines in the Key figures table."""
    imports = ", ".join(f"{r['package']} {r['self_ms']:g}" for r in sec["import_self_ms"][:6])
    return [
        (f"CPU s to the first frame, median of {sec['starts']} (min-max)",
         f"{sec['first_frame_cpu_s_median']} ({sec['first_frame_cpu_s_min']}-"
         f"{sec['first_frame_cpu_s_max']})"),
        ("wall s to the first frame, median", sec["first_frame_s_median"]),
        ("largest import self times, ms (importtime)", imports),
    ]
