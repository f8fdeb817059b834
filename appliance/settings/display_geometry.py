"""The panel geometry LightBox draws: hzeller's chains, parallel chains and pixel mappers.

Owns one pure computation, mirrored from the vendored library (lib/pixel-mapper.cc,
``GetSizeMapping`` of each mapper, applied left to right as
``RGBMatrix::Impl::ApplyNamedPixelMappers`` does): the physical canvas is
``cols x chain_length`` wide and ``rows x parallel`` high, and each mapper in
``pixel_mapper_config`` turns the size before it into the size after it. An entry the
library would not accept changes nothing, as in the library (it prints and goes on);
the settings grammar refuses such entries anyway. Knows no files, displays or hardware.
"""

from __future__ import annotations

import re

__all__ = ["mapped_size", "mapper_entries", "physical_size"]

_REMAP_SIZE = re.compile(r"^(\d+),(\d+)\|")


def physical_size(cols: int, rows: int, chain: int, parallel: int) -> tuple[int, int]:
    """The chained panels before any mapper: (cols x chain, rows x parallel)."""
    return cols * chain, rows * parallel


def mapper_entries(config: str) -> list[tuple[str, str]]:
    """Split ``Name[:param];...`` into (lower-case name, parameter) pairs, as the library."""
    out = []
    for entry in config.split(";"):
        name, _, param = entry.partition(":")
        if name:
            out.append((name.lower(), param))
    return out


def _step(name: str, param: str, size: tuple[int, int], chain: int,
          parallel: int) -> tuple[int, int]:
    """One mapper's ``GetSizeMapping``; an entry the library refuses changes nothing."""
    w, h = size
    match name:
        case "rotate":
            angle = int(param) if re.fullmatch(r"[+-]?\d+", param) else 0
            return (h, w) if angle % 180 else (w, h)
        case "u-mapper":
            if chain < 2 or chain % 2:
                return size  # SetParameters refuses: the library skips the mapper
            return (w // 64) * 32, 2 * h  # the library divides at a 32-pixel boundary
        case "v-mapper":
            return w * parallel // chain, h * chain // parallel
        case "stacktorow":
            return w * parallel, h // parallel
        case "remap":
            m = _REMAP_SIZE.match(param)
            return (int(m[1]), int(m[2])) if m else size
    return size  # Mirror, and names the library does not know


def mapped_size(cols: int, rows: int, chain: int, parallel: int,
                config: str) -> tuple[int, int]:
    """The (width, height) the library's canvas has after the pixel mappers."""
    size = physical_size(cols, rows, chain, parallel)
    for name, param in mapper_entries(config):
        size = _step(name, param, size, chain, parallel)
    return size
