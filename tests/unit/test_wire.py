"""Command parsing at the edge: every bad payload gets a clear, typed error."""

from __future__ import annotations

import time

import pytest

from appliance.wire import topics
from appliance.wire.commands import (
    ApplyConfig,
    Command,
    CommandError,
    Identify,
    Meta,
    Preview,
    Reload,
    SetAnimation,
    SetBrightness,
    SetLight,
    SetParams,
    SetPower,
    parse_command,
    transaction_of,
)
from appliance.wire.replies import Reply


@pytest.mark.parametrize(
    ("action", "payload", "expected"),
    [
        ("animation", "plasma", SetAnimation("plasma")),
        ("animation", '{"name":"fire","params":{"speed":2}}', SetAnimation("fire", {"speed": 2})),
        ("brightness", "42", SetBrightness(42)),
        ("brightness", '{"brightness":0}', SetBrightness(0)),
        ("power", "on", SetPower("ON")),
        ("power", "TOGGLE", SetPower("TOGGLE")),
        ("power", '{"state":"off"}', SetPower("OFF")),
        ("params", '{"speed":3}', SetParams({"speed": 3})),
        ("set", '{"state":"ON","brightness":40,"effect":"plasma","transition":2}',
         SetLight(effect="plasma", brightness=40, power="ON", transition_s=2.0)),
        ("identify", "", Identify(5.0)),
        ("preview", '{"fps":5,"ttl_s":30}', Preview(5.0, 30.0)),
        ("config", '{"display":{"brightness":50}}', ApplyConfig({"display": {"brightness": 50}})),
        ("reload", "", Reload()),
    ],
)
def test_valid_commands(action: str, payload: str, expected: Command) -> None:
    assert parse_command(action, payload.encode()) == expected


def test_a_command_carries_its_transaction_and_source_in_its_meta() -> None:
    cmd = parse_command("brightness", b'{"brightness":7,"transaction":"t9"}', source="http")
    assert cmd == SetBrightness(7, meta=Meta("t9", "http"))
    assert (cmd.action, cmd.transaction, cmd.source) == ("brightness", "t9", "http")


def test_replies_serialise_in_the_contract_shape() -> None:
    err = CommandError("invalid_value", "nope", "brightness")
    assert Reply(False, "t", error=err).as_json() == {
        "ok": False, "error": {"code": "invalid_value", "message": "nope", "field": "brightness"},
        "transaction": "t"}
    assert list(Reply(True, 3, changes=(), restart_required=()).as_json()) == [
        "ok", "state", "changes", "restart_required", "transaction"]


@pytest.mark.parametrize(
    ("action", "payload", "code", "field_"),
    [
        ("brightness", "101", "out_of_range", "brightness"),
        ("brightness", "-1", "out_of_range", "brightness"),
        ("brightness", "abc", "invalid_value", "brightness"),
        ("brightness", "true", "invalid_payload", None),
        ("brightness", '{"brightnes":5}', "unknown_field", "brightnes"),
        ("power", "MAYBE", "invalid_value", "state"),
        ("set", '{"state":"ON","brigthness":5}', "unknown_field", "brigthness"),
        ("set", '{"brightness":0}', "out_of_range", "brightness"),
        ("set", "[1,2]", "invalid_payload", None),
        ("animation", '{"params":{}}', "missing_field", "name"),
        ("animation", '{"name":"x","speed":1}', "unknown_field", "speed"),
        ("animation", '{"name":"x","params":{"speed":NaN}}', "bad_json", "params.speed"),
        ("animation", '{"name": ', "bad_json", None),
        ("params", "[]", "invalid_payload", None),
        ("preview", '{"fps":500}', "out_of_range", "fps"),
        ("reload", '{"now":true}', "unknown_field", "now"),
        ("nonsense", "{}", "unknown_command", None),
    ],
)
def test_invalid_commands_name_what_is_wrong(action: str, payload: str, code: str,
                                             field_: str | None) -> None:
    with pytest.raises(CommandError) as info:
        parse_command(action, payload.encode())
    assert info.value.code == code
    assert info.value.field == field_
    assert info.value.message


