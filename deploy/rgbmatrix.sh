#!/usr/bin/env bash
# Build hzeller's rgbmatrix Python binding into LightBox's virtual environment, from the
# source LightBox is tested against (the same on a Pi 3, 4 and 5).
#
#   deploy/rgbmatrix.sh VENV [--mode auto|build|skip] [--lightbox-src DIR]
#                            [--source DIR] [--work DIR] [--wheels DIR] [--wheel-cache DIR]
#
# Source: --source DIR, else a vendored copy (LIGHTBOX_SRC/vendor/rpi-rgb-led-matrix or
# LIGHTBOX_SRC/../shared/vendor/rpi-rgb-led-matrix), else the public repository at
# RGBMATRIX_COMMIT cloned into --work (default /opt/lightbox/rgbmatrix-src).
# --mode auto (default) builds only on a Raspberry Pi (device-tree model); build always;
# skip never. Idempotent: a stamp in VENV records what was built; when it matches and
# `import rgbmatrix` works (with the Pi 5's rp1_rio option) nothing is done.
# The binding's Pillow shim (shims/pillow.c) includes Pillow's C header Imaging.h, which no
# wheel ships: it comes from the sdist of the venv's own Pillow version (--wheels DIR, else
# PyPI), so the struct it reads matches the Pillow it runs with. libpythonX.Y, which the
# extension links, is marked manually installed so `apt autoremove` keeps it.
# --wheel-cache DIR (or $RGBMATRIX_WHEEL_CACHE) keeps the built wheel (keyed by source,
# Pillow, Python and machine) and installs it instead of building again (the arm64 test
# tier uses it, for its own venv and for install.sh's).
# Exit status: 0 nothing changed, 3 built (the engine should restart), other: failed.
# install.sh calls this; tests/unit/test_rgbmatrix_install.py runs it with fake tools.
set -euo pipefail

RGBMATRIX_COMMIT=cf60d08f9b77c7216a51964602f8d9fc6d96d7c7
RGBMATRIX_REPO=${RGBMATRIX_REPO:-https://github.com/hzeller/rpi-rgb-led-matrix}
# Test hook: a fake root for /proc/device-tree/model.
HOST_ROOT=${LIGHTBOX_HOST_ROOT:-}
BUILD_PACKAGES=(build-essential cmake python3-dev)

die() { echo "rgbmatrix.sh: $*" >&2; exit 1; }
note() { echo "  - $1"; }

[ $# -ge 1 ] || die "usage: $0 VENV [--mode auto|build|skip] [--lightbox-src DIR] [--source DIR] [--work DIR] [--wheels DIR]"
VENV=$1; shift
MODE=auto
LBSRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SOURCE=""
WORK=/opt/lightbox/rgbmatrix-src
WHEELS=""
WHEEL_CACHE=${RGBMATRIX_WHEEL_CACHE:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --mode) MODE="$2"; shift 2 ;;
    --lightbox-src) LBSRC="$2"; shift 2 ;;
    --source) SOURCE="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --wheels) WHEELS="$2"; shift 2 ;;
    --wheel-cache) WHEEL_CACHE="$2"; shift 2 ;;
    *) die "unknown option $1" ;;
  esac
done
case "$MODE" in auto|build|skip) ;; *) die "--mode is auto, build or skip, not $MODE" ;; esac

is_library() { [ -f "$1/CMakeLists.txt" ] && [ -f "$1/bindings/python/rgbmatrix/core.pyx" ]; }

# find_vendored -- print the first vendored copy of the library, or nothing.
find_vendored() {
  local c
  for c in "$SOURCE" "$LBSRC/vendor/rpi-rgb-led-matrix" "$LBSRC/../shared/vendor/rpi-rgb-led-matrix"; do
    if [ -n "$c" ] && is_library "$c"; then (cd "$c" && pwd); return 0; fi
  done
  [ -z "$SOURCE" ] || die "--source $SOURCE is not the rpi-rgb-led-matrix source"
}

