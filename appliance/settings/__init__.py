"""Settings: the pydantic model of settings.json, loading, validation and safe saving.

Owns the file format, atomic writes, timestamped backups and the change log.
Knows nothing of MQTT, displays or Flask. Secrets never live in the file: it
points to files that hold them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import socket
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from appliance.settings import grammar

DEVICE_ID_RE = r"^[a-z0-9][a-z0-9_-]{0,31}$"
GROUP_RE = r"^[a-z0-9][a-z0-9_-]{0,31}$"
TOPIC_SEGMENT_RE = r"^[A-Za-z0-9_-]{1,64}$"
#: Device ids that would collide with the fleet topics or, since a box's broker user is
#: its device id (deploy/mosquitto/acl), with the broker's service users.
RESERVED_IDS = frozenset({"all", "group", "lightbox-bridge", "lightbox-monitor",
                          "homeassistant", "lightbox-engine"})
#: A host name (lower case, optional ``*.`` prefix for a whole domain) in bridge.allowed_hosts.
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
HOST_PATTERN_RE = rf"\A(\*\.)?{_LABEL}(\.{_LABEL})*\Z"
HARDWARE_MAPPINGS = (
    "regular",
    "adafruit-hat",
    "adafruit-hat-pwm",
    "regular-pi1",
    "classic",
    "classic-pi1",
    "compute-module",
)
EX_CONFIG = 78
BACKUP_DIR_NAME = "backups"
BACKUPS_KEPT = 10
CHANGELOG_NAME = "changes.jsonl"
CHANGELOG_MAX_LINES = 1000


def default_device_id() -> str:
    """Derive a valid device id from the host name."""
    host = socket.gethostname().split(".")[0].lower()
    host = re.sub(r"[^a-z0-9_-]", "-", host).strip("-_") or "lightbox"
    if not re.match(r"^[a-z0-9]", host):
        host = "lb" + host
    host = host[:32]
    return "lightbox" if host in RESERVED_IDS else host


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


class DisplaySettings(_Section):
    """The panel and its driver."""

    driver: Literal["auto", "rgbmatrix", "virtual", "emulator"] = "auto"
    rows: Annotated[int, Field(ge=8, le=64)] = 32
    cols: Annotated[int, Field(ge=8, le=128)] = 64
    chain_length: Annotated[int, Field(ge=1, le=8)] = 1
    parallel: Annotated[int, Field(ge=1, le=3)] = 1
    hardware_mapping: Literal[HARDWARE_MAPPINGS] = "regular"  # type: ignore[valid-type]
    gpio_slowdown: Annotated[int, Field(ge=0, le=5)] = 4
    pwm_bits: Annotated[int, Field(ge=1, le=11)] = 11
    pwm_lsb_nanoseconds: Annotated[int, Field(ge=50, le=3000)] = 130
    pwm_dither_bits: Annotated[int, Field(ge=0, le=2)] = 0
    scan_mode: Literal[0, 1] = 0
    row_address_type: Annotated[int, Field(ge=0, le=5)] = 0
    multiplexing: Annotated[int, Field(ge=0, le=20)] = 0
    led_rgb_sequence: Literal["RGB", "RBG", "GRB", "GBR", "BRG", "BGR"] = "RGB"
    pixel_mapper_config: str = ""
    panel_type: str = ""
    limit_refresh_rate_hz: Annotated[int, Field(ge=0, le=1000)] = 0
    disable_hardware_pulsing: bool = False
    show_refresh_rate: bool = False
    brightness: Annotated[int, Field(ge=1, le=100)] = 80
    fps: Annotated[int, Field(ge=1, le=120)] = 30
    drop_privileges: bool = True
    drop_priv_user: str = "lightbox"
    drop_priv_group: str = "lightbox"
    retry_initial_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    retry_max_s: Annotated[float, Field(gt=0, le=3600)] = 60.0

    @property
    def width(self) -> int:
        """Panel width in pixels (cols x chain)."""
        return self.cols * self.chain_length

    @property
    def height(self) -> int:
        """Panel height in pixels (rows x parallel)."""
        return self.rows * self.parallel

    @model_validator(mode="after")
    def _geometry(self) -> DisplaySettings:
        if self.width > 512 or self.height > 192:
            raise ValueError(
                f"panel {self.width}x{self.height} is larger than LightBox drives (512x192)"
            )
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError("retry_max_s must be at least retry_initial_s")
        problem = grammar.pixel_mappers(self.pixel_mapper_config, self.chain_length,
                                        self.parallel)
        if problem:
            # A leading newline marks "dotted.sub: message" lines for _problems().
            raise ValueError(f"\npixel_mapper_config: {problem}")
        return self

    @field_validator("panel_type")
    @classmethod
    def _panel_type(cls, v: str) -> str:
        return grammar.panel_type(v)

    @field_validator("drop_priv_user", "drop_priv_group")
    @classmethod
    def _posix_name(cls, v: str) -> str:
        return grammar.posix_name(v)


class AnimationSettings(_Section):
    """What plays, what takes over when it fails, and per-animation parameters."""

    default: str = "plasma"
    fallback: str = "breathe"
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    boot: Literal["default", "last"] = "last"
    quarantine_failures: Annotated[int, Field(ge=1, le=100)] = 3
    quarantine_window_s: Annotated[float, Field(gt=0, le=86400)] = 60.0
    quarantine_s: Annotated[float, Field(gt=0, le=86400)] = 300.0
    hang_budget_frames: Annotated[float, Field(ge=2, le=300)] = 10.0
    #: Which animations draw on a worker thread with a deadline (a hang cannot stop the
    #: loop): "untrusted" (not shipped in the animations package), "all" or "none".
    isolation: Literal["untrusted", "all", "none"] = "untrusted"
    #: RSS growth (MB) while one animation runs that counts as a leak: it is failed,
    #: rebuilt and quarantined. 0 turns the check off.
    leak_mb: Annotated[float, Field(ge=0, le=4096)] = 64.0

    @model_validator(mode="after")
    def _known(self) -> AnimationSettings:
        from animations import REGISTRY, ParamError

        problems = []
        for key in ("default", "fallback"):
            name = getattr(self, key)
            if name not in REGISTRY:
                problems.append(f"{key}: unknown animation {name!r}")
        for name, values in self.params.items():
            if name not in REGISTRY:
                problems.append(f"params.{name}: unknown animation {name!r}")
                continue
            try:
                REGISTRY.resolve_params(name, values)
            except ParamError as exc:
                problems.append(f"params.{name}.{exc.field}: {exc.message}")
        if problems:
            # A leading newline marks "dotted.sub: message" lines for _problems().
            raise ValueError("\n" + "\n".join(problems))
        return self


class TLSSettings(_Section):
    """TLS towards the broker."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False


