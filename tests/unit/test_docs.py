"""Docs are part of the product: the references must cover what the code does."""

from __future__ import annotations

from pathlib import Path

from appliance import settings_doc, topics

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_setting_has_a_description() -> None:
    assert settings_doc.undocumented() == []


def test_settings_reference_is_up_to_date() -> None:
    current = (DOCS / "settings.md").read_text(encoding="utf-8")
    assert current == settings_doc.render(), (
        "docs/settings.md is stale: run `python -m appliance.settings_doc > docs/settings.md`")


def test_mqtt_api_documents_every_topic() -> None:
    text = (DOCS / "mqtt-api.md").read_text(encoding="utf-8")
    for name in (*topics.RETAINED, "events", "response", "preview"):
        assert f"<base>/{name}`" in text, name
    for action in topics.COMMANDS:
        assert f"<base>/cmd/{action}`" in text, action
    for extra in ("<base>/set`", "lightbox/all/", "lightbox/group/<name>/",
                  "homeassistant/status", "homeassistant/device/lightbox_<device_id>/config"):
        assert extra in text, extra
