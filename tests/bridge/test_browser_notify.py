"""Browser tests of the notification surfaces: the "Send a message" box and the dashboard list.

Playwright with Debian's chromium. Two stacks:

* the **fake stack**: the real bridge app (``create_app``) served in-process by
  werkzeug with the unit tests' fake engine (``FakeEngineLink``, which answers
  ``cmd/notify`` and ``cmd/notify/dismiss`` as contract section 7 says), so the
  UI is checked without an engine: the request the box sends, the live list over
  SSE, dismiss, a field error, and the layouts at 320/390/768 px;
* the **real stack** (engine + mosquitto + bridge): sending from the UI shows up
  in the engine's retained ``<base>/notifications`` and in the list, and dismiss
  clears it. These need the engine's side of section 7.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from appliance.ops.broker import LocalBroker, free_port
from bridge import web
from bridge.app import create_app
from tests.bridge.conftest import Stack, start_stack, unique_id
from tests.bridge.test_browser import ARTIFACTS, OVERFLOWING_JS, browser
from tests.bridge.unit.conftest import unit_settings
from tests.bridge.unit.fake_link import FakeEngineLink, parse_with_notify
from tests.support import MQTTProbe

pytestmark = [pytest.mark.browser, pytest.mark.integration]
__all__ = ["browser"]  # the module-scoped chromium fixture, shared with test_browser

LONG = "Washing machine done: " + "unbrokenwordwithoutanyspaces" * 4 + " ✓ 21 °C"


class FakeStack:
    """The bridge app on a local port, its engine the fake one."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        settings = unit_settings(tmp, host="127.0.0.1", port=self.port)
        self.engine = FakeEngineLink(settings)
        self.server = make_server("127.0.0.1", self.port, create_app(settings, link=self.engine),
                                  threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """Base URL of the bridge."""
        return f"http://127.0.0.1:{self.port}"

    def notify_requests(self) -> list[tuple[str, Any]]:
        """The notification commands that reached the fake engine."""
        return [r for r in self.engine.requests if r[0].startswith("notify")]

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture(scope="module")
def fake_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeStack]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(web, "parse_command", parse_with_notify)
        s = FakeStack(tmp_path_factory.mktemp("notify-ui"))
        yield s
        s.stop()


def open_page(browser: Any, url: str, width: int = 1280) -> tuple[Any, Any, list[str]]:
    """A page on ``url`` once the engine shows online; the errors it logs are collected."""
    ctx = browser.new_context(viewport={"width": width, "height": 900}, is_mobile=width < 700)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(10_000)
    pg.goto(url + "/")
    expect(pg.locator("#status-pill")).to_have_text("online")
    return ctx, pg, errors


def script_errors(errors: list[str]) -> list[str]:
    """Errors other than the 4xx answers a test provokes."""
    return [e for e in errors if not e.startswith("Failed to load resource")]


def test_send_a_message_posts_it_and_the_list_shows_it_live(browser: Any,
                                                           fake_stack: FakeStack) -> None:
    fake_stack.engine.requests.clear()
    ctx, pg, errors = open_page(browser, fake_stack.url)
    try:
        pg.fill("#notify-text", "Doorbell")
        pg.fill("#notify-priority", "90")
        pg.fill("#notify-duration", "20")
        pg.select_option("#notify-icon", "bell")  # the list came from <base>/icons
        pg.click("#notify-send")
        expect(pg.locator("#notify-message")).to_contain_text("Sent")
        assert fake_stack.notify_requests() == [
            ("notify", {"text": "Doorbell", "priority": 90, "duration_s": 20, "icon": "bell"})]
        made = fake_stack.engine.value("notifications")["active"]["id"]
        item = pg.locator(f"#notifications li[data-id='{made}']")
        expect(item).to_contain_text("Doorbell")  # over SSE, not from the reply
        expect(item).to_contain_text("priority 90")
        expect(item).to_have_class("notification showing")
        pg.fill("#notify-text", "Washing machine done")
        pg.fill("#notify-priority", "10")
        pg.click("#notify-send")
        expect(pg.locator("#notifications li[data-id]")).to_have_count(2)
        item.get_by_role("button").click()
        expect(pg.locator(f"#notifications li[data-id='{made}']")).to_have_count(0)
        assert fake_stack.notify_requests()[-1] == ("notify/dismiss", {"id": made})
        expect(pg.locator("#notifications li.showing")).to_contain_text("Washing machine done")
        pg.locator("#notifications li.showing").get_by_role("button").click()
        expect(pg.locator("#notifications")).to_have_text("no notifications")
    finally:
        ctx.close()
    assert not script_errors(errors), errors


