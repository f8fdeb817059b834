"""Settings: the schema of settings.json, its errors, trust rules and the one store.

A package of small parts; this module re-exports their public names so callers keep
writing ``from appliance.settings import X``:

- ``schema``: pure pydantic models (animation names checked against a given catalogue);
- ``catalogue``: the catalogue protocol (the engine's registry, the bridge's retained one);
- ``errors``: ``SettingsError`` and pydantic errors as ``dotted.path: message``;
- ``files``: validate, decode and load a document, dump one;
- ``merge``: merge a patch, diff two documents;
- ``trust``: local-only paths and the one redaction of secrets;
- ``store``: atomic writes with fsync, the settings file with backups and change log;
- ``grammar``, ``doc``, ``form``: value grammars, docs/settings.md, the UI's form.

Importing it loads no animation, render, display or MQTT module.
"""

from __future__ import annotations

from appliance.settings.catalogue import (
    BUILTIN,
    Catalogue,
    CatalogueArg,
    RegistryCatalogue,
    RetainedCatalogue,
)
from appliance.settings.errors import EX_CONFIG, SettingsError
from appliance.settings.files import (
    default_settings_path,
    dump,
    load,
    parse_bytes,
    read_secret,
    to_json_bytes,
    validate,
)
from appliance.settings.merge import diff_paths, merge
from appliance.settings.schema import (
    DEVICE_ID_RE,
    GROUP_RE,
    HARDWARE_MAPPINGS,
    HOST_PATTERN_RE,
    RESERVED_IDS,
    TOPIC_SEGMENT_RE,
    AnimationSettings,
    BridgeSettings,
    DisplaySettings,
    HealthSettings,
    LoggingSettings,
    MQTTSettings,
    Settings,
    TLSSettings,
    default_device_id,
)
from appliance.settings.store import (
    BACKUP_DIR_NAME,
    BACKUPS_KEPT,
    CHANGELOG_MAX_LINES,
    CHANGELOG_NAME,
    SettingsStore,
    atomic_write,
    fsync_dir,
)
from appliance.settings.trust import (
    LOCAL_ONLY_PATHS,
    LOCAL_ONLY_SUFFIXES,
    SECRET_KEYS,
    SECRET_WORDS,
    is_local_only,
    is_secret_key,
    keep_local_only,
    local_only_changes,
    local_only_values,
    redact,
    redact_changes,
    redacted,
)

__all__ = [
    "BACKUPS_KEPT", "BACKUP_DIR_NAME", "BUILTIN", "CHANGELOG_MAX_LINES", "CHANGELOG_NAME",
    "DEVICE_ID_RE", "EX_CONFIG", "GROUP_RE", "HARDWARE_MAPPINGS", "HOST_PATTERN_RE",
    "LOCAL_ONLY_PATHS", "LOCAL_ONLY_SUFFIXES", "RESERVED_IDS", "SECRET_KEYS", "SECRET_WORDS",
    "TOPIC_SEGMENT_RE",
    "AnimationSettings", "BridgeSettings", "Catalogue", "CatalogueArg", "DisplaySettings",
    "HealthSettings", "LoggingSettings", "MQTTSettings", "RegistryCatalogue",
    "RetainedCatalogue", "Settings", "SettingsError", "SettingsStore", "TLSSettings",
    "atomic_write", "default_device_id", "default_settings_path", "diff_paths", "dump",
    "fsync_dir", "is_local_only", "is_secret_key", "keep_local_only", "load",
    "local_only_changes", "local_only_values", "merge", "parse_bytes", "read_secret",
    "redact", "redact_changes", "redacted", "to_json_bytes", "validate",
]