DEEP = "[" * 1000 + "]" * 1000
HUGE = "9" * 4301


@pytest.mark.parametrize("action", ["set", "animation", "brightness", "power", "params",
                                    "config", "reload", "identify", "preview"])
@pytest.mark.parametrize(
    ("payload", "field_"),
    [
        (DEEP, None),
        ('{"params":' + DEEP + "}", None),
        ("[" * 60_000, None),
        (HUGE, None),
        ('{"brightness":' + HUGE + "}", "brightness"),
        ('{"transaction":' + HUGE + "}", "transaction"),
        ('{"start_at":1e309}', "start_at"),
        ("-Infinity", None),
        ('{"brightness":10,"brightness":90}', "brightness"),
        ('{"params":{"speed":1,"speed":5}}', "params.speed"),
    ],
)
def test_json_out_of_bounds_is_bad_json_on_every_topic(action: str, payload: str,
                                                       field_: str | None) -> None:
    with pytest.raises(CommandError) as info:
        parse_command(action, payload.encode())
    assert (info.value.code, info.value.field) == ("bad_json", field_)
    assert info.value.message
    assert transaction_of(payload.encode()) is None  # and never a RecursionError


NOW = 1_800_000_000.0


@pytest.mark.parametrize("action", ["set", "animation"])
@pytest.mark.parametrize("start_at", ["1e15", "-1", "0.5", str(NOW + 86_401), str(NOW - 86_401),
                                      '"inf"', '"-inf"', "10000000000000000000"])
def test_start_at_must_be_finite_and_within_a_day(action: str, start_at: str) -> None:
    payload = f'{{"effect":"plasma","start_at":{start_at}}}' if action == "set" \
        else f'{{"name":"plasma","start_at":{start_at}}}'
    with pytest.raises(CommandError) as info:
        parse_command(action, payload.encode(), now=NOW)
    assert (info.value.code, info.value.field) == ("out_of_range", "start_at")
    assert "start_at" in info.value.message


def test_start_at_within_a_day_is_kept() -> None:
    for start_at in (NOW, NOW + 3.5, NOW - 60, NOW + 86_400):
        payload = f'{{"name":"plasma","start_at":{start_at}}}'.encode()
        assert parse_command("animation", payload, now=NOW).start_at == start_at
    live = parse_command("animation", b'{"name":"plasma","start_at":%d}' % (time.time() + 5))
    assert live.start_at is not None  # the default ``now`` is the wall clock


def test_non_utf8_and_oversized_payloads_are_rejected() -> None:
    with pytest.raises(CommandError, match="UTF-8"):
        parse_command("animation", b"\xff\xfe")
    with pytest.raises(CommandError) as info:
        parse_command("params", b"{" + b" " * 70000 + b"}")
    assert info.value.code == "payload_too_large"


def test_transaction_is_kept_and_recovered_from_bad_payloads() -> None:
    assert parse_command("params", b'{"speed":1,"transaction":"t1"}').transaction == "t1"
    assert parse_command("params", b'{"speed":1,"transaction":"t1"}').params == {"speed": 1}
    assert transaction_of(b'{"brightness":900,"transaction":7}') == 7
    assert transaction_of(b"garbage") is None


def test_topics_are_built_in_one_place() -> None:
    b = topics.base("lightbox", "kitchen")
    assert topics.command(b, "brightness") == "lightbox/kitchen/cmd/brightness"
    assert topics.command(b, "set") == "lightbox/kitchen/set"
    with pytest.raises(ValueError):
        topics.command(b, "selfdestruct")
    subs = topics.engine_subscriptions("lightbox", "kitchen", ["upstairs"])
    assert subs.action("lightbox/all/cmd/power") == "power"
    assert subs.action("lightbox/group/upstairs/set") == "set"
    assert subs.action("lightbox/group/downstairs/set") is None
    assert subs.action("lightbox/other/cmd/power") is None
    assert topics.discovery("homeassistant", "kitchen") == (
        "homeassistant/device/lightbox_kitchen/config")
