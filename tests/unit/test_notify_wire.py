"""The notification commands on the wire: bare forms, replies with the id, subscriptions."""

from __future__ import annotations

import numpy as np
import pytest

from appliance.render.compositor import BaseLayer, Compositor, DarkLayer, IdentifyLayer
from appliance.render.frame import FrameGuard
from appliance.render.live_layer import LiveLayer
from appliance.settings.realtime_schema import RealtimeSettings
from appliance.wire import topics
from appliance.wire.commands import CommandError, Dismiss, Notify, parse_command
from appliance.wire.replies import Reply


def test_a_bare_string_is_the_text() -> None:
    cmd = parse_command("notify", "21 °C outside ✓".encode())
    assert isinstance(cmd, Notify) and cmd.text == "21 °C outside ✓"
    assert cmd.priority == 50 and cmd.duration_s == 8.0 and cmd.position == "banner"
    num = parse_command("notify", b"42")
    assert isinstance(num, Notify) and num.text == "42"


def test_an_object_with_every_key() -> None:
    cmd = parse_command("notify", b'{"text":"Door","id":"door","color":"#FF0000",'
                        b'"background":"#000000","icon":"bell","position":"fullscreen",'
                        b'"duration_s":3,"priority":90,"hold":true,"wake":true,"ttl_s":60}')
    assert cmd == Notify("Door", "door", "#ff0000", "#000000", "bell", "fullscreen", 3.0, 90,
                         True, True, 60.0, meta=cmd.meta)


@pytest.mark.parametrize("payload,code,field", [
    (b'{"text":""}', "out_of_range", "text"),
    (b'{"text":"x","id":"bad id"}', "invalid_value", "id"),
    (b'{"text":"x","priority":101}', "out_of_range", "priority"),
    (b'{"text":"x","colour":"#ffffff"}', "unknown_field", "colour"),
    (b"", "missing_field", "text"),
])
def test_bad_notifications_name_the_field(payload: bytes, code: str, field: str) -> None:
    with pytest.raises(CommandError) as err:
        parse_command("notify", payload)
    assert (err.value.code, err.value.field) == (code, field)


@pytest.mark.parametrize("payload,want", [
    (b"", Dismiss()), (b"all", Dismiss(all=True)), (b"door", Dismiss("door")),
    (b'{"id":"door"}', Dismiss("door")), (b'{"all":true}', Dismiss(all=True)),
])
def test_every_dismiss_form(payload: bytes, want: Dismiss) -> None:
    got = parse_command("notify/dismiss", payload)
    assert isinstance(got, Dismiss) and (got.id, got.all) == (want.id, want.all)


def test_the_reply_carries_the_id() -> None:
    body = Reply(True, "t1", state=None, notification="n-1").as_json()
    assert body["notification"] == {"id": "n-1"} and body["transaction"] == "t1"
    assert "notification" not in Reply(True).as_json()


def test_dismiss_is_subscribed_for_own_all_and_group_bases() -> None:
    subs = topics.engine_subscriptions("lightbox", "kitchen", ["downstairs"])
    filters = subs.filters()
    for b in ("lightbox/kitchen", "lightbox/all", "lightbox/group/downstairs"):
        assert f"{b}/cmd/notify/dismiss" in filters
        assert subs.action(f"{b}/cmd/notify/dismiss") == "notify/dismiss"
        assert subs.action(f"{b}/cmd/notify") == "notify"


def test_the_stack_draws_from_the_highest_opaque_layer() -> None:
    guard = FrameGuard(4, 2)
    drawn: list[float] = []

    def base(now: float) -> np.ndarray:
        drawn.append(now)
        return guard(np.full((2, 4, 3), 9, np.uint8))

    dark = [False]
    ident = IdentifyLayer(4, 2)
    live = LiveLayer(4, 2, RealtimeSettings, lambda *a, **k: None, lambda: None)
    comp = Compositor(FrameGuard(4, 2), [BaseLayer(base), live,
                                         DarkLayer(4, 2, lambda: dark[0]), ident])
    assert (comp.render(0.0) == 9).all() and drawn == [0.0]
    dark[0] = True
    assert (comp.render(1.0) == 0).all() and drawn == [0.0]  # covered: not drawn
    ident.start(5.0, 2.0)
    assert comp.render(2.0).dtype == np.uint8
    assert [la.name for la in comp.layers] == ["base", "live", "dark", "identify"]
