"""`lightbox bench --quick` end to end: every section runs and the JSON is complete.

Keeps the benchmarks working; asserts shapes and types only, never timings
(this machine is shared and noisy; the numbers are for docs/performance.md).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks import SECTIONS
from benchmarks.cli import _sections, table

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _need_mosquitto() -> None:
    if shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto"):
        return
    msg = "mosquitto is not installed (scripts/setup.sh installs it)"
    if IN_CI:
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """One `lightbox bench --quick` for the whole module."""
    _need_mosquitto()
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "bench.json"
    md = tmp / "bench.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIGHTBOX_")}
    proc = subprocess.run(
        [sys.executable, "-m", "appliance", "bench", "--quick", "--json", str(out),
         "--markdown", str(md), "--workdir", str(tmp / "work")],
        capture_output=True, text=True, timeout=900, env=env, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-6000:]
    return json.loads(out.read_text()), proc.stdout + md.read_text()


@pytest.mark.slow
@pytest.mark.timeout(960)
def test_quick_run_has_every_section(quick_run: tuple[dict[str, Any], str]) -> None:
    """Every section ran (the bridge may be skipped when not installed)."""
    result, _ = quick_run
    assert result["quick"] is True
    assert set(result["sections"]) == set(SECTIONS)
    for name, sec in result["sections"].items():
        allowed = {"ok", "skipped"} if name in ("bridge", "live") else {"ok"}
        assert sec["status"] in allowed, (name, sec.get("error"), sec.get("traceback"))
        assert _number(sec["elapsed_s"])


@pytest.mark.slow
@pytest.mark.timeout(960)
def test_quick_run_machine_and_checks(quick_run: tuple[dict[str, Any], str]) -> None:
    """The machine is described and every check has a value, a target and a verdict."""
    result, text = quick_run
    m = result["machine"]
    for key in ("cpu_model", "python", "numpy", "platform"):
        assert isinstance(m[key], str) and m[key]
    assert isinstance(m["cores_logical"], int) and m["cores_logical"] >= 1
    assert len(m["load_average"]) == 3 and all(_number(x) for x in m["load_average"])
    assert len(result["load_average_end"]) == 3
    assert result["checks"], "no targets were checked"
    for c in result["checks"]:
        assert set(c) >= {"section", "name", "value", "unit", "target", "met", "note"}
        assert c["met"] in (True, False, None)
        assert c["value"] is None or _number(c["value"])
    s = result["summary"]
    assert s["met"] + s["missed"] + s["not_measured"] == len(result["checks"])
    assert "Targets:" in text and "Frame cost" in text


@pytest.mark.slow
@pytest.mark.timeout(960)
def test_quick_run_section_figures(quick_run: tuple[dict[str, Any], str]) -> None:
    """Each section carries its figures with sane types."""
    result, _ = quick_run
    secs = result["sections"]
    rows = secs["frames"]["results"]
    assert {r["size"] for r in rows} == {"64x32", "64x64", "128x64", "128x128"}
    assert {r["animation"] for r in rows} >= {"plasma", "breathe"}
    for r in rows:
        for key in ("frame_ms_p50", "frame_ms_p99", "frame_cpu_ms_p99", "overhead_ms_p50",
                    "pil_fromarray_ms_p50", "baseline_ms_p50", "speedup",
                    "transient_kib_per_frame"):
            assert _number(r[key]) and r[key] >= 0, (r["animation"], key, r[key])
    for mode in ("capped", "uncapped"):
        e = secs["engine"][mode]
        for key in ("fps", "cpu_percent_one_core", "rss_mb_max", "frame_ms_p99"):
            assert _number(e[key]) and e[key] > 0, (mode, key)
        assert isinstance(e["frames_dropped"], int)
    lat = secs["latency"]
    for key in ("floor", "brightness_to_state", "animation_to_state"):
        assert lat[key]["n"] > 0 and _number(lat[key]["p50_ms"]) and _number(lat[key]["p99_ms"])
    flood = secs["flood"]
    assert flood["commands"] == 10_000
    assert flood["final_state_published"] is True
    assert _number(flood["fps_fraction_flood_window"])
    mem = secs["memory"]
    assert mem["reached_target"] is True and mem["frames"] >= 20_000
    assert _number(mem["growth_after_warmup_mb"])
    cold = secs["coldstart"]
    assert cold["starts"] == 5 and len(cold["first_frame_cpu_s"]) == 5
    assert all(_number(c) and c > 0 for c in cold["first_frame_cpu_s"])
    assert cold["first_frame_cpu_s_min"] <= cold["first_frame_cpu_s_median"]
    assert cold["import_self_ms"] and cold["import_self_ms"][0]["self_ms"] > 0
    if secs["bridge"]["status"] == "ok":
        assert _number(secs["bridge"]["animation_post"]["p99_ms"])
        assert _number(secs["bridge"]["health_load"]["bridge_rps"])
    else:
        assert secs["bridge"]["reason"] == "bridge not installed"


@pytest.mark.slow
@pytest.mark.timeout(960)
def test_quick_run_notify_figures(quick_run: tuple[dict[str, Any], str]) -> None:
    """The notifications section: overlay cost per size, latency rounds, RSS of a full queue."""
    result, text = quick_run
    sec = result["sections"]["notify"]
    rows = sec["frames"]
    assert {r["size"] for r in rows} == {"64x32", "64x64", "128x64"}
    for r in rows:
        assert r["animation"] == sec["animation"] and r["banner_scrolls"] is True
        for key in ("alone_cpu_ms_p50", "alone_cpu_ms_p99", "banner_cpu_ms_p50",
                    "banner_cpu_ms_p99", "ratio_p50"):
            assert _number(r[key]) and r[key] > 0, (r["size"], key, r[key])
        assert _number(r["added_cpu_ms_p50"])  # a difference: may be below zero on noise
    for key in ("notify_to_document", "notify_to_first_frame", "notify_to_first_frame_worst_case",
                "dismiss_to_document"):
        assert sec["live"][key]["n"] > 0 and _number(sec["live"][key]["p99_ms"]), key
    rss = sec["rss"]
    assert rss["showing"] == 1 and rss["queued"] == 32
    assert _number(rss["idle_mb"]) and _number(rss["full_queue_mb"])
    names = {c["name"] for c in result["checks"] if c["section"] == "notify"}
    assert {"banner over 64x64: added p50 (CPU)", "notify->first frame p99",
            "RSS with a full queue (32+1)"} <= names
    assert "Notification banner" in text


def test_sections_option() -> None:
    """--only picks sections in their fixed order and refuses unknown names."""
    assert _sections(None) == list(SECTIONS)
    assert _sections("memory,frames") == ["frames", "memory"]
    with pytest.raises(SystemExit):
        _sections("frames,nope")


def test_sections_as_words_and_the_stock_broker_flag() -> None:
    """`lightbox bench latency --stock-broker` is the same as `--only latency` plus the flag."""
    import argparse

    from benchmarks.cli import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser, "bench")
    args = parser.parse_args(["latency", "--stock-broker", "--quick"])
    assert args.section == ["latency"] and args.stock_broker and args.quick
    assert parser.parse_args([]).stock_broker is False


def test_cold_start_breakdown_counts_the_imports_before_the_first_frame() -> None:
    """Self times per package from -X importtime lines, up to the engine_ready line only."""
    from benchmarks.coldstart import import_breakdown

    log = "\n".join([
        "import time: self [us] | cumulative | imported package",
        "import time:      1000 |       1000 |   numpy._core",
        "import time:       500 |       1500 | numpy",
        '{"event": "engine_started"}',
        "import time:      2000 |       2000 | appliance.render.engine",
        '{"event": "engine_ready"}',
        "import time:      9000 |       9000 | paho.mqtt.client",
    ])
    rows = import_breakdown(log, top=1)
    assert rows == [{"package": "appliance.render", "self_ms": 2.0, "modules": 1},
                    {"package": "other", "self_ms": 1.5, "modules": 2}]


def test_table_renders_markdown() -> None:
    """The table is Markdown with aligned columns."""
    text = table(["a", "bb"], [[1.23456, None], ["x", 1500.0]])
    lines = text.splitlines()
    assert lines[0].startswith("| a") and set(lines[1]) <= {"|", "-"}
    assert "1.235" in text and "-" in lines[2] and "1,500" in text
    assert len({len(line) for line in lines}) == 1


def test_module_has_no_test_imports() -> None:
    """benchmarks/ must not import from tests/."""
    root = Path(__file__).resolve().parents[2] / "benchmarks"
    for f in root.glob("*.py"):
        text = f.read_text()
        assert "from tests" not in text and "import tests" not in text, f.name
