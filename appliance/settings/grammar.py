"""The grammars of the settings that are strings: rate limits, origins, host names, MQTT
client ids, user names and hzeller's pixel-mapper and panel-type strings.

Each checker returns the value (normalised where that helps) or raises ValueError with a
message a person can act on; ``appliance.settings`` wires them onto its fields, so a value
the running code could not use is refused at the edge with its dotted path. Knows nothing
of Flask, MQTT or displays: rate limits are read with ``limits``, the parser flask-limiter
itself uses.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from appliance.wire.look_commands import LOOK_NAME

#: The slowest each bridge rate limit may be, as (requests, per seconds): anything slower
#: could lock a person out of the UI, including the change that would undo it.
RATE_FLOORS: dict[str, tuple[int, int]] = {
    "reads": (1, 1),
    "writes": (1, 1),
    "uploads": (1, 60),
    "login": (1, 60),
}
_FLOOR_TEXT = {1: "1 per second", 60: "1 per minute"}
MAX_GRAMMAR_LEN = 256
HOST_LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
#: MQTT client ids: letters, digits, `.`, `_`, `-` (never the topic wildcards), 1-64 long.
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: POSIX-portable user and group names, as useradd accepts them by default.
POSIX_NAME_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
#: Panel initialisations hzeller's library knows ("" = none needed).
PANEL_TYPES = ("", "FM6126A", "FM6127")
#: hzeller's pixel mappers (lib/pixel-mapper.cc), looked up case-insensitively.
PIXEL_MAPPERS = ("Rotate", "Mirror", "U-mapper", "V-mapper", "StackToRow", "Remap")
_REMAP_SIZE_RE = re.compile(r"^\d+,\d+$")
_REMAP_TILE_RE = re.compile(r"^-?\d+,-?\d+[neswxNESWX]$")


def boot_policy(value: str) -> str:
    """``animation.boot``: ``last``, ``default``, ``off``, ``preset:NAME`` or ``playlist:NAME``."""
    kind, sep, name = value.partition(":")
    if (not sep and kind in ("last", "default", "off")) or (
            sep and kind in ("preset", "playlist") and re.match(LOOK_NAME, name)):
        return value
    raise ValueError("expected last, default, off, preset:NAME or playlist:NAME "
                     "(NAME: 1-40 letters, digits, spaces, _ and -)")


def rate_limit(value: str, kind: str) -> str:
    """Check a flask-limiter limit such as ``10 per second`` against the floor of ``kind``."""
    from limits import parse_many

    if len(value) > MAX_GRAMMAR_LEN:
        raise ValueError(f"longer than {MAX_GRAMMAR_LEN} characters")
    try:
        items = parse_many(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a rate limit; write e.g. '10 per second', "
                         "'10/minute' or '10 per second; 100 per minute'") from None
    per_n, per_s = RATE_FLOORS[kind]
    for item in items:
        if item.amount < 1:
            raise ValueError(f"'{item}' allows no request at all, which locks everyone out")
        if item.amount * per_s < per_n * item.get_expiry():
            raise ValueError(f"'{item}' is slower than {_FLOOR_TEXT[per_s]}, which could lock "
                             "a person out; allow at least that")
    return value


def host(value: str) -> str:
    """Check a host name (RFC 1123) or an IPv4/IPv6 address."""
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    labels = value.split(".")
    if not value or len(value) > 253 or not all(HOST_LABEL_RE.match(x) for x in labels) \
            or labels[-1].isdigit():
        raise ValueError(f"{value!r} is neither a host name nor an IP address")
    return value


def origin(value: str) -> str:
    """Check an origin ``scheme://host[:port]`` (http or https); return it lower-cased."""
    text = value.strip().rstrip("/").lower()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError(f"{value!r} is not an origin like https://lightbox.example:8443"
                         ) from None
    hostname = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not hostname or parts.path or parts.query \
            or parts.fragment or "@" in parts.netloc or port == 0:
        raise ValueError(f"{value!r} is not an origin: write scheme://host[:port] "
                         "(http or https, no path), e.g. https://lightbox.example:8443")
    host(hostname)
    return text


def client_id(value: str) -> str:
    """Check an MQTT client id: 1-64 of letters, digits, `.`, `_` and `-`."""
    if not CLIENT_ID_RE.match(value):
        raise ValueError(f"{value!r} is not a usable MQTT client id: 1-64 letters, digits, "
                         "'.', '_' or '-', starting with a letter or digit")
    return value


def posix_name(value: str) -> str:
    """Check a user or group name."""
    if not POSIX_NAME_RE.match(value):
        raise ValueError(f"{value!r} is not a user or group name (lower case, digits, "
                         "'_' and '-', up to 32)")
    return value


def panel_type(value: str) -> str:
    """Check a panel initialisation name; return it upper-cased."""
    if value.upper() not in PANEL_TYPES:
        raise ValueError(f"{value!r} is not a panel type; use one of "
                         f"{', '.join(repr(p) for p in PANEL_TYPES)}")
    return value.upper()


def pixel_mappers(value: str, chain: int, parallel: int) -> str | None:
    """Return what is wrong with a ``Name[:param];...`` mapper string, or None."""
    if len(value) > MAX_GRAMMAR_LEN:
        return f"longer than {MAX_GRAMMAR_LEN} characters"
    known = {m.lower(): m for m in PIXEL_MAPPERS}
    for entry in filter(None, value.split(";")):
        name, _, param = entry.partition(":")
        mapper = known.get(name.lower())
        if mapper is None:
            return (f"unknown pixel mapper {name!r} in {entry!r}; use one of "
                    f"{', '.join(PIXEL_MAPPERS)}, e.g. 'U-mapper;Rotate:90'")
        problem = _mapper_param(mapper, param, chain, parallel)
        if problem:
            return f"{entry!r}: {problem}"
    return None


def _mapper_param(mapper: str, param: str, chain: int, parallel: int) -> str | None:
    match mapper:
        case "Rotate":
            return _rotate_param(param)
        case "Mirror":
            if param not in ("", "H", "h", "V", "v"):
                return "the parameter is H or V"
        case "U-mapper":
            return _u_mapper_param(param, chain)
        case "V-mapper":
            if param.upper() not in ("", "Z"):
                return "the only parameter is Z"
        case "StackToRow":
            if set(param) - set("ZzFf, "):
                return "the parameters are Z and/or F"
        case "Remap":
            return _remap_param(param, chain * parallel)
    return None


def _rotate_param(param: str) -> str | None:
    if param and not (re.fullmatch(r"[+-]?\d{1,4}", param) and int(param) % 90 == 0):
        return "the angle must be a multiple of 90, e.g. Rotate:90"
    return None


def _u_mapper_param(param: str, chain: int) -> str | None:
    if param:
        return "U-mapper takes no parameter"
    if chain < 2 or chain % 2:
        return f"needs an even display.chain_length of at least 2 (it is {chain})"
    return None


def _remap_param(param: str, panels: int) -> str | None:
    size, _, rest = param.partition("|")
    tiles = rest.split("|") if rest else []
    if not _REMAP_SIZE_RE.match(size) or not all(_REMAP_TILE_RE.match(t) for t in tiles):
        return "write Remap:W,H|x,yD|... with D one of n, e, s, w, x"
    if len(tiles) != panels:
        return (f"needs one tile per panel: {panels} (chain_length x parallel), "
                f"got {len(tiles)}")
    return None
