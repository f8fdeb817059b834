"""Bounded JSON: deep nesting, odd numbers and duplicate keys are refused; output is finite."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from flask import Flask

from appliance import discovery
from appliance import settings as settings_mod
from appliance.mqtt.link import encode
from appliance.wire import jsonsafe
from appliance.wire.jsonsafe import MAX_DEPTH, JSONError
from bridge.events import format_event
from bridge.link import decode as bridge_decode
from bridge.web import json_response


def strict(text: str | bytes) -> Any:
    """A parser that knows only standard JSON (what Home Assistant and browsers expect)."""
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        (nested(MAX_DEPTH + 1), None, "nested deeper than 32"),
        (nested(1000), None, "nested deeper than 32"),
        ("[" * 200_000, None, "nested deeper than 32"),  # unclosed: the parser would recurse
        ('{"a":' * 40 + "1" + "}" * 40, None, "nested deeper than 32"),
        ("9" * 4301, None, "4301 digits"),
        ('{"params":{"seed":' + "9" * 4400 + "}}", "params.seed", "4400 digits"),
        ("1" * 21, None, "21 digits"),
        ('{"start_at":1e309}', "start_at", "outside the float range"),
        ('{"x":[0,-1e999]}', "x.1", "outside the float range"),
        ("NaN", None, "NaN"),
        ('{"speed":Infinity}', "speed", "Infinity"),
        ('{"speed":-Infinity}', "speed", "-Infinity"),
        ('{"brightness":10,"brightness":90}', "brightness", "duplicate key"),
        ('{"params":{"speed":1,"speed":2}}', "params.speed", "duplicate key"),
        ('[{"a":1},{"b":1,"b":1}]', "1.b", "duplicate key"),
    ],
)
def test_refused_with_what_and_where(text: str, field: str | None, words: str) -> None:
    with pytest.raises(JSONError) as info:
        jsonsafe.loads(text)
    assert info.value.field == field
    assert words in info.value.message
    assert not info.value.syntax


def test_nothing_deep_ever_reaches_the_recursive_parser() -> None:
    for depth in (100, 1000, sys.getrecursionlimit() * 3, 64 * 1024):
        for opener in "[{":
            text = (opener if opener == "[" else '{"k":') * depth
            with pytest.raises(JSONError, match="nested deeper"):
                jsonsafe.loads(text)


def test_accepted_json_is_unchanged() -> None:
    for value in ({"name": "plasma", "params": {"speed": 2, "color": "#ff8800"}},
                  [1, -2.5, 1e308, -1e-400, True, None, "x"], 12345678901234567890,
                  json.loads(nested(MAX_DEPTH)), {"a": {"a": 1}},
                  {"s": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ {{{{{ \\\" ]"}):
        text = json.dumps(value)
        assert jsonsafe.loads(text) == json.loads(text)


def test_brackets_in_strings_do_not_count_and_escapes_are_followed() -> None:
    deep_in_string = json.dumps({"s": "[" * 100, "t": '\\"' + "{" * 100})
    assert jsonsafe.loads(deep_in_string)["s"] == "[" * 100
    # An escaped backslash ends a string: what follows is structure again.
    with pytest.raises(JSONError, match="nested deeper"):
        jsonsafe.loads('{"s":"\\\\",' + '"x":[' * 40)


def test_syntax_errors_say_where_and_are_marked_as_such() -> None:
    with pytest.raises(JSONError) as info:
        jsonsafe.loads('{"name": ')
    assert info.value.syntax and "line 1 column 10" in info.value.message
    with pytest.raises(JSONError) as info:
        jsonsafe.loads('{"a": NaN, "b": ')  # refused value, then broken: still a clean error
    assert info.value.syntax


def test_the_encoder_replaces_non_finite_numbers_and_logs_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    out = jsonsafe.dumps({"started_at": float("inf"), "x": [float("nan"), 1.5, -float("inf")],
                          "ok": 2})
    assert strict(out) == {"started_at": None, "x": [None, 1.5, None], "ok": 2}
    logged = capsys.readouterr()
    assert "nonfinite_replaced" in logged.out + logged.err
    assert "started_at" in logged.out + logged.err
    assert strict(jsonsafe.dumps({"a": 1}, indent=2)) == {"a": 1}


class _Raw:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def raw_publish(self, topic: str, payload: bytes, *, qos: int = 0,
                    retain: bool = False) -> None:
        self.sent.append(payload)


def test_every_output_path_uses_the_finite_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = {"state": "ON", "started_at": float("inf"), "params": {"speed": float("nan")}}
    want = {"state": "ON", "started_at": None, "params": {"speed": None}}
    assert strict(encode(bad)) == want  # every MQTT publish and reply of the engine
    with Flask(__name__).app_context():
        assert strict(json_response(bad).get_data()) == want  # every HTTP JSON answer
    sse = format_event("state", bad).decode()
    assert strict(sse.split("data: ", 1)[1]) == want  # every SSE message
    raw = _Raw()
    monkeypatch.setattr(discovery, "payload", lambda *a: bad)
    discovery.publish(raw, settings_mod.validate({"device_id": "disc"}), [], {})
    assert strict(raw.sent[0]) == want  # the discovery document


def test_the_bridge_reads_engine_topics_with_the_bounded_decoder() -> None:
    assert bridge_decode("state", nested(5000).encode()) == nested(5000)  # kept as text
    assert bridge_decode("state", b'{"a":1}') == {"a": 1}


def test_settings_files_and_backups_are_bounded_too() -> None:
    for raw, field in ((b'{"display":{"brightness":10,"brightness":90}}', "display.brightness"),
                       (b'{"display":{"fps":1e999}}', "display.fps"),
                       (nested(500).encode(), "(file)"),
                       (b'{"display":{"brightness":' + b"9" * 5000 + b"}}",
                        "display.brightness")):
        with pytest.raises(settings_mod.SettingsError) as info:
            settings_mod.parse_bytes(raw, "restore")
        assert info.value.problems[0][0] == field, info.value.problems