def test_a_refused_value_shows_next_to_its_field(browser: Any, fake_stack: FakeStack) -> None:
    fake_stack.engine.requests.clear()
    ctx, pg, errors = open_page(browser, fake_stack.url)
    try:
        pg.fill("#notify-text", "hi")
        pg.fill("#notify-priority", "101")
        pg.click("#notify-send")
        expect(pg.locator(".field-error[data-for=priority]")).to_contain_text("100")
        assert fake_stack.notify_requests() == []
        pg.fill("#notify-priority", "")
        pg.fill("#notify-text", "")
        pg.click("#notify-send")
        expect(pg.locator("#notify-form .field-error[data-for=text]")).not_to_be_empty()
    finally:
        ctx.close()
    assert not script_errors(errors), errors


@pytest.mark.parametrize("width", [320, 390, 768])
def test_the_notification_surfaces_fit_the_screen(browser: Any, fake_stack: FakeStack,
                                                  width: int) -> None:
    fake_stack.engine.notifications.notify({"text": LONG, "id": "wash-" + "x" * 58,
                                            "hold": True})
    fake_stack.engine.publish("notifications", fake_stack.engine.notifications.document())
    ctx, pg, errors = open_page(browser, fake_stack.url, width)
    try:
        expect(pg.locator("#notifications li[data-id]")).not_to_have_count(0)
        expect(pg.locator("#notifications li.showing")).to_contain_text("held until dismissed")
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"web-ui-notify-{width}px.png"), full_page=True)
        assert pg.evaluate("document.documentElement.scrollWidth") <= width
        assert pg.evaluate(OVERFLOWING_JS) == []
    finally:
        ctx.close()
    assert not script_errors(errors), errors


# ---------------------------------------------------------------- real stack (needs the engine)
@pytest.fixture(scope="module")
def notify_stack(broker: LocalBroker, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[Stack]:
    s = start_stack(broker, tmp_path_factory.mktemp("notify"), unique_id("notify"))
    yield s
    s.stop()


def test_real_stack_message_from_the_ui_reaches_the_engine_and_is_dismissed(
        browser: Any, broker: LocalBroker, notify_stack: Stack) -> None:
    probe = MQTTProbe(broker, "homeassistant").connect()
    topic = f"{notify_stack.base}/notifications"
    probe.subscribe(topic)
    ctx, pg, errors = open_page(browser, notify_stack.url)
    try:
        since = probe.mark()
        pg.fill("#notify-text", "Doorbell ✓")
        pg.fill("#notify-priority", "90")
        pg.click("#notify-send")
        expect(pg.locator("#notify-message")).to_contain_text("Sent")
        doc = probe.wait_for(topic, lambda d: bool(d.get("active")), 5, since)
        made = doc["active"]["id"]
        assert doc["active"]["text"] == "Doorbell ✓" and doc["active"]["priority"] == 90
        item = pg.locator(f"#notifications li[data-id='{made}']")
        expect(item).to_contain_text("Doorbell ✓")
        since = probe.mark()
        item.get_by_role("button").click()
        probe.wait_for(topic, lambda d: d.get("active") is None, 5, since)
        expect(pg.locator(f"#notifications li[data-id='{made}']")).to_have_count(0)
    finally:
        ctx.close()
        probe.close()
    assert not script_errors(errors), errors