class MQTTSettings(_Section):
    """The broker connection and topic layout."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 1883
    username: str | None = None
    password_file: Path | None = None
    tls: TLSSettings | None = None
    base_topic: Annotated[str, Field(pattern=TOPIC_SEGMENT_RE)] = "lightbox"
    discovery_prefix: Annotated[str, Field(pattern=TOPIC_SEGMENT_RE)] = "homeassistant"
    discovery: bool = True
    groups: list[Annotated[str, Field(pattern=GROUP_RE)]] = Field(default_factory=list)
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    client_id: str | None = None
    reconnect_min_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    reconnect_max_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    max_queued_messages: Annotated[int, Field(ge=10, le=100000)] = 1000
    #: Seconds between attempts after the broker refused the credentials (no tight loop).
    auth_retry_s: Annotated[float, Field(ge=1, le=3600)] = 60.0

    @field_validator("groups")
    @classmethod
    def _unique_groups(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("group names must be unique")
        return v

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        return grammar.host(v)

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, v: str | None) -> str | None:
        return None if v is None else grammar.client_id(v)


class BridgeSettings(_Section):
    """The web bridge on port 5001."""

    host: str = "0.0.0.0"
    port: Annotated[int, Field(ge=1, le=65535)] = 5001
    auth_token_file: Path | None = None
    mqtt_username: str | None = None
    mqtt_password_file: Path | None = None
    threads: Annotated[int, Field(ge=1, le=64)] = 8
    rate_limit_reads: str = "50 per second"
    rate_limit_writes: str = "10 per second"
    rate_limit_uploads: str = "10 per minute"
    upload_max_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 4 * 1024 * 1024
    #: Per frame. At worst (animated PNG) a decode takes ~12 bytes a pixel: 8 Mpx fits the
    #: bridge unit's MemoryHigh=192M; JPEGs count at their 1/8 decode size.
    upload_max_pixels: Annotated[int, Field(ge=64, le=50_000_000)] = 8_000_000
    upload_max_frames: Annotated[int, Field(ge=1, le=2000)] = 300
    images_dir: Path | None = None
    #: Quota of the images folder: uploads beyond either are refused (507).
    images_max_count: Annotated[int, Field(ge=1, le=10000)] = 200
    images_max_mb: Annotated[int, Field(ge=1, le=65536)] = 256
    command_timeout_s: Annotated[float, Field(gt=0, le=60)] = 3.0
    rate_limit_login: str = "10 per minute"
    #: Server-Sent Events: each stream holds one of ``threads`` while open.
    sse_max_clients: Annotated[int, Field(ge=0, le=62)] = 4
    sse_queue_size: Annotated[int, Field(ge=1, le=10000)] = 64
    sse_max_age_s: Annotated[float, Field(ge=5, le=86400)] = 300.0
    preview_fps: Annotated[float, Field(gt=0, le=15)] = 5.0
    #: Extra origins (``https://host:port``) allowed to write, e.g. behind a reverse proxy.
    allowed_origins: list[str] = Field(default_factory=list)
    #: Host names the bridge answers to besides IP literals, localhost and the box's own
    #: names (``*.example.com`` for a whole domain); others are refused (DNS rebinding).
    allowed_hosts: list[str] = Field(default_factory=list)
    #: Address of a reverse proxy whose X-Forwarded-Proto/-For/-Host/-Port are believed.
    trusted_proxy: str | None = None
    #: Slow and idle clients: open connections, time to send the headers, the whole
    #: request (with its body), and idle keep-alive time before the bridge hangs up.
    connection_limit: Annotated[int, Field(ge=16, le=4000)] = 250
    header_timeout_s: Annotated[float, Field(ge=1, le=300)] = 10.0
    request_timeout_s: Annotated[float, Field(ge=1, le=3600)] = 120.0
    idle_timeout_s: Annotated[int, Field(ge=1, le=3600)] = 30
    max_header_bytes: Annotated[int, Field(ge=4096, le=1024 * 1024)] = 32 * 1024
    #: Login sessions (the UI's cookie): lifetime, and how many are kept at once.
    session_max_age_s: Annotated[int, Field(ge=60, le=365 * 86400)] = 30 * 86400
    session_max: Annotated[int, Field(ge=1, le=10000)] = 256

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, v: list[str]) -> list[str]:
        out = [h.lower().rstrip(".") for h in v]
        for given, h in zip(v, out, strict=True):
            if not re.match(HOST_PATTERN_RE, h):
                raise ValueError(f"{given!r} is not a host name (like 'lightbox.lan' or "
                                 "'*.home.arpa'; no scheme, port or path)")
        return out

    @field_validator("trusted_proxy")
    @classmethod
    def _proxy_address(cls, v: str | None) -> str | None:
        if v is None or v == "*":
            return v
        try:
            return str(ipaddress.ip_address(v))
        except ValueError:
            raise ValueError(f"{v!r} is not an IP address (or '*' for any)") from None

    @model_validator(mode="after")
    def _request_outlasts_headers(self) -> BridgeSettings:
        if self.request_timeout_s < self.header_timeout_s:
            raise ValueError(f"request_timeout_s ({self.request_timeout_s}) must be at least "
                             f"header_timeout_s ({self.header_timeout_s})")
        return self

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        return grammar.host(v)

    @field_validator("rate_limit_reads", "rate_limit_writes", "rate_limit_uploads",
                     "rate_limit_login")
    @classmethod
    def _rate_limit(cls, v: str, info: ValidationInfo) -> str:
        return grammar.rate_limit(v, str(info.field_name).removeprefix("rate_limit_"))

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, v: list[str]) -> list[str]:
        problems = []
        out = []
        for i, entry in enumerate(v):
            try:
                out.append(grammar.origin(entry))
            except ValueError as exc:
                problems.append(f"{i}: {exc}")
        if problems:
            raise ValueError("\n" + "\n".join(problems))
        return out

    @model_validator(mode="after")
    def _threads_left(self) -> BridgeSettings:
        if self.sse_max_clients > self.threads - 2:
            raise ValueError(
                f"sse_max_clients ({self.sse_max_clients}) must leave at least 2 of "
                f"threads ({self.threads}) for requests"
            )
        return self


class HealthSettings(_Section):
    """Health and metrics publishing and thresholds."""

    interval_s: Annotated[float, Field(ge=1, le=3600)] = 10.0
    metrics_interval_s: Annotated[float, Field(ge=1, le=3600)] = 5.0
    fps_degraded_ratio: Annotated[float, Field(gt=0, le=1)] = 0.9
    stall_s: Annotated[float, Field(gt=0, le=600)] = 5.0
    temp_degraded_c: Annotated[float, Field(ge=30, le=120)] = 75.0
    temp_failed_c: Annotated[float, Field(ge=30, le=120)] = 85.0
    rss_degraded_mb: Annotated[float, Field(ge=16, le=65536)] = 400.0
    rss_limit_mb: Annotated[float, Field(ge=16, le=65536)] = 512.0
    cpu_quota_pct: Annotated[float, Field(gt=0, le=800)] = 80.0
    disk_degraded_mb: Annotated[float, Field(ge=0, le=1_000_000)] = 50.0
    events_per_minute: Annotated[int, Field(ge=1, le=10000)] = 60


class LoggingSettings(_Section):
    """Log level, format and optional per-component files."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"
    dir: Path | None = None


