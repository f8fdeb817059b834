"""The import rules of the house (DESIGN.md), checked transitively and in the source.

Transitively, in a fresh interpreter (what a process really loads, whatever path the
imports take):

- importing `bridge.app` loads no animation module, no render loop, no display and no
  rgbmatrix: the bridge learns all of that over MQTT;
- importing `appliance.wire` or `appliance.settings` loads neither render, display,
  animations nor paho.

In the source (AST), for what a transitive check cannot see:

- `animations` imports numpy, the standard library and itself: nothing else of ours;
- only modules under `appliance/mqtt/` import paho;
- `bridge` imports only the appliance modules it may use, and never `animations`.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: appliance modules the bridge may use: settings, wire models, bounded JSON, topics, logging,
#: images, the CLI helpers and the MQTT helpers (no display, no render loop).
BRIDGE_MAY_USE = {"appliance", "appliance.wire", "appliance.settings", "appliance.settings.form",
                  "appliance.wire.commands", "appliance.wire.jsonsafe", "appliance.wire.payloads",
                  "appliance.wire.replies", "appliance.wire.look_commands",
                  "appliance.wire.topics", "appliance.logs", "appliance.content.images",
                  "appliance.cli", "appliance.mqtt", "appliance.mqtt.client"}
#: Product code whose paho imports are checked (tests and benchmarks drive a broker
#: themselves and are not part of the appliance).
PRODUCT = ("appliance", "bridge", "animations")

#: Modules (and their submodules) a process may not load, by what it imports.
RENDER_SIDE = ("animations", "appliance.render", "appliance.display", "rgbmatrix")
PAHO = ("paho",)


def loaded_by(module: str) -> set[str]:
    """Import ``module`` in a fresh interpreter and return every module it loaded."""
    code = f"import json, sys\nimport {module}\nprint(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def under(modules: set[str], prefixes: tuple[str, ...]) -> set[str]:
    """Return the modules that are one of ``prefixes`` or inside one of them."""
    return {m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)}


def test_importing_the_bridge_loads_no_animation_render_display_or_rgbmatrix() -> None:
    loaded = loaded_by("bridge.app")
    assert "bridge.app" in loaded and "appliance.settings" in loaded  # the check ran
    assert under(loaded, RENDER_SIDE) == set()


@pytest.mark.parametrize("module", ["appliance.wire", "appliance.settings"])
def test_wire_and_settings_load_no_render_display_animations_or_paho(module: str) -> None:
    loaded = loaded_by(module)
    assert module in loaded
    assert under(loaded, RENDER_SIDE + PAHO) == set()


def test_the_transitive_check_sees_an_indirect_import() -> None:
    # The engine reaches animations through appliance.render: the check must notice that.
    assert under(loaded_by("appliance.render.engine"), ("animations",))


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


def test_only_appliance_mqtt_imports_paho() -> None:
    # appliance/testing is the harness of tests and benchmarks (it drives a broker as a
    # client would), not part of the appliance.
    users = {f for pkg in PRODUCT for f, m in imports(pkg) if m.split(".")[0] == "paho"
             and not f.startswith("appliance/testing/")}
    assert users, "no paho importer found: the check looks in the wrong place"
    outside = {f for f in users if not f.startswith("appliance/mqtt/")}
    assert outside == set(), outside


def test_bounded_json_imports_no_render_display_animations_or_paho() -> None:
    used = {m.split(".")[0] if m.split(".")[0] != "appliance" else m
            for f, m in imports("appliance") if f == "appliance/wire/jsonsafe.py"}
    assert used <= {"json", "math", "re", "itertools", "typing", "__future__", "structlog"}, used


def test_bridge_does_not_import_the_display_or_the_render_loop() -> None:
    used = {m for _, m in imports("bridge") if m.split(".")[0] == "appliance"}
    assert used <= BRIDGE_MAY_USE, used - BRIDGE_MAY_USE
    assert not {m for _, m in imports("bridge") if m.split(".")[0] == "animations"}
