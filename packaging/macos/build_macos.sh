#!/usr/bin/env bash
# Build texstudio.app and a .dmg on macOS. NOT TESTED HERE (the project's machines run
# Linux); it mirrors packaging/build_linux.sh. See packaging/macos/README.md.
#
#   bash packaging/macos/build_macos.sh [--with-weights] [--no-dmg]
#
# Needs python3 >= 3.10 (python.org or Homebrew) and Xcode's command line tools (hdiutil,
# codesign). Builds for the machine's architecture (arm64 on Apple silicon).
# Output: dist/texstudio.app and dist/texstudio-<version>-macos-<arch>.dmg
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
WITH_WEIGHTS=0
DMG=1
for arg in "$@"; do
  case "$arg" in
    --with-weights) WITH_WEIGHTS=1 ;;
    --no-dmg) DMG=0 ;;
    *) echo "build_macos.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

PYTHON="${PYTHON:-python3}"
VENV=build/venv-macos
VERSION="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' texstudio/__init__.py)"
ARCH="$(uname -m)"

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
# PyPI's macOS torch has no CUDA (it uses the MPS GPU backend): one variant only.
"$VENV/bin/python" -m pip install -q -c constraints.txt -c packaging/build-constraints.txt -e . pyinstaller

# The .icns is made here from the same drawing as the PNG (it is not kept in git).
mkdir -p build/macos
"$VENV/bin/python" scripts/make_icon.py --icns --out-dir build/macos

TEXSTUDIO_VARIANT=default TEXSTUDIO_BUNDLE_WEIGHTS="$WITH_WEIGHTS" TEXSTUDIO_ICNS="$ROOT/build/macos/texstudio.icns" \
  "$VENV/bin/python" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller-macos packaging/texstudio.spec

# PyInstaller signs ad hoc; a distributed app needs a Developer ID signature and
# notarization (see README.md beside this script) or Gatekeeper blocks it.
if [ -n "${CODESIGN_IDENTITY:-}" ]; then
  codesign --force --deep --options runtime --timestamp -s "$CODESIGN_IDENTITY" dist/texstudio.app
fi

dist/texstudio.app/Contents/MacOS/texstudio --version

if [ "$DMG" = 1 ]; then
  STAGE=build/macos/dmg
  rm -rf "$STAGE" && mkdir -p "$STAGE"
  cp -R dist/texstudio.app "$STAGE/"
  ln -s /Applications "$STAGE/Applications"
  hdiutil create -volname "texstudio $VERSION" -srcfolder "$STAGE" -ov -format UDZO \
    "dist/texstudio-$VERSION-macos-$ARCH.dmg"
  rm -rf "$STAGE"
fi