class Settings(BaseModel):
    """The whole of settings.json."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    device_id: Annotated[str, Field(pattern=DEVICE_ID_RE)] = Field(
        default_factory=default_device_id
    )
    display: DisplaySettings = Field(default_factory=DisplaySettings)
    animation: AnimationSettings = Field(default_factory=AnimationSettings)
    mqtt: MQTTSettings = Field(default_factory=MQTTSettings)
    bridge: BridgeSettings = Field(default_factory=BridgeSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    @field_validator("device_id")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v in RESERVED_IDS:
            raise ValueError(f"{v!r} is reserved (a fleet topic or a broker service user), "
                             "choose another device id")
        return v


# ---------------------------------------------------------------------------------------
# Errors


class SettingsError(Exception):
    """Settings are invalid or unreadable; ``problems`` are (dotted.path, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]], source: str = "") -> None:
        self.problems = problems
        self.source = source
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))

    def lines(self) -> list[str]:
        """Return one `dotted.path: message` line per problem."""
        return [f"{p}: {m}" for p, m in self.problems]

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description."""
        return {
            "code": "invalid_settings",
            "message": str(self),
            "problems": [{"field": p, "message": m} for p, m in self.problems],
        }


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if "\n" in msg and err["type"] == "value_error":
            # Model validators join several problems by newlines; split them back.
            for part in filter(None, msg.split("\n")):
                sub, _, m = part.partition(": ")
                out.append((f"{loc}.{sub}" if loc != "(root)" else sub, m))
            continue
        out.append((loc, msg))
    return out


def validate(data: Any) -> Settings:
    """Validate a decoded settings object or raise SettingsError."""
    if not isinstance(data, dict):
        raise SettingsError([("(root)", "settings must be a JSON object")])
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(_problems(exc)) from None


def parse_bytes(raw: bytes, source: str = "") -> Settings:
    """Decode (bounded JSON: no deep nesting, odd numbers or duplicate keys) and validate."""
    from appliance.wire import jsonsafe

    try:
        data = jsonsafe.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SettingsError([("(file)", "not UTF-8 text")], source) from None
    except jsonsafe.JSONError as exc:
        raise SettingsError([(exc.field or "(file)", exc.reason)], source) from None
    try:
        return validate(data)
    except SettingsError as exc:
        exc.source = source
        raise


def load(path: Path) -> Settings:
    """Read and validate a settings file; a missing file is an error."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SettingsError([("(file)", f"{path} does not exist")], str(path)) from None
    except OSError as exc:
        problem = ("(file)", f"cannot read {path}: {exc.strerror}")
        raise SettingsError([problem], str(path)) from None
    return parse_bytes(raw, str(path))


