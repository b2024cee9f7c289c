"""The studio window running out of memory, in its own process: python oom_window.py RESULT.json HEADROOM.

The address space is limited to what the process already maps plus HEADROOM bytes, a
3000x3000 run with the SW loss is started (it cannot fit), then a tiny one: the window must report the
first with a suggestion and still finish the second. What happened goes to RESULT.json.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def mapped_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def main(result_path: str, headroom: int) -> int:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication(["texstudio"])
    from texstudio.engine.config import SynthConfig
    from texstudio.gui.app import configure_pyqtgraph
    from texstudio.gui.main_window import MainWindow
    from texstudio.gui.settings import GuiSettings

    configure_pyqtgraph()
    tiny = SynthConfig(width=32, height=32, steps=3, layers=("relu1_1", "relu2_1"), gram_weight=1.0, sw_weight=0.0,
                       spectrum_weight=0.0, pyramid_levels=1, preview_every=1, device="cpu")
    # Gram statistics are gathered in tiles, in which 3000x3000 would fit (slowly); the SW
    # feature loss still needs the whole maps (engine/tiling.py).
    window = MainWindow(GuiSettings(config=tiny.replace(width=3000, height=3000, steps=2, sw_weight=1.0)))
    window.show()
    app.processEvents()
    report: dict = {}

    def wait_for(*signals, timeout_ms: int = 120_000) -> str:
        loop = QEventLoop()
        seen = []
        for signal in signals:
            signal.connect(lambda *args, s=signal: (seen.append(s), loop.quit()))
        QTimer.singleShot(timeout_ms, loop.quit)
        loop.exec()
        return "failed" if window.controller.run_failed in seen else ("finished" if seen else "timeout")

    resource.setrlimit(resource.RLIMIT_AS, (mapped_bytes() + headroom,) * 2)
    window.start()
    report["big"] = wait_for(window.controller.run_failed, window.controller.run_finished)
    report["big_message"] = window.last_error
    report["state_after_big"] = window.model.run_state.value
    window.model.set_config(tiny)
    window.start()
    report["tiny"] = wait_for(window.controller.run_failed, window.controller.run_finished)
    report["tiny_message"] = window.last_error if report["tiny"] == "failed" else None
    report["tiny_iterations"] = window.model.result.iterations if window.model.result else None
    window.close()
    Path(result_path).write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], int(sys.argv[2])))
