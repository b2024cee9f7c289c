#!/usr/bin/env bash
# Build the Linux one-folder bundle and its archive from this checkout.
#
#   bash packaging/build_linux.sh [--variant default|cpu] [--with-weights] [--no-archive] [--clean]
#
# default: the torch wheel from PyPI, which on Linux carries CUDA 13 (its NVIDIA libraries
#          are bundled; it runs on CPU too)
#          -> dist/texstudio/ and dist/texstudio-<version>-linux-x86_64.tar.xz
# cpu:     a CPU-only torch + torchvision pair (packaging/constraints-cpu.txt) from
#          $TEXSTUDIO_TORCH_CPU_INDEX (default: PyTorch's CPU wheel index); no CUDA, no triton
#          -> dist/texstudio-cpu/ and dist/texstudio-<version>-linux-x86_64-cpu.tar.xz
# --with-weights  also ship the weights files found in weights/ (e.g. the ImageNet VGG19)
# --clean         start from a new build venv and PyInstaller work folder
#
# Everything is built in its own venv, build/venv-<variant>, from this checkout with the
# project's constraints.txt, so the machine's other Python installs do not matter. Needs
# python3 >= 3.10 with venv, tar and xz. Environment: PYTHON (default python3),
# XZ_OPT (default "-T0 -1": on the CUDA libraries level 1 is 4x faster than level 3 for a
# file ~7% larger; use "-T0 -6" or more for a release).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

VARIANT=default
WITH_WEIGHTS=0
ARCHIVE=1
CLEAN=0
while [ $# -gt 0 ]; do
  case "$1" in
    --variant) VARIANT="$2"; shift 2 ;;
    --variant=*) VARIANT="${1#*=}"; shift ;;
    --with-weights) WITH_WEIGHTS=1; shift ;;
    --no-archive) ARCHIVE=0; shift ;;
    --clean) CLEAN=1; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build_linux.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$VARIANT" in default|cpu) ;; *) echo "build_linux.sh: --variant must be default or cpu" >&2; exit 2 ;; esac

PYTHON="${PYTHON:-python3}"
VENV="build/venv-$VARIANT"
WORK="build/pyinstaller-$VARIANT"
NAME=texstudio; [ "$VARIANT" = cpu ] && NAME=texstudio-cpu
VERSION="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' texstudio/__init__.py)"
ARCH="$(uname -m)"
SUFFIX=""; [ "$VARIANT" = cpu ] && SUFFIX="-cpu"
ARCHIVE_PATH="dist/texstudio-$VERSION-linux-$ARCH$SUFFIX.tar.xz"
START=$(date +%s)
step() { echo "== [$(( $(date +%s) - START ))s] $*"; }

if [ "$CLEAN" = 1 ]; then
  step "removing $VENV $WORK dist/$NAME"
  rm -rf "$VENV" "$WORK" "dist/$NAME"
fi

# --- 1. the build venv ----------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  step "creating $VENV with $("$PYTHON" --version)"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
# pip install, without the machine-wide notes about index folders that lack a package.
pip_install() {
  "$PY" -m pip install --disable-pip-version-check -q "$@" 2>&1 \
    | { grep -v "^WARNING: Location '.*' is ignored" || true; }
}
if [ "$VARIANT" = cpu ]; then
  CPU_INDEX="${TEXSTUDIO_TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"
  step "installing a CPU-only torch/torchvision pair (packaging/constraints-cpu.txt) from $CPU_INDEX"
  if ! pip_install --extra-index-url "$CPU_INDEX" -c constraints.txt -c packaging/constraints-cpu.txt \
      torch torchvision; then
    echo "build_linux.sh: no CPU-only torch/torchvision pair matching packaging/constraints-cpu.txt" \
         "could be installed from the configured indexes or $CPU_INDEX." >&2
    echo "  Set TEXSTUDIO_TORCH_CPU_INDEX to an index that has them, or build the default variant." >&2
    exit 3
  fi
fi
step "installing texstudio (editable, -c constraints.txt) and PyInstaller into $VENV"
pip_install -c constraints.txt -c packaging/build-constraints.txt -e . pyinstaller

if [ "$VARIANT" = cpu ]; then
  # A CUDA torch here would make a 5 GB bundle with its CUDA libraries filtered out: refuse.
  if ! "$PY" - <<'EOF'
import sys
import torch
if torch.version.cuda:
    sys.exit(f"torch {torch.__version__} in the build venv is a CUDA build; the cpu variant needs a CPU one")
import torchvision.ops  # the extension must load against this torch
print(f"torch {torch.__version__} (CPU) and torchvision {__import__('torchvision').__version__} import together")
EOF
  then
    echo "build_linux.sh: the CPU torch/torchvision pair does not work; see the message above" >&2
    exit 3
  fi
fi

# --- 2. the one-folder bundle -----------------------------------------------------------
step "freezing with PyInstaller into dist/$NAME (variant $VARIANT)"
TEXSTUDIO_VARIANT="$VARIANT" TEXSTUDIO_BUNDLE_WEIGHTS="$WITH_WEIGHTS" \
  "$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath dist --workpath "$WORK" packaging/texstudio.spec

# Top level of the bundle, next to the executable: the desktop entry, its icon and an
# installer for the current user (or system-wide with PREFIX=/usr/local).
cp resources/texstudio.desktop "dist/$NAME/texstudio.desktop"
cp resources/icons/texstudio.png "dist/$NAME/texstudio.png"
install -m 755 packaging/linux/install.sh "dist/$NAME/install.sh"
cp packaging/linux/README.txt "dist/$NAME/README.txt"

step "checking the bundle starts: dist/$NAME/texstudio --version"
env -i PATH=/usr/bin:/bin HOME="${TMPDIR:-/tmp}" "dist/$NAME/texstudio" --version

# --- 3. the archive ----------------------------------------------------------------------
if [ "$ARCHIVE" = 1 ]; then
  step "writing $ARCHIVE_PATH (xz ${XZ_OPT:--T0 -1})"
  rm -f "$ARCHIVE_PATH"
  tar -C dist -cf - "$NAME" | xz ${XZ_OPT:--T0 -1} > "$ARCHIVE_PATH.part"
  mv "$ARCHIVE_PATH.part" "$ARCHIVE_PATH"
fi

step "done"
du -sh "dist/$NAME"
[ "$ARCHIVE" = 1 ] && ls -l "$ARCHIVE_PATH" | awk '{printf "%s bytes  %s\n", $5, $9}'
echo "smoke test: bash packaging/smoke_test.sh dist/$NAME"
