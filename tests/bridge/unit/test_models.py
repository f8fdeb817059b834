"""The HTTP bodies are views of the wire payload models: one definition of every limit."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from appliance.wire import payloads
from bridge import models
from bridge.errors import ApiError

VIEWS = [(models.AnimationBody, payloads.AnimationPayload),
         (models.BrightnessBody, payloads.BrightnessPayload),
         (models.PowerBody, payloads.PowerPayload),
         (models.IdentifyBody, payloads.IdentifyPayload)]
#: Where HTTP is deliberately tighter than MQTT.
TIGHTENED = {("AnimationBody", "name")}


@pytest.mark.parametrize(("view", "wire"), VIEWS)
def test_each_body_has_the_wire_fields_and_limits_without_transaction(
        view: type[BaseModel], wire: type[BaseModel]) -> None:
    assert list(view.model_fields) == [n for n in wire.model_fields if n != "transaction"]
    wire_props = wire.model_json_schema()["properties"]
    for name, schema in view.model_json_schema()["properties"].items():
        if (view.__name__, name) not in TIGHTENED:
            assert schema == wire_props[name], (view.__name__, name)


def test_the_animation_name_is_tightened_for_http_only() -> None:
    schema = models.AnimationBody.model_json_schema()["properties"]["name"]
    assert schema["maxLength"] == payloads.ANIMATION_NAME_MAX and schema["minLength"] == 1
    assert payloads.AnimationPayload.model_validate({"name": "x" * 40}).name == "x" * 40


@pytest.mark.parametrize(("view", "wire"), VIEWS)
def test_http_refuses_transaction_and_coercion(view: type[BaseModel],
                                               wire: type[BaseModel]) -> None:
    with pytest.raises(ApiError) as err:
        models.validate_body(view, {"transaction": "t1"})  # type: ignore[type-var]
    assert err.value.status in (400, 422)
    if not view.model_fields or all(not f.is_required() for f in view.model_fields.values()):
        assert err.value.code == "unknown_field" and err.value.field == "transaction"


def test_a_number_in_a_string_is_not_coerced() -> None:
    with pytest.raises(ApiError) as err:
        models.validate_body(models.IdentifyBody, {"seconds": "5"})
    assert (err.value.status, err.value.code, err.value.field) == (422, "invalid_value", "seconds")
    assert payloads.IdentifyPayload.model_validate({"seconds": "5"}).seconds == 5.0