def default_settings_path(cli_value: str | None) -> Path:
    """Pick the settings file: the CLI value, else $LIGHTBOX_SETTINGS, else ./settings.json."""
    if cli_value:
        return Path(cli_value)
    env = os.environ.get("LIGHTBOX_SETTINGS")
    return Path(env) if env else Path("settings.json")


def read_secret(path: Path | None) -> str | None:
    """Return the first line of a secret file, or None when no file is configured."""
    if path is None:
        return None
    return path.read_text(encoding="utf-8").splitlines()[0].strip() if path.exists() else None


# ---------------------------------------------------------------------------------------
# Saving: atomic, with backups and a change log


def to_json_bytes(data: Mapping[str, Any]) -> bytes:
    """Serialise a settings object the way it is stored on disk."""
    return (json.dumps(data, indent=2, sort_keys=False, default=str) + "\n").encode()


def dump(settings: Settings) -> dict[str, Any]:
    """Return the settings as JSON-ready data (without derived defaults for device_id)."""
    return settings.model_dump(mode="json", exclude_none=False)


def merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``patch`` into ``base`` (objects merge; other values replace)."""
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            # animation.params.<name> replaces per animation, deeper dicts merge too
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def diff_paths(old: Any, new: Any, prefix: str = "") -> list[dict[str, Any]]:
    """Return the changes between two JSON values as dotted-path entries."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[dict[str, Any]] = []
        for key in sorted(set(old) | set(new), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in old:
                out.append({"path": path, "old": None, "new": new[key]})
            elif key not in new:
                out.append({"path": path, "old": old[key], "new": None})
            else:
                out.extend(diff_paths(old[key], new[key], path))
        return out
    if old != new:
        return [{"path": prefix or "(root)", "old": old, "new": new}]
    return []


# ---------------------------------------------------------------------------------------
# Local-only settings (contract section 5): they change only by editing the file on the box

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


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o640) -> None:
    """Write ``data`` to ``path`` atomically: temp file, fsync, rename, fsync the folder."""
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, mode)
        os.replace(tmp, path)
        _fsync_dir(directory)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class SettingsStore:
    """The settings file with its backups folder and change log.

    Backups live in ``<settings dir>/backups/`` as ``settings-<UTC stamp>.json``;
    the change log is ``<settings dir>/backups/changes.jsonl``.
    """

    def __init__(self, path: Path, keep: int = BACKUPS_KEPT) -> None:
        self.path = path
        self.keep = keep

    @property
    def backup_dir(self) -> Path:
        """Folder holding the timestamped backups and the change log."""
        return self.path.parent / BACKUP_DIR_NAME

    @property
    def changelog(self) -> Path:
        """The change log (JSON lines)."""
        return self.backup_dir / CHANGELOG_NAME

    def load(self) -> Settings:
        """Read and validate the settings file."""
        return load(self.path)

    def load_with_fallback(self) -> tuple[Settings, str, SettingsError | None]:
        """Load the file, else the newest valid backup.

        Returns (settings, source, error): source is "file", "backup:<name>" or
        "defaults" (only when the file does not exist); error is the problem with
        the file when a backup was used. Raises SettingsError when nothing usable exists.
        """
        try:
            return self.load(), "file", None
        except SettingsError as exc:
            if not self.path.exists() and not self.backups():
                raise
            for backup in self.backups():
                try:
                    return load(backup), f"backup:{backup.name}", exc
                except SettingsError:
                    continue
            raise

    def cleanup_temp(self, older_than_s: float = 60.0) -> int:
        """Remove temporary files of writes killed half-way (older than ``older_than_s``).

        Returns how many were removed. Younger ones may belong to a write in progress
        in another process, so they are left alone.
        """
        removed = 0
        cutoff = time.time() - older_than_s
        for folder in (self.path.parent, self.backup_dir):
            if not folder.is_dir():
                continue
            for tmp in folder.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    if tmp.stat().st_mtime < cutoff:
                        tmp.unlink()
                        removed += 1
        return removed

    def restore(self, raw: bytes, source: str) -> tuple[Settings, list[dict[str, Any]]]:
        """Validate a backup's bytes completely, then save them (with a backup of the current).

        Raises SettingsError, having written nothing, when the bytes are not valid settings.
        """
        new = parse_bytes(raw, "restore")
        old: Settings | None = None
        with contextlib.suppress(SettingsError):
            old = self.load()
        return new, self.save(new, source=source, old=old)

    def backups(self) -> list[Path]:
        """Return backups, newest first."""
        if not self.backup_dir.is_dir():
            return []
        return sorted(self.backup_dir.glob("settings-*.json"), reverse=True)

    def _stamp(self) -> str:
        now = datetime.now(UTC)
        return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond:06d}Z"

    def backup_current(self) -> Path | None:
        """Copy the current file (if valid JSON on disk) into the backups folder."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        target = self.backup_dir / f"settings-{self._stamp()}.json"
        atomic_write(target, raw)
        for old in self.backups()[self.keep :]:
            with contextlib.suppress(OSError):
                old.unlink()
        return target

    def save(self, new: Settings, source: str, old: Settings | None = None) -> list[dict[str, Any]]:
        """Back up the current file, write ``new`` atomically and log the change.

        Returns the list of changed dotted paths.
        """
        new_data = dump(new)
        old_data = dump(old) if old is not None else _read_json(self.path)
        changes = diff_paths(old_data, new_data)
        self.backup_current()
        # Keep the file's mode: the installer makes it 0644 (it holds no secrets) so the
        # web bridge, which runs as another user, can still read it after a change.
        try:
            mode = self.path.stat().st_mode & 0o777
        except OSError:
            mode = 0o640
        atomic_write(self.path, to_json_bytes(new_data), mode)
        self.log_change(source, changes)
        return changes

    def log_change(self, source: str, changes: list[dict[str, Any]]) -> None:
        """Append one entry to the change log, keeping it bounded."""
        entry = {
            "ts": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": source,
            "changes": _redact_changes(changes),
        }
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        lines = []
        if self.changelog.exists():
            lines = self.changelog.read_text(encoding="utf-8").splitlines()[
                -(CHANGELOG_MAX_LINES - 1) :
            ]
        lines.append(json.dumps(entry, default=str))
        atomic_write(self.changelog, ("\n".join(lines) + "\n").encode())

    def history(self, limit: int = 100) -> list[dict[str, Any]]:
        """Return the newest change-log entries first."""
        if not self.changelog.exists():
            return []
        out = []
        for line in reversed(self.changelog.read_text(encoding="utf-8").splitlines()):
            with contextlib.suppress(json.JSONDecodeError):
                out.append(json.loads(line))
            if len(out) >= limit:
                break
        return out


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


SECRET_KEYS = ("password", "token", "secret")


def _redact_changes(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**c, "old": "***", "new": "***"}
        if any(s in c["path"] for s in SECRET_KEYS) and not c["path"].endswith("_file")
        else c
        for c in changes
    ]


def redacted(settings: Settings) -> dict[str, Any]:
    """Return settings for display: secret file paths are shown, secrets never are."""
    return dump(settings)
