"""Trust rules of settings: what only a person at the box may change, what nobody sees.

Owns the local-only paths of contract section 5 (they change only by editing the
file on the box: ``is_local_only``, ``local_only_changes``, ``keep_local_only``)
and the one redaction of secrets, used for the published config, the change log
and the bridge's answers. Knows no files, MQTT or Flask.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from appliance.settings.files import dump
from appliance.settings.schema import Settings

#: Dotted paths that only a person at the box may change, with everything under them:
#: where the box connects, who it is, whom it trusts and as whom it runs. Extend this
#: tuple when a new setting would redirect the box, its secrets or its auth.
LOCAL_ONLY_PATHS: tuple[str, ...] = (
    "device_id",
    "mqtt.host", "mqtt.port", "mqtt.username", "mqtt.client_id", "mqtt.base_topic",
    "mqtt.tls",
    "bridge.host", "bridge.port", "bridge.allowed_origins", "bridge.allowed_hosts",
    "bridge.trusted_proxy",
    "bridge.mqtt_username",
    "display.drop_privileges", "display.drop_priv_user", "display.drop_priv_group",
    "logging.dir",
)
#: A key with one of these endings names a file or a folder: local-only at any depth.
LOCAL_ONLY_SUFFIXES = ("_file", "_dir")
_ABSENT = object()


def is_local_only(path: str) -> bool:
    """Say whether a dotted path may change only by editing settings.json on the box."""
    if path.rsplit(".", 1)[-1].endswith(LOCAL_ONLY_SUFFIXES):
        return True
    return any(path == p or path.startswith(p + ".") for p in LOCAL_ONLY_PATHS)


def local_only_values(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Return {dotted path: value} of the outermost local-only keys in a settings object."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if is_local_only(path):
            out[path] = value
        elif isinstance(value, Mapping):
            out.update(local_only_values(value, path + "."))
    return out


def local_only_changes(current: Mapping[str, Any], proposed: Mapping[str, Any]) -> list[str]:
    """Return the local-only paths whose value ``proposed`` changes, adds or removes.

    ``current`` is the settings in force (``dump``), ``proposed`` what a remote change
    would make of them (``merge(current, patch)``). Naming a local-only key with the
    value it already has is no change, so a client may send a whole document back.
    """
    old, new = local_only_values(current), local_only_values(proposed)
    return sorted(p for p in old.keys() | new.keys()
                  if old.get(p, _ABSENT) != new.get(p, _ABSENT))


def keep_local_only(current: Mapping[str, Any], restored: Mapping[str, Any]
                    ) -> tuple[dict[str, Any], list[str]]:
    """Return a restored document with the current local-only values, and the paths kept.

    A path is "kept" when the restored document (or, where it is silent, the default)
    would have given it another value than the one in force.
    """
    doc = json.loads(json.dumps(restored, default=str))
    mine, theirs = local_only_values(current), local_only_values(restored)
    defaults = local_only_values(dump(Settings()))
    kept = sorted(p for p in mine.keys() | theirs.keys()
                  if theirs.get(p, defaults.get(p, _ABSENT)) != mine.get(p, _ABSENT))
    for path in theirs.keys() - mine.keys():
        _put(doc, path, _ABSENT)
    for path, value in mine.items():
        _put(doc, path, value)
    return doc, kept


def _put(doc: dict[str, Any], path: str, value: Any) -> None:
    """Set (or, for _ABSENT, remove) a dotted path, creating objects on the way."""
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            return  # not an object: validation refuses the document anyway
        node = child
    if value is _ABSENT:
        node.pop(last, None)
    else:
        node[last] = value


# ---------------------------------------------------------------------------------------
# Redaction: secrets never leave the box (secret *file paths* are shown, they are no secret)

#: A key (or a change's dotted path) naming one of these holds a secret, unless it
#: ends in ``_file``: then it names the file holding the secret.
SECRET_WORDS = ("password", "token", "secret")
#: Old name of SECRET_WORDS.
SECRET_KEYS = SECRET_WORDS
REDACTED = "***"


def is_secret_key(key: str) -> bool:
    """Say whether a key (or dotted path) holds a secret that must not be shown."""
    return any(w in key.lower() for w in SECRET_WORDS) and not key.endswith("_file")


def redact(value: Any, key: str = "") -> Any:
    """Return a JSON value with every secret-looking value (not None) replaced by ``***``."""
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if value is not None and is_secret_key(key):
        return REDACTED
    return value


def redact_changes(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return change-log entries with the old and new value of secret paths hidden."""
    return [{**c, "old": REDACTED, "new": REDACTED} if is_secret_key(c["path"]) else c
            for c in changes]


def redacted(settings: Settings) -> dict[str, Any]:
    """Return settings for display: secret file paths are shown, secrets never are."""
    return dict(redact(dump(settings)))