# tree_key DIR -- a fingerprint of a source folder (what the stamp compares).
tree_key() {
  (cd "$1" && find . -type f -not -path './.git/*' -not -path './build/*' -not -path './build-pillow-include/*' \
       -not -name '*.cpp' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}

# clone_pinned -- the public repository at the pinned commit in $WORK (kept for reruns).
clone_pinned() {
  if [ -d "$WORK/.git" ] && [ "$(git -C "$WORK" rev-parse HEAD 2>/dev/null)" = "$RGBMATRIX_COMMIT" ]; then
    return 0
  fi
  rm -rf "$WORK"
  mkdir -p "$WORK"
  git -C "$WORK" init -q
  git -C "$WORK" fetch -q --depth 1 "$RGBMATRIX_REPO" "$RGBMATRIX_COMMIT"
  git -C "$WORK" checkout -q FETCH_HEAD
  [ "$(git -C "$WORK" rev-parse HEAD)" = "$RGBMATRIX_COMMIT" ] || die "could not check out $RGBMATRIX_COMMIT"
}

# works -- the venv imports rgbmatrix, and it is a build with the Pi 5 (rp1_rio) support.
works() {
  "$VENV/bin/python" -c 'import rgbmatrix; rgbmatrix.RGBMatrixOptions.rp1_rio' >/dev/null 2>&1
}

# pillow_headers DEST -- Pillow's C headers at the venv's Pillow version, into DEST.
pillow_headers() {
  local dest=$1 ver sdist tmp
  ver=$("$VENV/bin/python" -c 'import PIL; print(PIL.__version__)' 2>/dev/null) \
    || die "the venv $VENV has no Pillow: install LightBox into it first"
  tmp=$(mktemp -d)
  sdist=""
  if [ -n "$WHEELS" ]; then
    sdist=$(find "$WHEELS" -maxdepth 1 -iname "pillow-$ver.tar.gz" | head -n 1)
  fi
  if [ -z "$sdist" ]; then
    "$VENV/bin/python" -m pip download "${pip_opts[@]}" --no-deps --no-binary=:all: \
      -d "$tmp" "pillow==$ver" >&2 || die "could not download the Pillow $ver sdist (its C headers)"
    sdist=$(find "$tmp" -maxdepth 1 -iname "pillow-*.tar.gz" | head -n 1)
  fi
  [ -n "$sdist" ] || die "no Pillow $ver sdist found (its C headers)"
  rm -rf "$dest"
  mkdir -p "$dest"
  tar -xzf "$sdist" -C "$tmp" --wildcards '*/src/libImaging/*.h'
  find "$tmp" -path '*/src/libImaging/*.h' -exec cp {} "$dest/" \;
  rm -rf "$tmp"
  [ -f "$dest/Imaging.h" ] || die "the Pillow $ver sdist has no src/libImaging/Imaging.h"
  PILLOW_VERSION=$ver
}

install_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  echo "  + packages: ${missing[*]}"
}

model=$( { tr -d '\0' < "$HOST_ROOT/proc/device-tree/model"; } 2>/dev/null || true)
if [ "$MODE" = skip ]; then
  note "rgbmatrix: --rgbmatrix skip: not built"; exit 0
fi
if [ "$MODE" = auto ] && [[ "$model" != *"Raspberry Pi"* ]]; then
  note "rgbmatrix: not a Raspberry Pi (${model:-no device-tree model}): not built (--rgbmatrix build to force)"
  exit 0
fi

dir=$(find_vendored)
if [ -n "$dir" ]; then
  key="vendored:$(tree_key "$dir")"
  from="the vendored copy in $dir"
else
  key="git:$RGBMATRIX_COMMIT"
  from="$RGBMATRIX_REPO at ${RGBMATRIX_COMMIT:0:12}"
fi
stamp="$VENV/.rgbmatrix-build"
if [ "$(cat "$stamp" 2>/dev/null)" = "$key" ] && works; then
  note "rgbmatrix: already built from $from"
  exit 0
fi
if [ -z "$dir" ]; then
  install_packages git ca-certificates
  clone_pinned
  dir=$WORK
elif [ "$dir" != "$WORK" ]; then
  # The build writes core.cpp next to core.pyx: build a writable copy, never the original.
  rm -rf "$WORK"
  mkdir -p "$(dirname "$WORK")"
  cp -R "$dir" "$WORK"
  chmod -R u+w "$WORK"
  dir=$WORK
fi
pyver=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null \
  || echo 3)
libpython="libpython$pyver"
install_packages "${BUILD_PACKAGES[@]}" "$libpython"
# The extension links libpythonX.Y: keep it when the build tools are autoremoved.
apt-mark manual "$libpython" >/dev/null 2>&1 || true
pip_opts=(-q --disable-pip-version-check)
[ -n "$WHEELS" ] && pip_opts+=(--no-index --find-links "$WHEELS")
PILLOW_VERSION=""
pillow_headers "$dir/build-pillow-include"
export CPATH="$dir/build-pillow-include${CPATH:+:$CPATH}"
if [ -n "$WHEEL_CACHE" ]; then
  cached="$WHEEL_CACHE/$(echo "$key pillow-$PILLOW_VERSION python-$pyver $(uname -m)" | sha256sum | cut -c1-16)"
  if ! find "$cached" -maxdepth 1 -name 'rgbmatrix-*.whl' 2>/dev/null | grep -q .; then
    echo "  . building the rgbmatrix wheel from $from into $cached (a few minutes on a Pi)"
    rm -rf "$cached.tmp"
    "$VENV/bin/python" -m pip wheel "${pip_opts[@]}" --no-deps -w "$cached.tmp" "$dir"
    rm -rf "$cached"
    mv "$cached.tmp" "$cached"
  else
    echo "  . installing the cached rgbmatrix wheel from $cached"
  fi
  "$VENV/bin/python" -m pip install "${pip_opts[@]}" --no-deps --force-reinstall "$cached"/rgbmatrix-*.whl
else
  echo "  . building rgbmatrix from $from (a few minutes on a Pi)"
  "$VENV/bin/python" -m pip install "${pip_opts[@]}" --upgrade "$dir"
fi
works || die "rgbmatrix built from $from but \`import rgbmatrix\` (with rp1_rio) fails in $VENV"
echo "$key" > "$stamp"
echo "  + rgbmatrix built into $VENV from $from"
exit 3
