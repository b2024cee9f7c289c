#!/usr/bin/env bash
# Install this texstudio bundle for the current user (or system-wide with sudo and
# PREFIX=/usr/local): the folder goes to $PREFIX/lib/texstudio, a `texstudio` command to
# $PREFIX/bin, the desktop entry and icon to $PREFIX/share. Run from the unpacked archive:
#
#   ./install.sh              # PREFIX defaults to ~/.local
#   ./install.sh --uninstall
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
PREFIX="${PREFIX:-$HOME/.local}"
APPDIR="$PREFIX/lib/texstudio"
BIN="$PREFIX/bin/texstudio"
DESKTOP="$PREFIX/share/applications/texstudio.desktop"
ICON="$PREFIX/share/icons/hicolor/256x256/apps/texstudio.png"

refresh_menus() {
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$PREFIX/share/applications" || true
  command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$PREFIX/share/icons/hicolor" || true
}

if [ "${1:-}" = "--uninstall" ]; then
  rm -rf "$APPDIR"
  rm -f "$BIN" "$DESKTOP" "$ICON"
  refresh_menus
  echo "texstudio removed from $PREFIX (your settings, weights and models are kept)"
  exit 0
fi

if [ ! -x "$HERE/texstudio" ] || [ ! -d "$HERE/_internal" ]; then
  echo "install.sh: run me from the unpacked texstudio folder" >&2
  exit 2
fi
if [ "$HERE" != "$APPDIR" ]; then
  rm -rf "$APPDIR.new"
  mkdir -p "$(dirname "$APPDIR")"
  cp -a "$HERE" "$APPDIR.new"
  rm -rf "$APPDIR"
  mv "$APPDIR.new" "$APPDIR"
fi
mkdir -p "$(dirname "$BIN")" "$(dirname "$DESKTOP")" "$(dirname "$ICON")"
ln -sf "$APPDIR/texstudio" "$BIN"
cp "$APPDIR/texstudio.png" "$ICON"
sed "s|^Exec=.*|Exec=\"$APPDIR/texstudio\"|" "$APPDIR/texstudio.desktop" > "$DESKTOP"
chmod 644 "$DESKTOP"
refresh_menus
echo "texstudio installed in $APPDIR"
echo "  start it from the applications menu, or run: $BIN"
case ":$PATH:" in *":$PREFIX/bin:"*) ;; *) echo "  ($PREFIX/bin is not on your PATH)";; esac
