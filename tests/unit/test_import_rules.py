"""The import rules of the house (DESIGN.md): imports point down only.

- `animations` imports numpy, the standard library and itself: nothing else of ours.
- in `appliance`, only `mqtt_link` imports paho.
- `bridge` never imports the engine's display, render loop or process modules: it
  learns everything else over MQTT.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: appliance modules the bridge may use: settings, wire models, bounded JSON, topics, logging,
#: images, the CLI helpers and the MQTT helpers (no display, no render loop).
BRIDGE_MAY_USE = {"appliance", "appliance.wire", "appliance.settings", "appliance.settings.form",
                  "appliance.wire.commands", "appliance.wire.jsonsafe", "appliance.wire.payloads",
                  "appliance.wire.topics", "appliance.logs", "appliance.content.images",
                  "appliance.cli", "appliance.mqtt.link"}


def imports(package: str) -> list[tuple[str, str]]:
    """(file, imported module) for every import in a package."""
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                out += [(str(path.relative_to(ROOT)), a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                out.append((str(path.relative_to(ROOT)), node.module))
                if node.module == "appliance":  # `from appliance import x` uses appliance.x
                    out += [(str(path.relative_to(ROOT)), f"appliance.{a.name}")
                            for a in node.names if a.name != "__version__"]
    return out


def test_animations_import_only_numpy_the_stdlib_and_themselves() -> None:
    bad = [(f, m) for f, m in imports("animations")
           if m.split(".")[0] not in {"numpy", "animations", *sys.stdlib_module_names}]
    assert bad == []


def test_only_mqtt_link_imports_paho_in_the_engine() -> None:
    # appliance/testing is the harness of tests and benchmarks, not the product.
    users = {f for f, m in imports("appliance") if m.split(".")[0] == "paho"
             and not f.startswith("appliance/testing/")}
    assert users == {"appliance/mqtt/link.py"}


def test_bounded_json_imports_no_render_display_animations_or_paho() -> None:
    used = {m.split(".")[0] if m.split(".")[0] != "appliance" else m
            for f, m in imports("appliance") if f == "appliance/wire/jsonsafe.py"}
    assert used <= {"json", "math", "re", "itertools", "typing", "__future__", "structlog"}, used


def test_bridge_does_not_import_the_display_or_the_render_loop() -> None:
    used = {m for _, m in imports("bridge") if m.split(".")[0] == "appliance"}
    assert used <= BRIDGE_MAY_USE, used - BRIDGE_MAY_USE
    assert not {m for _, m in imports("bridge") if m.split(".")[0] == "animations"}
