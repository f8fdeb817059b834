"""Browser test of the looks surfaces (contract section 8): presets and the schedule strip.

Playwright with Debian's chromium against the real bridge app served in-process
with the unit tests' fake engine (``tests.bridge.unit.fake_looks`` answers
``cmd/preset`` and publishes ``presets`` and a ``schedule`` with a 7-day ``week``),
so the UI is checked without an engine. One test, kept short (CPU): "Save current
look" in one click (the name it asks for, one ``cmd/preset`` save, the list shows
it over SSE), the strip drawing the week's windows and sun marks where they
belong, the window editor (a refused time at its field, then one PATCH of
``schedule``), with nothing wider than a phone's screen.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.bridge.test_browser import OVERFLOWING_JS, browser
from tests.bridge.test_browser_notify import FakeStack, open_page, script_errors

pytestmark = [pytest.mark.browser, pytest.mark.integration]
__all__ = ["browser"]  # the module-scoped chromium fixture, shared with test_browser

#: Where a span or mark sits on its day's track, as fractions of the track's width.
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
PLACED_JS = """(sel) => [...document.querySelectorAll(sel)].map((n) => {
  const t = n.parentElement.getBoundingClientRect(), r = n.getBoundingClientRect();
  return [n.dataset.name || n.className, (r.left - t.left) / t.width, r.width / t.width];
})"""


@pytest.fixture
def fake_stack(tmp_path: Path) -> Iterator[FakeStack]:
    s = FakeStack(tmp_path)
    yield s
    s.stop()


def test_save_current_look_in_one_click_and_the_schedule_strip(
        browser: Any, fake_stack: FakeStack) -> None:
    ctx, pg, errors = open_page(browser, fake_stack.url, width=390)
    try:
        asked: list[str] = []

        def answer(dialog: Any) -> None:
            asked.append(dialog.default_value)
            dialog.accept("Cozy evening")

        pg.once("dialog", answer)
        pg.click("#preset-save")
        item = pg.locator("#preset-list li[data-name='Cozy evening']")
        expect(item).to_contain_text("plasma")  # from the retained presets, over SSE
        assert asked and asked[0].startswith("Plasma")  # a suggested name to accept
        assert [r for r in fake_stack.engine.requests if r[0] == "preset"] == [
            ("preset", {"save": "Cozy evening"})]
        expect(pg.locator("#pl-add-preset option")).to_have_text(["Cozy evening"])

        rows = pg.locator("#schedule-strip .strip-row[data-date]")
        expect(rows).to_have_count(7)
        first = rows.first.get_attribute("data-date")
        spans = pg.evaluate(PLACED_JS, f".strip-row[data-date='{first}'] .span")
        by_name = sorted((n, round(left, 3), round(w, 3)) for n, left, w in spans)
        # 18:00-23:00, 00:00-06:30 and 23:30-24:00 (the part of a window across midnight).
        assert by_name == [("Evening", 0.75, 0.208), ("Night", 0.0, 0.271),
                           ("Night", 0.979, 0.021)], by_name
        sun = pg.evaluate(PLACED_JS, f".strip-row[data-date='{first}'] .sun")
        assert [(c, round(left, 2)) for c, left, _ in sun] == [("sun sunrise", 0.3),
                                                               ("sun sunset", 0.7)], sun
        expect(pg.locator("#schedule-status")).to_contain_text("Schedules on")

        # The window editor: a refused time shows at its field, then the window saves.
        pg.fill("#w-name", "Evening")
        pg.fill("#w-start", "25:00")
        pg.fill("#w-end", "23:00")
        pg.select_option("#w-action", "brightness_max")
        pg.fill("#w-cap", "20")
        pg.click("#w-save")
        expect(pg.locator("#window-form .field-error[data-for='start']")).not_to_be_empty()
        assert not [r for r in fake_stack.engine.requests if r[0] == "config"]
        pg.fill("#w-start", "18:00")
        pg.click("#w-save")
        expect(pg.locator("#window-list li[data-index='0']")).to_contain_text("brightness ≤ 20 %")
        assert [r for r in fake_stack.engine.requests if r[0] == "config"] == [
            ("config", {"schedule": [{"name": "Evening", "days": DAYS, "start": "18:00",
                                      "end": "23:00", "action": {"brightness_max": 20},
                                      "enabled": True}]})]
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390
        assert pg.evaluate(OVERFLOWING_JS) == []
    finally:
        ctx.close()
    assert not script_errors(errors), errors
