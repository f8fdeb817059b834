"""Generates docs/settings.md from the settings model, so the reference never drifts.

`python -m appliance.settings.doc > docs/settings.md`; a test fails when a
setting has no description here or the checked-in page is out of date.
Knows nothing of the engine, MQTT or Flask.
"""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from appliance.settings import Settings, is_local_only
from appliance.settings.doc_extra import MEANING_EXTRA, SECTIONS_EXTRA

SECTIONS = {
    "display": "The panel and its driver. Geometry and driver options need a restart; "
               "`brightness` and `fps` apply live.",
    "animation": "What plays at boot, what takes over when an animation fails, and "
                 "per-animation parameter defaults.",
    "mqtt": "The broker connection and the topic layout. Changes need a restart.",
    "mqtt.tls": "TLS towards the broker (omit the section, or `null`, for plain TCP on "
                "loopback).",
    "bridge": "The web bridge on port 5001. Changes need a bridge restart.",
    "health": "Health and metrics publishing intervals and the thresholds behind each "
              "health reason.",
    "logging": "Log level, format and optional per-component log files.",
}

MEANING: dict[str, str] = {
    "device_id": "This box's name in topics (`lightbox/<device_id>/...`) and in Home "
                 "Assistant, and its broker user. `all`, `group` and the broker's service "
                 "users (`lightbox-bridge`, `lightbox-monitor`, `homeassistant`, "
                 "`lightbox-engine`) are reserved.",
    "display.driver": "`auto` uses hzeller's `rgbmatrix` on a Raspberry Pi where it imports, "
                      "else `virtual` (with a log line saying why); `emulator` needs the "
                      "`emulator` extra.",
    "display.rows": "Rows of one panel (`--led-rows`); an even number, as the library needs.",
    "display.cols": "Columns of one panel (`--led-cols`); the library needs at least 16.",
    "display.chain_length": "Panels daisy-chained on one output; width = cols x chain "
                            "before any pixel mapper.",
    "display.parallel": "Parallel chains (1-3; more than 1 needs `regular` or `classic`); "
                        "height = rows x parallel before any pixel mapper.",
    "display.hardware_mapping": "GPIO mapping: `regular` for direct wiring, `adafruit-hat` "
                                "or `adafruit-hat-pwm` for Adafruit's HAT/Bonnet.",
    "display.gpio_slowdown": "Slows GPIO writes for faster Pis; 4 suits a Pi 4 (on a Pi 5 "
                             "with `rp1_rio` true try 2-3).",
    "display.rp1_rio": "Pi 5 only (`--led-rp1-rio`): `false` (the library's default) drives "
                       "the panel from the RP1's PIO (`/dev/pio0`, very little CPU); `true` "
                       "writes the RP1's registered I/O from the CPU (`/dev/gpiomem0`; more "
                       "CPU, faster refresh). Ignored on a Pi 3 or 4.",
    "display.pwm_bits": "Colour depth per channel (1-11); fewer bits, higher refresh.",
    "display.pwm_lsb_nanoseconds": "Base time of the lowest PWM bit; higher is less "
                                   "ghosting, lower refresh.",
    "display.pwm_dither_bits": "Time-dithering of the lowest bits (0-2).",
    "display.scan_mode": "0 progressive, 1 interlaced.",
    "display.row_address_type": "Row addressing: 0 default, 1 AB-addressed, 2 direct row "
                                "select, 3 ABC-addressed, 4 ABC shift + DE direct.",
    "display.multiplexing": "Outdoor panel multiplexing scheme (0 none).",
    "display.led_rgb_sequence": "Colour order of the LEDs when red and blue are swapped.",
    "display.pixel_mapper_config": "hzeller pixel mappers, `Name[:param]` joined by `;`, "
                                   "e.g. `U-mapper;Rotate:90`: `Rotate:<multiple of 90>`, "
                                   "`Mirror:H`/`V`, `U-mapper` (even chain of 2 or more), "
                                   "`V-mapper[:Z]`, `StackToRow[:ZF]`, "
                                   "`Remap:W,H\\|x,yD\\|...` (one tile per panel). The "
                                   "drawn size follows the mappers: `U-mapper` halves the "
                                   "width and doubles the height, `Rotate:90` swaps them.",
    "display.panel_type": "Panel initialisation: empty (most panels), `FM6126A` or "
                          "`FM6127`.",
    "display.limit_refresh_rate_hz": "Cap the refresh rate for steadier timing (0 = no cap).",
    "display.disable_hardware_pulsing": "Use software pulsing (needed while the sound module "
                                        "is loaded; flickers more).",
    "display.show_refresh_rate": "Print the refresh rate to the log (diagnostics).",
    "display.brightness": "Panel brightness at boot, percent.",
    "display.fps": "Frames per second the render loop draws.",
    "display.drop_privileges": "Let the LED library drop root after opening the GPIO.",
    "display.drop_priv_user": "User the LED library drops to.",
    "display.drop_priv_group": "Group the LED library drops to.",
    "display.retry_initial_s": "First retry delay after a display failure; doubles each time.",
    "display.retry_max_s": "Longest retry delay after display failures.",
    "animation.default": "Animation shown on first boot (and when `boot` is `default`).",
    "animation.fallback": "Safe built-in that takes over within a frame when an animation "
                          "fails; `blank` backs it up.",
    "animation.params": "Per-animation parameter defaults, e.g. "
                        "`{\"plasma\": {\"speed\": 2}}`; validated against the catalogue.",
    "animation.boot": "What shows after a restart or power cut: `last` (the look, power, "
                      "brightness and playlist position from before), `default` (the "
                      "`default` animation), `off` (panel OFF, the default look), "
                      "`preset:NAME` or `playlist:NAME` (a name that no longer exists falls "
                      "back to `default` with a warning).",
    "animation.quarantine_failures": "Failures within the window that quarantine an "
                                     "animation.",
    "animation.quarantine_window_s": "Window for counting failures.",
    "animation.quarantine_s": "How long a quarantined animation rests before a retry.",
    "animation.hang_budget_frames": "Frames an animation may take for one draw before it "
                                    "counts as hung and the fallback takes over.",
    "animation.isolation": "Which animations draw in a watchdog thread that can be "
                           "abandoned when hung: `untrusted` (not built in), `all`, `none`.",
    "animation.leak_mb": "Memory growth attributed to one animation before it is treated as "
                         "failing (0 = off).",
    "mqtt.host": "Broker host: a host name or an IP address.",
    "mqtt.port": "Broker port (8883 for TLS).",
    "mqtt.username": "This box's own broker user: its `device_id` in the project's ACL, "
                     "which lets it speak for this box alone.",
    "mqtt.password_file": "File whose first line is the broker password.",
    "mqtt.tls": "TLS settings, or `null` for none.",
    "mqtt.tls.ca_file": "CA certificate that signed the broker's certificate.",
    "mqtt.tls.cert_file": "Client certificate, when the broker asks for one.",
    "mqtt.tls.key_file": "Client key, when the broker asks for a certificate.",
    "mqtt.tls.insecure": "Skip host-name verification (testing only).",
    "mqtt.base_topic": "First topic level of every LightBox topic.",
    "mqtt.discovery_prefix": "Home Assistant's discovery prefix.",
    "mqtt.discovery": "Announce the box to Home Assistant.",
    "mqtt.groups": "Groups this box belongs to: it obeys `lightbox/group/<name>/...`.",
    "mqtt.keepalive_s": "MQTT keep-alive; the Last Will fires after 1.5 x this at most.",
    "mqtt.client_id": "MQTT client id (default `lightbox-<device_id>`): 1-64 letters, "
                      "digits, `.`, `_`, `-`.",
    "mqtt.reconnect_min_s": "First reconnect delay; doubles up to `reconnect_max_s`.",
    "mqtt.reconnect_max_s": "Longest reconnect delay.",
    "mqtt.max_queued_messages": "Outgoing messages kept while the broker is away; older "
                                "ones are dropped and counted.",
    "mqtt.auth_retry_s": "Delay between attempts after the broker refused the credentials.",
    "bridge.host": "Address the web bridge listens on (an IP address or host name).",
    "bridge.port": "Port of the web UI and HTTP API.",
    "bridge.auth_token_file": "File holding the bearer token required for writes; unset = "
                              "no auth (development only).",
    "bridge.mqtt_username": "Broker user of the bridge (`lightbox-bridge`).",
    "bridge.mqtt_password_file": "File whose first line is the bridge's broker password.",
    "bridge.threads": "WSGI worker threads (waitress).",
    "bridge.rate_limit_reads": "Per-client limit for reads, e.g. `50 per second`, "
                               "`100/minute` or several joined by `;`; at least 1 per "
                               "second.",
    "bridge.rate_limit_writes": "Per-client limit for commands and settings changes; at "
                                "least 1 per second.",
    "bridge.rate_limit_uploads": "Per-client limit for image uploads; at least 1 per minute.",
    "bridge.rate_limit_login": "Per-client limit for login attempts; at least 1 per minute.",
    "bridge.upload_max_bytes": "Largest accepted upload (413 above).",
    "bridge.upload_max_pixels": "Largest accepted area of every frame, whatever the header "
                                "says (422 above; a JPEG counts at its 1/2..1/8 decode "
                                "size); all frames together may decode 4 times this. A "
                                "decode takes up to ~12 bytes a pixel: mind MemoryMax.",
    "bridge.upload_max_frames": "Most frames accepted from an animated GIF or PNG.",
    "bridge.images_dir": "Where uploaded images are stored (default: the state directory).",
    "bridge.images_max_count": "Most images kept in the images folder; uploads beyond are "
                               "refused (507 `images_full`).",
    "bridge.images_max_mb": "Most megabytes (MiB) the images folder may hold, all files "
                            "counted; uploads beyond are refused (507 `images_full`).",
    "bridge.command_timeout_s": "How long the bridge waits for the engine's reply (504 "
                                "after).",
    "bridge.sse_max_clients": "Concurrent live-update streams; each holds one thread.",
    "bridge.sse_queue_size": "Messages buffered per stream before the oldest are dropped.",
    "bridge.sse_max_age_s": "A stream is closed after this long; browsers reconnect.",
    "bridge.preview_fps": "Frame rate of the live preview.",
    "bridge.allowed_origins": "Extra origins allowed to write (e.g. behind a reverse proxy), "
                              "each `scheme://host[:port]`, e.g. "
                              "`https://lightbox.example:8443`.",
    "bridge.allowed_hosts": "Extra host names the bridge answers to (`lightbox.lan`, "
                            "`*.home.arpa`). IP addresses, `localhost` and the box's own "
                            "name (also as `<name>.local` and under the search domains "
                            "of /etc/resolv.conf) always work; other names get 400 "
                            "`host_not_allowed` (against DNS rebinding).",
    "bridge.trusted_proxy": "Address of a reverse proxy (or `*`) whose X-Forwarded-Proto, "
                            "-For, -Host and -Port headers are believed; unset = ignored.",
    "bridge.connection_limit": "Open connections at most; at the limit the ones that have "
                               "waited longest without a complete request are closed.",
    "bridge.header_timeout_s": "A client must send a request's headers within this time.",
    "bridge.request_timeout_s": "A client must send a whole request (with its body, e.g. an "
                                "upload) within this time.",
    "bridge.idle_timeout_s": "An idle keep-alive connection is closed after this long.",
    "bridge.max_header_bytes": "Largest request line plus headers (431 above).",
    "bridge.session_max_age_s": "Lifetime of a login session (the UI's cookie).",
    "bridge.session_max": "Login sessions kept at once; the oldest is dropped beyond.",
    "health.interval_s": "Health is published on every change and at least this often.",
    "health.metrics_interval_s": "Metrics publishing interval.",
    "health.fps_degraded_ratio": "Render is degraded below this share of the target fps.",
    "health.stall_s": "Render has failed when no frame was drawn for this long.",
    "health.temp_degraded_c": "CPU temperature that degrades health.",
    "health.temp_failed_c": "CPU temperature that fails health.",
    "health.rss_degraded_mb": "Engine memory that degrades health.",
    "health.rss_limit_mb": "The service memory limit (MemoryMax), for the report.",
    "health.cpu_quota_pct": "The service CPU quota; 90 % of it degrades health.",
    "health.disk_degraded_mb": "Free space in the state directory below which health "
                               "degrades.",
    "health.events_per_minute": "Events published per minute at most; the rest are counted "
                                "as suppressed.",
    "logging.level": "Log level.",
    "logging.format": "`auto`: JSON lines when not on a terminal (journald), readable "
                      "console on a TTY.",
    "logging.dir": "Optional folder for `engine.log`, `mqtt.log`, `bridge.log`, "
                   "`access.log` (rotated by `deploy/logrotate/lightbox`).",
}


