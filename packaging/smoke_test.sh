#!/usr/bin/env bash
# Smoke-test the built bundle (see packaging/smoke_test.py for the checks and options):
#   bash packaging/smoke_test.sh [dist/texstudio] [--archive dist/texstudio-*.tar.xz] [--xvfb --screenshot shot.png]
# Runs with the system python3 in isolated mode (-I), so no venv or user site is seen.
set -euo pipefail
exec /usr/bin/env -i PATH=/usr/bin:/bin LANG=C.UTF-8 python3 -I "$(dirname "$0")/smoke_test.py" "$@"
