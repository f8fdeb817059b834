"""The memory watch (LIGHTBOX_TRACEMALLOC=1): what a soak reads to tell a leak from an allocator."""

from __future__ import annotations

import platform
import tracemalloc
from collections.abc import Iterator

import pytest

from appliance.render.memwatch import MemWatch, enabled
from appliance.system import native_memory
from tests.support import wait_until


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemWatch]:
    monkeypatch.setenv("LIGHTBOX_TRACEMALLOC_WARMUP_S", "0")
    monkeypatch.setenv("LIGHTBOX_TRACEMALLOC_INTERVAL_S", "3600")
    w = MemWatch()
    w.start()
    try:
        yield w
    finally:
        w._stop.set()
        tracemalloc.stop()


def test_off_unless_the_environment_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIGHTBOX_TRACEMALLOC", raising=False)
    assert not enabled()
    monkeypatch.setenv("LIGHTBOX_TRACEMALLOC", "1")
    assert enabled()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallinfo2 is glibc's")
def test_native_memory_sees_a_large_block_tracemalloc_does_not_own() -> None:
    before = native_memory()
    block = bytearray(32 * 1_048_576)  # far above glibc's mmap threshold: its own mapping
    during = native_memory()
    del block
    after = native_memory()
    assert during["mmapped_mb"] - before["mmapped_mb"] >= 31.5
    assert after["mmapped_mb"] - before["mmapped_mb"] < 1
    assert 0 < during["in_use_mb"] <= during["heap_mb"]
    assert during["free_mb"] >= 0 and during["python_blocks"] > 0


def test_report_names_the_line_whose_memory_grew(watch: MemWatch) -> None:
    wait_until(lambda: watch._baseline is not None, 10, 0.01, "the baseline snapshot")
    kept = [bytes(1000) + bytes([i % 256]) for i in range(2000)]  # about 2 MB, kept alive
    body = watch.report()
    assert body is not None and kept
    top = body["top"][0]
    assert top["where"].rsplit(":", 1)[0].endswith("test_memwatch.py"), top
    assert top["size_diff_kb"] >= 1900 and top["count_diff"] >= 2000
    assert body["growth_kb"] >= 1900 and "malloc" in body