def _model_of(annotation: Any) -> type[BaseModel] | None:
    models = [a for a in (annotation, *typing.get_args(annotation))
              if isinstance(a, type) and issubclass(a, BaseModel)]
    # One of several shapes (schedule.action) is one setting, described as a whole.
    return models[0] if len(models) == 1 else None


_NAMES: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean",
                          Path: "path", type(None): "null", Any: "any"}


def _type_name(ann: Any) -> str:
    """A reader's name for a type: `string or null`, `list of string`, `one of `a`, `b``."""
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{_json(a)}`" if not isinstance(a, str) else f"`{a}`"
                                     for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(dict.fromkeys(_type_name(a) for a in args))
    if origin is list:
        return "list of " + _type_name(args[0])
    if origin is dict:
        return "object"
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "object"
    return _NAMES.get(ann, getattr(ann, "__name__", str(ann)))


def _type_text(field: FieldInfo) -> str:
    bounds = []
    for m in field.metadata:
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if getattr(m, attr, None) is not None:
                bounds.append(f"{sym} {getattr(m, attr)}")
    text = _type_name(field.annotation) + (f" ({', '.join(bounds)})" if bounds else "")
    return _cell(text)


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: a pipe would end the cell."""
    return re.sub(r"(?<!\\)\|", r"\\|", text)


def fields(model: type[BaseModel] = Settings, prefix: str = ""
           ) -> list[tuple[str, FieldInfo, type[BaseModel] | None]]:
    """Return (dotted path, field, sub-model) for every setting, depth first."""
    out = []
    for name, f in model.model_fields.items():
        path = prefix + name
        sub = _model_of(f.annotation)
        out.append((path, f, sub))
        if sub is not None:
            out.extend(fields(sub, path + "."))
    return out


# The page's opening, before the per-key sections that render() generates.
_INTRO: tuple[str, ...] = (
    "# Settings reference",
    "",
    "<!-- Generated by `python -m appliance.settings.doc > docs/settings.md`;",
    "     tests/unit/test_docs.py fails when it is out of date. -->",
    "",
    "LightBox reads one JSON file: `--settings PATH`, else `$LIGHTBOX_SETTINGS`, else",
    "`./settings.json` (the installer uses `/etc/lightbox/settings.json`). Every key is",
    "optional: `{}` is a valid file for `lightbox dev`. Unknown keys are an error naming",
    "the key, so a typo never passes silently; so is a key given twice. The JSON",
    "limits of the MQTT API hold here too (nesting, number range, no `NaN`).",
    "",
    "Check a file before using it:",
    "",
    "```sh",
    "lightbox check-config /etc/lightbox/settings.json   # exit 0 valid, 78 invalid",
    "```",
    "",
    "It prints one `dotted.path: message` line per problem, for example",
    "`display.rows: Input should be greater than or equal to 8`.",
    "",
    "Secrets never live in the file: it names files that hold them",
    "(`mqtt.password_file`, `bridge.mqtt_password_file`, `bridge.auth_token_file`).",
    "",
    "Strings with a grammar are checked like numbers: a rate limit must parse (and be",
    "no slower than 1 per second for reads and writes, 1 per minute for uploads and",
    "logins, so that no setting can lock a person out), an origin is",
    "`scheme://host[:port]`, hosts are host names or IP addresses, and",
    "`display.pixel_mapper_config` and `display.panel_type` must be something hzeller's",
    "library understands. A value the running code could not use is refused with its",
    "dotted path.",
    "",
    "**Local only** marks the settings that change only by editing this file on the box",
    "(then `cmd/reload` or a restart): every key ending in `_file` or `_dir`,",
    "`logging.dir`, everything under `mqtt.tls`, where the box connects, its name, whom",
    "it trusts and as whom it runs. `cmd/config` and `PATCH /api/config` refuse a",
    "change of one with `forbidden_field` (HTTP 403) and change nothing; naming one",
    "with the value in force is no change and passes. A restore (`POST",
    "/api/config/restore`, or `cmd/config` with `\"replace\": true`) keeps the values",
    "in force and lists them under `kept`. A change that changes nothing writes no",
    "backup and no change-log row.",
    "",
    "Changes arrive three ways, all validated completely before anything is written:",
    "`cmd/config` over MQTT, `PATCH /api/config` over HTTP, or editing the file and",
    "sending `cmd/reload` (or `systemctl reload`/SIGHUP). Each accepted change is written",
    "atomically, the previous file is kept in `backups/` beside it (the newest 10), and",
    "`backups/changes.jsonl` logs who changed what. If the file is invalid at start-up",
    "the engine runs from the newest valid backup and reports `config` degraded; with",
    "no usable backup it exits with status 78 and systemd stops restarting it.",
    "",
    "A minimal file for a 64x32 panel on an Adafruit HAT:",
    "",
    "```json",
    "{",
    '  "device_id": "kitchen",',
    '  "display": {"rows": 32, "cols": 64, "hardware_mapping": "adafruit-hat"},',
    '  "mqtt": {"username": "kitchen",',
    '           "password_file": "/etc/lightbox/secrets/mqtt-engine.password"}',
    "}",
    "```",
)


