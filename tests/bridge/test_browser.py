"""Browser tests: Playwright for Python driving Debian's chromium against the real stack.

Choose an animation and see the state change on MQTT, move the brightness
slider, watch the preview canvas change, see a live fps on the dashboard,
upload a picture and play it, see a validation error next to its field, and
save a screenshot of the main page (artifacts/web-ui.png).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from appliance.ops.broker import LocalBroker
from tests.bridge import images_util
from tests.bridge.conftest import Stack, start_stack, unique_id
from tests.conftest import need
from tests.support import MQTTProbe, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    need("chromium", CHROMIUM.exists(), "apt-get install chromium (scripts/test does)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def ui_stack(broker: LocalBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(broker, tmp_path_factory.mktemp("ui"), unique_id("ui"))
    yield s
    s.stop()


@pytest.fixture
def page(browser: Any, ui_stack: Stack) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(10_000)
    pg.goto(ui_stack.url + "/")
    expect(pg.locator("#status-pill")).to_have_text("online")
    expect(pg.locator("#animation option[value=plasma]")).to_have_count(1)
    yield pg
    ctx.close()
    # No CSP violations or script errors (4xx answers the tests provoke are fine).
    assert not [e for e in errors if not e.startswith("Failed to load resource")], errors


@pytest.fixture
def watch(broker: LocalBroker, ui_stack: Stack) -> Iterator[MQTTProbe]:
    p = MQTTProbe(broker, "homeassistant").connect()
    p.subscribe(f"{ui_stack.base}/state")
    yield p
    p.close()


def test_choose_animation_changes_state_on_mqtt(page: Any, ui_stack: Stack,
                                                watch: MQTTProbe) -> None:
    since = watch.mark()
    page.select_option("#animation", "breathe")
    watch.wait_for(f"{ui_stack.base}/state", lambda s: s["effect"] == "breathe", 5, since)
    # Parameter controls were built from the catalogue's ranges.
    slider = page.locator("#param-period")
    assert slider.get_attribute("type") == "range"
    assert (slider.get_attribute("min"), slider.get_attribute("max")) == ("0.5", "30")
    assert page.locator("#param-color").get_attribute("type") == "color"
    since = watch.mark()
    slider.fill("10")
    watch.wait_for(f"{ui_stack.base}/state",
                   lambda s: s["effect"] == "breathe" and s["params"]["period"] == 10, 5, since)


def test_brightness_slider(page: Any, ui_stack: Stack, watch: MQTTProbe) -> None:
    since = watch.mark()
    page.locator("#brightness").fill("25")
    watch.wait_for(f"{ui_stack.base}/state", lambda s: s["brightness"] == 25, 5, since)
    assert page.locator("#brightness-value").text_content() == "25"


def test_power_toggle(page: Any, ui_stack: Stack, watch: MQTTProbe) -> None:
    since = watch.mark()
    page.click("#power")
    watch.wait_for(f"{ui_stack.base}/state", lambda s: s["state"] == "OFF", 5, since)
    expect(page.locator("#power")).to_have_text("Power: off")
    page.click("#power")
    watch.wait_for(f"{ui_stack.base}/state", lambda s: s["state"] == "ON", 5, since)


def test_preview_canvas_changes_and_dashboard_shows_live_fps(page: Any,
                                                            ui_stack: Stack) -> None:
    page.select_option("#animation", "plasma")
    expect(page.locator("#preview-note")).to_contain_text("live")
    grab = "document.querySelector('#preview').toDataURL()"
    first = page.evaluate(grab)
    page.wait_for_timeout(1000)
    second = page.evaluate(grab)
    assert first != second, "the preview should move with the plasma"
    lit = page.evaluate("""() => { const c = document.querySelector('#preview');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let s = 0;
        for (let i = 0; i < d.length; i += 4) s += d[i] + d[i+1] + d[i+2];
        return s; }""")
    assert lit > 0
    expect(page.locator("#m-fps")).to_have_text(re.compile(r"^[0-9.]+ / 30$"))
    fps = float(page.locator("#m-fps").text_content().split("/")[0])
    assert fps > 5
    assert page.locator("#health-pill").text_content() in ("health ok", "health degraded")


def test_upload_appears_and_plays(page: Any, ui_stack: Stack, watch: MQTTProbe,
                                  tmp_path: Path) -> None:
    gif = tmp_path / "blink.gif"
    gif.write_bytes(images_util.gif([(255, 0, 0), (0, 0, 255)], [200, 200]))
    page.set_input_files("#image-file", str(gif))
    page.click("#upload")
    expect(page.locator("#upload-message")).to_contain_text("Uploaded blink.gif")
    item = page.locator("#image-list li[data-id]", has_text="blink.gif")
    item.wait_for()
    image_id = item.get_attribute("data-id")
    assert image_id and re.fullmatch(r"[0-9a-f]{16}", image_id)
    since = watch.mark()
    item.get_by_role("button", name="Play").click()
    watch.wait_for(f"{ui_stack.base}/state",
                   lambda s: s["effect"] == "image" and s["params"]["image"] == image_id, 5, since)
    page.wait_for_selector(f"#image-list li.playing[data-id='{image_id}']")
    # A renamed text file is refused with a message.
    txt = tmp_path / "cat.png"
    txt.write_bytes(images_util.text_file())
    page.set_input_files("#image-file", str(txt))
    page.click("#upload")
    expect(page.locator("#upload-message")).to_have_class(re.compile(r"\berror\b"))


def test_control_card_uses_catalogue_titles_groups_and_units(page: Any, ui_stack: Stack,
                                                             watch: MQTTProbe) -> None:
    groups = page.locator("#animation optgroup").evaluate_all("gs => gs.map(g => g.label)")
    assert groups[0] == "Ambient" and groups[-1] == "Test patterns", groups
    assert "Clock & text" in groups
    clock_text = page.locator('#animation optgroup[label="Clock & text"] option')
    assert clock_text.all_text_contents() == ["Clock", "Scrolling text"]
    tests = page.locator('#animation optgroup[label="Test patterns"] option')
    assert all(v.startswith("test_") for v in tests.evaluate_all("os => os.map(o => o.value)"))
    # Within a group, sorted by title; an image shows only while one plays.
    ambient = page.locator('#animation optgroup[label="Ambient"] option').all_text_contents()
    assert ambient == sorted(ambient)
    since = watch.mark()
    page.select_option("#animation", "fire")
    watch.wait_for(f"{ui_stack.base}/state", lambda s: s["effect"] == "fire", 5, since)
    expect(page.locator("#animation option[value=image]")).to_have_count(0)
    # Fire's own brightness is not the panel's Brightness; sliders show their unit.
    expect(page.locator("label[for=param-brightness] .name")).to_have_text("Flame intensity")
    expect(page.locator("#param-speed-value")).to_have_text(re.compile(r"^[0-9.]+ \u00d7$"))
    expect(page.locator("label[for=param-height] .name")).to_have_text("Flame height")
    expect(page.locator("label.row span.value")).to_contain_text("%")


def test_the_playing_image_is_named_and_deleting_it_asks_then_falls_back(
        page: Any, ui_stack: Stack, watch: MQTTProbe) -> None:
    r = ui_stack.session.post(f"{ui_stack.url}/api/images", timeout=20,
                              files={"file": ("sunset.png", images_util.png(), "image/png")})
    assert r.status_code == 201, r.text
    image_id = r.json()["id"]
    page.reload()
    item = page.locator(f"#image-list li[data-id='{image_id}']")
    item.wait_for()
    since = watch.mark()
    item.get_by_role("button", name="Play").click()
    watch.wait_for(f"{ui_stack.base}/state",
                   lambda s: s["effect"] == "image" and s["params"]["image"] == image_id, 5, since)
    expect(page.locator("#animation option[value=image]")).to_have_text("Image: sunset.png")
    # Dismissing the question keeps the picture, and it keeps playing.
    asked: list[str] = []

    def answer(accept: bool) -> None:
        def handler(dialog: Any) -> None:
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()
        page.once("dialog", handler)

    answer(False)
    item.get_by_role("button", name="Delete").click()
    expect(item).to_have_count(1)
    assert asked and "sunset.png" in asked[0] and "on the panel" in asked[0]
    assert ui_stack.get(f"/api/images/{image_id}").status_code == 200
    # Accepting deletes it; the engine leaves it for the default animation, with an event.
    since = watch.mark()
    answer(True)
    item.get_by_role("button", name="Delete").click()
    expect(item).to_have_count(0)
    state = watch.wait_for(f"{ui_stack.base}/state", lambda s: s["effect"] != "image", 10, since)
    assert "image" not in state["params"]
    expect(page.locator("#animation option[value=image]")).to_have_count(0)
    expect(page.locator("#animation")).to_have_value(state["effect"])
    assert ui_stack.get("/api/state").json()["effect"] == state["effect"]
    # A picture that is not playing goes without a question.
    r = ui_stack.session.post(f"{ui_stack.url}/api/images", timeout=20,
                              files={"file": ("idle.png", images_util.png(), "image/png")})
    idle = r.json()["id"]
    page.reload()
    asked.clear()
    page.locator(f"#image-list li[data-id='{idle}']").get_by_role("button", name="Delete").click()
    expect(page.locator(f"#image-list li[data-id='{idle}']")).to_have_count(0)
    assert asked == []


def test_charts_start_from_the_bridges_history(browser: Any, ui_stack: Stack) -> None:
    def kept() -> int:
        return len(ui_stack.get("/api/metrics/history").json()["points"])

    wait_until(lambda: kept() >= 3, 20, 0.2, "three points of metrics history")
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        pg = ctx.new_page()
        # No live stream at all: whatever the charts draw came from the history.
        pg.route("**/api/events*", lambda route: route.abort())
        pg.goto(ui_stack.url + "/")
        pg.wait_for_function("ui.charts.fps.length >= 3", timeout=10_000)
        assert pg.evaluate("ui.charts.fps.every(v => v === null || v >= 0)")
        assert pg.evaluate("ui.maxPoints") == ui_stack.get(
            "/api/metrics/history").json()["max_points"]
    finally:
        ctx.close()


def test_validation_error_shows_next_to_its_field(page: Any) -> None:
    field = page.locator('#settings-form [data-path="display.fps"]')
    field.wait_for()
    field.fill("500")
    page.click("#settings-save")
    err = page.locator('#settings-form .field-error[data-for="display.fps"]')
    expect(err).not_to_be_empty()
    assert "120" in err.text_content() or "less than" in err.text_content()
    # The error sits in the same row as the field.
    row = page.locator(".setting", has=page.locator('[data-path="display.fps"]'))
    assert row.locator(".field-error").text_content() == err.text_content()
    page.click("#settings-reset")


def test_settings_form_is_built_from_the_schema(page: Any) -> None:
    """Choices are selects, numbers carry their range, local-only fields are read-only."""
    driver = page.locator("#set-display-driver")
    expect(driver).to_have_count(1)
    assert driver.evaluate("e => e.tagName") == "SELECT"
    assert driver.locator("option").all_text_contents() == ["auto", "rgbmatrix", "virtual",
                                                             "emulator"]
    assert page.locator("#set-logging-level").evaluate("e => e.tagName") == "SELECT"
    rows = page.locator("#set-display-rows")
    assert (rows.get_attribute("type"), rows.get_attribute("min"),
            rows.get_attribute("max")) == ("number", "8", "64")
    assert page.locator("#set-display-show_refresh_rate").get_attribute("type") == "checkbox"
    host = page.locator("#set-mqtt-host")
    assert host.evaluate("e => e.readOnly") is True
    host_row = page.locator('.setting[data-setting="mqtt.host"]')
    expect(host_row).to_contain_text("settings.json on the box")
    rows_row = page.locator('.setting[data-setting="display.rows"]')
    expect(rows_row.locator(".badge-restart")).to_have_count(1)
    expect(rows_row.locator(".help")).to_contain_text("default 32")
    # Advanced fields are folded away until opened.
    expect(page.locator("#set-display-pwm_bits")).to_be_hidden()
    page.locator("#settings-display details.advanced > summary").click()
    expect(page.locator("#set-display-pwm_bits")).to_be_visible()


def test_settings_change_through_the_form_is_saved_and_shows(page: Any, ui_stack: Stack) -> None:
    level = page.locator("#set-logging-level")
    expect(level).to_have_count(1)
    page.select_option("#set-logging-level", label="debug")
    with page.expect_response(lambda r: r.url.endswith("/api/config")
                              and r.request.method == "PATCH") as resp:
        page.click("#settings-save")
    assert resp.value.status == 200
    expect(page.locator("#settings-message")).to_contain_text("logging.level")
    cfg = ui_stack.get("/api/config").json()
    assert cfg["settings"]["logging"]["level"] == "debug"
    expect(level).to_have_value('"debug"')
    # History shows local time, with the ISO timestamp in the title.
    cell = page.locator("#history tr time").first
    expect(cell).to_have_attribute("title", re.compile(r"^\d{4}-\d\d-\d\dT"))
    assert "T" not in (cell.text_content() or "")
    # A jump to a section leaves its heading below the sticky header.
    page.goto(ui_stack.url + "/#settings-logging")
    page.locator("#settings-logging h3").wait_for()
    page.evaluate("document.getElementById('settings-logging').scrollIntoView()")
    header = page.evaluate("document.querySelector('.top').getBoundingClientRect().bottom")
    heading = page.evaluate(
        "document.querySelector('#settings-logging h3').getBoundingClientRect().top")
    assert heading >= header
    ui_stack.send("PATCH", "/api/config", {"logging": {"level": "info"}})


def test_restart_note_clears_when_the_value_is_set_back(page: Any, ui_stack: Stack) -> None:
    rows = ui_stack.get("/api/config").json()["settings"]["display"]["rows"]
    note = page.locator("#config-restart")
    r = ui_stack.send("PATCH", "/api/config", {"display": {"rows": 64 if rows != 64 else 32}})
    assert r.status_code == 200, r.text
    expect(note).to_have_text("Restart needed for: display.rows")
    expect(page.locator('.setting[data-setting="display.rows"]')).to_have_class(
        re.compile(r"\brestart-pending\b"))
    r = ui_stack.send("PATCH", "/api/config", {"display": {"rows": rows}})
    assert r.status_code == 200, r.text
    expect(note).to_be_hidden()
    assert ui_stack.get("/api/config").json()["restart_required"] == []


def test_screenshot_of_the_settings_page(page: Any) -> None:
    page.locator("#settings-display details.advanced").wait_for()
    page.evaluate("document.querySelector('#settings-display details.advanced').open = true")
    page.set_viewport_size({"width": 900, "height": 1100})
    page.evaluate("document.getElementById('settings').scrollIntoView()")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "settings.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("LIGHTBOX_UPDATE_SCREENSHOT") == "1":
        (REPO / "docs" / "img").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, REPO / "docs" / "img" / "settings.png")


def test_screenshot_of_the_main_page(page: Any, ui_stack: Stack) -> None:
    page.select_option("#animation", "plasma")
    expect(page.locator("#preview-note")).to_contain_text("live")
    expect(page.locator("#m-fps")).to_have_text(re.compile(r"[0-9]"))
    page.wait_for_timeout(1500)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "web-ui.png"
    page.screenshot(path=str(ARTIFACTS / "web-ui-full.png"), full_page=True)
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("LIGHTBOX_UPDATE_SCREENSHOT") == "1":
        (REPO / "docs" / "img").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, REPO / "docs" / "img" / "web-ui.png")




#: Forced on every element by the font-independence variant: a monospace face (wider than
#: any proportional one) with extra letter spacing, so the check does not depend on which
#: fonts the machine has (a missing face falls back, the spacing still widens every word).
WIDE_FONT_CSS = ("*, *::before, *::after { font-family: 'DejaVu Sans Mono', 'Liberation Mono',"
                 " monospace !important; letter-spacing: .12em !important; }")

#: Elements reaching past the right edge, except inside a box that scrolls or clips its own
#: content (a wide table may scroll within its card; the card itself must fit).
OVERFLOWING_JS = """() => {
  const w = document.documentElement.clientWidth;
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== 'visible') return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > w + 0.5 && !clipped(el)) {
      out.push(`${el.tagName}#${el.id}.${el.className} right=${Math.round(r.right)}`);
    }
  }
  return out.slice(0, 20);
}"""


@pytest.fixture(scope="module")
def long_content(ui_stack: Stack) -> None:
    """What made the page grow: a history row, a long image name, a long unbroken value."""
    r = ui_stack.send("PATCH", "/api/config", {"display": {"brightness": 61}})
    assert r.status_code == 200, r.text
    name = "a-very-long-picture-name-without-any-spaces-at-all-" + "x" * 40 + ".png"
    r = ui_stack.session.post(f"{ui_stack.url}/api/images", timeout=20,
                              files={"file": (name, images_util.png(), "image/png")})
    assert r.status_code in (200, 201), r.text


@pytest.mark.parametrize("wide_font", [False, True], ids=["default-font", "wide-font"])
@pytest.mark.parametrize("width", [320, 390, 768])
def test_nothing_wider_than_the_screen(browser: Any, ui_stack: Stack, long_content: None,
                                       width: int, wide_font: bool) -> None:
    # bypass_csp only so the test can inject its font rule (the page's CSP refuses inline CSS).
    ctx = browser.new_context(viewport={"width": width, "height": 844}, is_mobile=width < 700,
                              device_scale_factor=2 if width < 700 else 1, bypass_csp=wide_font)
    try:
        mp = ctx.new_page()
        mp.set_default_timeout(10_000)
        mp.goto(ui_stack.url + "/")
        expect(mp.locator("#status-pill")).to_have_text("online")
        expect(mp.locator("#history tr")).not_to_have_count(0)
        expect(mp.locator("#image-list li[data-id]")).not_to_have_count(0)
        expect(mp.locator("#set-mqtt-password_file")).to_have_count(1)
        expect(mp.locator("#settings-display details.advanced")).to_have_count(1)
        mp.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
        if wide_font:
            mp.add_style_tag(content=WIDE_FONT_CSS)
            assert "monospace" in mp.evaluate(
                "getComputedStyle(document.querySelector('h2')).fontFamily")
        ARTIFACTS.mkdir(exist_ok=True)
        font = "wide" if wide_font else "default"
        mp.screenshot(path=str(ARTIFACTS / f"web-ui-{width}px-{font}.png"), full_page=True)
        # Nothing wider than the screen: no horizontal scrolling, no element past the edge.
        assert mp.evaluate("document.documentElement.scrollWidth") <= width
        assert mp.evaluate(OVERFLOWING_JS) == []
    finally:
        ctx.close()
