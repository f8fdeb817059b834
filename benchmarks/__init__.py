"""`lightbox bench`: LightBox's performance benchmarks, each against a baseline in the same run.

Sections (``--only``): frames, engine, latency, bridge, flood, memory, notify, live. See
``docs/performance.md`` for what each figure means and the latest table.
Imports the engine's modules to measure them; nothing in ``appliance`` or
``animations`` imports this package.
"""

SECTIONS = ("frames", "engine", "latency", "bridge", "flood", "memory", "notify", "live")

__all__ = ["SECTIONS"]
