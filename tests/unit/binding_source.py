"""Read the API of hzeller's Python binding from its vendored Cython source, without building it.

``core.pyx`` declares each ``cdef class`` with its ``def`` methods (argument names,
C types and defaults) and its ``property`` blocks (a ``__get__`` and maybe a ``__set__``
whose argument type is the conversion Cython applies); ``cppinc.pxd`` gives the C type
of each ``Options``/``RuntimeOptions`` field an untyped setter stores into. The vendored
copy is found through ``LIGHTBOX_VENDOR_DIR`` or the ``shared/vendor`` folder beside a
parent of the repository; a missing copy is an error, never a skip.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LIBRARY = "rpi-rgb-led-matrix"


def vendor_dir() -> Path:
    """The vendored library's folder; raise if it is not there."""
    env = os.environ.get("LIGHTBOX_VENDOR_DIR")
    candidates = [Path(env) / LIBRARY] if env else []
    candidates += [p / "shared" / "vendor" / LIBRARY for p in REPO.parents]
    for c in candidates:
        if (c / "bindings/python/rgbmatrix/core.pyx").is_file():
            return c
    raise FileNotFoundError(
        f"the vendored {LIBRARY} is missing (looked in {', '.join(map(str, candidates))}); "
        "set LIGHTBOX_VENDOR_DIR to the folder that holds it")


@dataclass(frozen=True)
class Param:
    """One argument of a ``def``: its name, C type ('' when untyped) and default text."""

    name: str
    ctype: str
    default: str | None


@dataclass
class CClass:
    """One ``cdef class`` of core.pyx."""

    name: str
    base: str | None
    methods: dict[str, list[Param]] = field(default_factory=dict)
    #: property -> setter kind: None (read-only), a C type, 'str' (encodes) or '' (untyped).
    properties: dict[str, str | None] = field(default_factory=dict)
    #: property -> the C field an untyped setter assigns (``__options.x``).
    setter_targets: dict[str, str] = field(default_factory=dict)


_CLASS = re.compile(r"^cdef class (\w+)(?:\((\w+)\))?:", re.M)
_DEF = re.compile(r"^    def (\w+)\((.*?)\):", re.M | re.S)
_PROP = re.compile(r"^    property (\w+):\n((?:        .*\n|\s*\n)*)", re.M)
_SETTER = re.compile(r"def __set__\(self, ([^)]*)\):(.*)", re.S)


def _params(text: str) -> list[Param]:
    out = []
    for raw in (p.strip() for p in " ".join(text.split()).split(",")):
        if not raw or raw == "self":
            continue
        decl, _, default = raw.partition("=")
        words = decl.split()
        out.append(Param(words[-1], " ".join(words[:-1]),
                         default.strip() if default else None))
    return out


def _setter(body: str) -> tuple[str | None, str | None]:
    m = _SETTER.search(body)
    if m is None:
        return None, None
    words = m[1].split()
    if len(words) > 1:
        return words[0], None
    if ".encode(" in m[2]:
        return "str", None
    target = re.search(r"self\.__\w+\.(\w+) = ", m[2])
    return "", target[1] if target else None


def parse_core(text: str) -> dict[str, CClass]:
    """Parse core.pyx into its classes."""
    heads = list(_CLASS.finditer(text))
    out: dict[str, CClass] = {}
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        body = text[head.end():end]
        cls = CClass(head[1], head[2])
        for m in _DEF.finditer(body):
            cls.methods[m[1]] = _params(m[2])
        for m in _PROP.finditer(body):
            kind, target = _setter(m[2])
            cls.properties[m[1]] = kind
            if target:
                cls.setter_targets[m[1]] = target
        out[cls.name] = cls
    return out


def struct_fields(pxd: str) -> dict[str, str]:
    """The C type of every field of the Options and RuntimeOptions structs in cppinc.pxd."""
    out: dict[str, str] = {}
    for block in re.finditer(r"struct (?:Options|RuntimeOptions):\n((?:\s{6,}.*\n|\s*\n)*)",
                             pxd):
        for line in block[1].splitlines():
            m = re.match(r"\s+((?:const )?[\w ]+?\s*\*?)\s*(\w+)\s*$", line)
            if m and "(" not in line:
                out[m[2]] = m[1].replace(" ", "")
    return out


def public_api(cls: CClass, classes: dict[str, CClass]) -> tuple[dict[str, list[Param]],
                                                                  dict[str, str | None]]:
    """Methods (``__cinit__`` as ``__init__``, no ``__dealloc__``) and properties, inherited."""
    methods: dict[str, list[Param]] = {}
    props: dict[str, str | None] = {}
    chain = []
    c: CClass | None = cls
    while c is not None:
        chain.append(c)
        c = classes.get(c.base) if c.base else None
    for c in reversed(chain):
        for name, params in c.methods.items():
            if name == "__dealloc__":
                continue
            methods["__init__" if name == "__cinit__" else name] = params
        props.update(c.properties)
    return methods, props