def render() -> str:
    """Return docs/settings.md."""
    lines = list(_INTRO)
    for name, f in Settings.model_fields.items():
        sub = _model_of(f.annotation)
        if sub is not None:
            lines += _section(name, sub)
            continue
        lines += ["", f"## `{name}`", "", MEANING.get(name, "") + _local(name), ""]
        default = ("derived from the host name" if f.default_factory is not None
                   else f"`{_json(f.default)}`")
        lines += [f"Type: {_type_name(f.annotation)}. Default: {default}."]
    return "\n".join(lines) + "\n"


def _section(path: str, model: type[BaseModel]) -> list[str]:
    """One `## path` heading and the table of that model's own keys; nested models
    get a row here and their own section after this one."""
    lines = ["", f"## `{path}`", "", SECTIONS.get(path, MEANING.get(path, "")), "",
             "| key | type | default | meaning |", "|---|---|---|---|"]
    nested = []
    for name, f in model.model_fields.items():
        key = f"{path}.{name}"
        sub = _model_of(f.annotation)
        meaning = MEANING.get(key, "")
        if sub is not None:
            nested.append((key, sub))
            meaning += f" See [`{key}`](#{key.replace('.', '')})."
        default = ("required" if f.is_required()
                   else f"`{_cell(_json(f.get_default(call_default_factory=True)))}`")
        lines.append(f"| `{key}` | {_type_text(f)} | {default} | "
                     f"{_cell(meaning + _local(key))} |")
    for key, sub in nested:
        lines += _section(key, sub)
    return lines


def _local(path: str) -> str:
    return " **Local only.**" if is_local_only(path) else ""


def _json(value: Any) -> str:
    import json

    return json.dumps(value, default=str)


SECTIONS |= SECTIONS_EXTRA
MEANING |= MEANING_EXTRA


def undocumented() -> list[str]:
    """Return settings without a description (a test keeps this empty)."""
    return [p for p, _, sub in fields() if sub is None and p not in MEANING]


if __name__ == "__main__":
    print(render(), end="")
