"""The settings schema: pure pydantic models of settings.json and their constants.

Owns what a valid settings document is. Knows no files, no MQTT, no Flask and no
animation module: animation names and parameters are checked against a catalogue
given as validation context (``appliance.settings.catalogue``), and skipped when
none is given. Secrets never live in the file: it points to files that hold them.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from appliance.settings import grammar
from appliance.settings.catalogue import catalogue_from
from appliance.settings.display_schema import HARDWARE_MAPPINGS as HARDWARE_MAPPINGS
from appliance.settings.display_schema import DisplaySettings
from appliance.settings.realtime_schema import RealtimeSettings
from appliance.settings.schedule_schema import (
    MAX_WINDOWS,
    Location,
    ScheduleWindow,
    check_timezone,
    schedule_problems,
)

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
#: Settings the running engine cannot change live: a change is saved and takes effect at
#: the next start (``restart_required``; the form marks them). Here, not in ``form``, so
#: that the engine does not load the form and its docs to know them.
RESTART_PREFIXES = (
    "device_id", "mqtt.", "bridge.", "logging.dir",
    "display.driver", "display.rows", "display.cols", "display.chain_length",
    "display.parallel", "display.hardware_mapping", "display.gpio_slowdown",
    "display.pwm_", "display.scan_mode", "display.row_address_type", "display.multiplexing",
    "display.led_rgb_sequence", "display.pixel_mapper_config", "display.panel_type",
    "display.limit_refresh_rate_hz", "display.disable_hardware_pulsing",
    "display.show_refresh_rate", "display.drop_", "display.rp1_rio",
)


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


class AnimationSettings(_Section):
    """What plays, what takes over when it fails, and per-animation parameters."""

    default: str = "plasma"
    fallback: str = "breathe"
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    boot: Annotated[str, AfterValidator(grammar.boot_policy)] = "last"
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
    def _known(self, info: ValidationInfo) -> AnimationSettings:
        catalogue = catalogue_from(info.context)
        if catalogue is None:
            return self  # no catalogue given: names and parameters are not checked here
        problems = []
        for key in ("default", "fallback"):
            name = getattr(self, key)
            if name not in catalogue:
                problems.append(f"{key}: unknown animation {name!r}")
        for name, values in self.params.items():
            if name not in catalogue:
                problems.append(f"params.{name}: unknown animation {name!r}")
                continue
            problem = catalogue.param_problem(name, values)
            if problem is not None:
                problems.append(f"params.{name}.{problem[0]}: {problem[1]}")
        if problems:
            # A leading newline marks "dotted.sub: message" lines for errors.problems_of().
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
    #: IANA time zone for schedules; None: the system's.
    timezone: str | None = None
    location: Location | None = None
    schedule: Annotated[list[ScheduleWindow], Field(max_length=MAX_WINDOWS)] = Field(
        default_factory=list)
    realtime: RealtimeSettings = Field(default_factory=RealtimeSettings)

    @field_validator("device_id")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v in RESERVED_IDS:
            raise ValueError(f"{v!r} is reserved (a fleet topic or a broker service user), "
                             "choose another device id")
        return v

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str | None) -> str | None:
        return check_timezone(v)

    @model_validator(mode="after")
    def _schedule(self) -> Settings:
        problems = schedule_problems(self.location, self.schedule)
        if problems:
            raise ValueError("\n" + "\n".join(problems))
        return self
