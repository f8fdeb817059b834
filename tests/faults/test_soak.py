"""Compressed soak: the engine uncapped for 200,000 frames with commands arriving throughout.

RSS after warm-up must grow by less than 2 MB (measured from outside with
psutil). A second, shorter uncapped run with $LIGHTBOX_TRACEMALLOC=1 reports
tracemalloc's top growth (tracing slows the loop several times, so it does not
share the 200,000-frame run). The hours-long version is tests/soak/soak.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import report_figure
from tests.soak.soak import run_soak

pytestmark = pytest.mark.slow

FRAMES = 200_000
#: A fixed number of commands (not "as many as fit in the run"): the run lasts until both
#: the frames are drawn and every command is counted, on a slow machine as on a fast one.
COMMANDS = 1200


def test_compressed_soak_200k_frames_memory_flat(tmp_path: Path, broker: Any) -> None:
    report = run_soak(tmp_path / "soak", frames=FRAMES, uncapped=True, commands_per_s=50,
                      sample_s=2.0, warmup_s=15.0, commands=COMMANDS)
    assert not report["crashed"] and report["exit_code"] == 0, report["log"]
    assert report["frames_total"] >= FRAMES
    assert report["commands_sent"] == COMMANDS
    # Every command is counted: applied or rejected, or superseded by a newer one.
    counted = report["commands_total"] + report["commands_dropped_total"]
    assert counted == COMMANDS, report
    # Every invalid one is rejected (valid ones may be too: params the animation lacks).
    invalid, rejected = report["commands_invalid_sent"], report["commands_rejected_total"]
    assert invalid > 100
    assert rejected >= invalid - report["commands_dropped_total"], report
    assert report["animation_errors_total"] == 0
    assert report["errors_in_log"] == 0, report["error_lines"]
    growth = report["rss_growth_after_warmup_mb"]
    assert growth is not None and growth < 2.0, report["samples"]
    report_figure("compressed_soak", frames=report["frames_total"],
                  seconds=report["duration_s"], fps_mean=report["fps_mean"],
                  rss_first_mb=report["rss_mb_first"],
                  rss_after_warmup_mb=report["rss_mb_after_warmup"],
                  rss_last_mb=report["rss_mb_last"], rss_growth_mb=growth,
                  commands_sent=report["commands_sent"], commands=report["commands_total"],
                  rejected=report["commands_rejected_total"],
                  dropped=report["commands_dropped_total"])


def test_tracemalloc_reports_top_growth(tmp_path: Path, broker: Any) -> None:
    report = run_soak(tmp_path / "trace", seconds=25, uncapped=True, commands_per_s=50,
                      sample_s=2.0, warmup_s=8.0, tracemalloc=True)
    assert not report["crashed"] and report["exit_code"] == 0, report["log"]
    top = report["tracemalloc_top_last"]
    assert top is not None and top["final"] is True and len(top["top"]) > 0
    # Growth of live Python allocations after warm-up stays small.
    assert top["growth_kb"] < 1024, top
    report_figure("tracemalloc_top_growth", frames=report["frames_total"],
                  growth_kb=top["growth_kb"], traced_mb=top["traced_mb"],
                  top=[f"{t['where']} {t['size_diff_kb']}kB" for t in top["top"][:5]])
