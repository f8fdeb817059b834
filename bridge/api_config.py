"""Settings over HTTP: read, change, back up, restore, the form's schema, the change log.

Owns ``/api/config`` (GET redacted, PATCH a partial change), ``/api/config/backup``
(a download, with the presets and playlists), ``/api/config/restore`` (a whole file,
``replace``, then its presets and playlists: ``bridge.backup_looks``), ``/api/config/schema``
and ``/api/config/history``. Every change is validated here in full before it is
sent (local-only settings refused with 403, invalid ones with 422) and applied by
the engine's ``cmd/config``. Knows nothing of paho, the render loop or the display.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response

from appliance import settings as settings_mod
from appliance.settings import form as settings_schema
from appliance.wire import jsonsafe
from bridge import backup_looks
from bridge.deps import Limits
from bridge.errors import ApiError
from bridge.web import add_routes, cached, deps, json_response, read_json, redact, send_command

#: A backup with 100 presets and 100 long playlists fits (each is sent on its own).
RESTORE_MAX_BYTES = 1024 * 1024


def get_config() -> Response:
    """``GET /api/config``: the engine's retained config, secrets redacted."""
    return json_response(redact(cached("config")))


def patch_config() -> Response:
    """``PATCH /api/config``: change some settings (validated whole before sending)."""
    body = read_json()
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_payload", "send a JSON object of settings to change")
    if "replace" in body:
        raise ApiError(400, "unknown_field",
                       "'replace' is not a setting; use POST /api/config/restore",
                       {"field": "replace"}, field="replace")
    current = cached("config").get("settings")
    if isinstance(current, dict):
        proposed = settings_mod.merge(current, body)
        _refuse_local_only(settings_mod.local_only_changes(current, proposed))
        _validate_settings(proposed)
    return send_command("config", body)


def backup() -> Response:
    """``GET /api/config/backup``: the settings, presets and playlists as a file (redacted)."""
    cfg = cached("config")
    doc = {**redact(cfg.get("settings") or {}), **backup_looks.include(deps().link)}
    data = (jsonsafe.dumps(doc, indent=2) + "\n").encode()
    device = deps().settings.device_id
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return Response(data, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="lightbox-{device}-{stamp}.json"'})


def restore() -> Response:
    """``POST /api/config/restore``: replace all settings from a backup, then its looks.

    Everything (settings, presets, playlists) is checked before anything is sent; the
    presets and playlists are saved only after the settings restore succeeded.
    """
    body = read_json(RESTORE_MAX_BYTES)
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_settings", "a settings file is a JSON object",
                       {"problems": [{"field": "(root)",
                                      "message": "settings must be a JSON object"}]},
                       field="(root)")
    retained = deps().link.value("animations")
    names = {str(a.get("name")) for a in retained if isinstance(a, dict)} \
        if isinstance(retained, list) else None
    body, looks = backup_looks.split(body, names)
    current = (deps().link.value("config") or {}).get("settings")
    if isinstance(current, dict):
        # The engine keeps the local-only values in force; validate what it will see.
        _validate_settings(settings_mod.keep_local_only(current, body)[0])
    else:
        _validate_settings(body)
    resp = send_command("config", {**body, "replace": True})
    if not looks.saves:
        return resp
    return json_response({**resp.get_json(), "looks": backup_looks.replay(deps().link, looks)})


def config_schema() -> Response:
    """``GET /api/config/schema``: what the settings form is built from."""
    return json_response(settings_schema.schema())


def history() -> Response:
    """``GET /api/config/history``: the engine's change log."""
    return json_response({"history": cached("config").get("history") or []})


def _refuse_local_only(paths: list[str]) -> None:
    """Answer 403 for a change of local-only settings, before anything is sent."""
    if paths:
        raise ApiError(403, "forbidden_field",
                       f"{', '.join(paths)} can only be changed in settings.json on the box, "
                       "not remotely", {"field": paths[0], "fields": paths}, field=paths[0])


def _validate_settings(data: dict[str, Any]) -> None:
    """Validate a whole settings object before anything is sent or written."""
    # Animation names (and parameter names) are checked against the engine's retained
    # catalogue; without one that check is the engine's, which validates every change.
    retained = deps().link.value("animations")
    catalogue = settings_mod.RetainedCatalogue(retained) if isinstance(retained, list) else None
    try:
        settings_mod.validate(data, catalogue)
    except settings_mod.SettingsError as exc:
        first = exc.problems[0][0] if exc.problems else None
        raise ApiError(422, "invalid_settings", "; ".join(exc.lines())[:2000],
                       {"problems": [{"field": p, "message": m} for p, m in exc.problems]},
                       field=first) from None


def blueprint(limits: Limits) -> Blueprint:
    """Return the settings routes: reads under the reads limit, changes under writes."""
    return add_routes(Blueprint("api_config", __name__), [
        ("GET", "/api/config", get_config, limits.reads),
        ("PATCH", "/api/config", patch_config, limits.writes),
        ("GET", "/api/config/backup", backup, limits.reads),
        ("POST", "/api/config/restore", restore, limits.writes),
        ("GET", "/api/config/schema", config_schema, limits.reads),
        ("GET", "/api/config/history", history, limits.reads),
    ])
