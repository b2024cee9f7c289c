"""Run ``texstudio.cli.main`` on several argument lists in one interpreter (see faults.run_cli_many).

Usage: python cli_driver.py CASES.json RESULTS.json. Each call's stderr is taken at the
file-descriptor level, so Python warnings and C-level messages are counted too; an
exception escaping ``main`` is recorded as its traceback with code None.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from pathlib import Path


def run_one(argv: list[str]) -> dict:
    from texstudio.cli import main

    with tempfile.TemporaryFile(mode="w+b") as capture:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            try:
                code = main(argv)
            except BaseException:  # noqa: BLE001 - exactly what a user would see
                code = None
                sys.stderr.write(traceback.format_exc())
            sys.stderr.flush()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        return {"code": code, "stderr": capture.read().decode("utf-8", "replace")}


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    cases = json.loads(Path(sys.argv[1]).read_text())
    Path(sys.argv[2]).write_text(json.dumps([run_one(argv) for argv in cases]))
