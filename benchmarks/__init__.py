"""`lightbox bench`: LightBox's performance benchmarks, each against a baseline in the same run.

Sections (``--only``): frames, engine, latency, bridge, flood, memory, notify, live,
coldstart; and,
only when named, budget (the CPU share each animation needs, in a cgroup) and fleet
(many boxes on one broker). See
``docs/performance.md`` for what each figure means and the latest table.
Imports the engine's modules to measure them; nothing in ``appliance`` or
``animations`` imports this package.
"""

SECTIONS = ("frames", "engine", "latency", "bridge", "flood", "memory", "notify", "live",
            "coldstart")
#: Sections that run only when named (``lightbox bench budget``): long, and root-only.
OPTIONAL_SECTIONS = ("budget", "fleet")

__all__ = ["OPTIONAL_SECTIONS", "SECTIONS"]
