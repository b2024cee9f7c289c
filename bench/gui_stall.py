"""How long does the GUI event loop stall while a synthesis runs in the worker thread?

A 10 ms QTimer runs in the GUI thread of the real main window (all views live, previews
every step: the worst case for redraws) and records the gap between its ticks. A gap
well above 10 ms is a moment the window could not respond. Not a test: a measurement.

    QT_QPA_PLATFORM=offscreen python bench/gui_stall.py [--size 256] [--steps 30]

Writes bench/results/gui_stall.json and prints one markdown table row.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TICK_MS = 10


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "gui_stall.json")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["TEXSTUDIO_CONFIG_DIR"] = tempfile.mkdtemp(prefix="texstudio-bench-")

    import numpy as np
    import torch
    from PySide6.QtCore import QElapsedTimer, QTimer

    from texstudio.gui.app import build_main_window, create_application
    from texstudio.gui.model import RunState

    app = create_application(["texstudio"])
    window = build_main_window()
    window.show()
    # The default backbone and its default layers, no pyramid, previews every step.
    window.model.set_config(window.model.config.replace(
        width=args.size, height=args.size, steps=args.steps, gram_weight=1.0, sw_weight=0.0,
        spectrum_weight=0.0, pyramid_levels=1, preview_every=1, device="cpu", layers=(), layer_weights=()))

    config = window.model.config
    gaps: list[float] = []
    clock = QElapsedTimer()
    last = [0]

    def tick() -> None:
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        last[0] = now

    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    for _ in range(20):
        app.processEvents()
    started = time.perf_counter()
    window.start()
    clock.start()
    timer.start()
    while window.model.run_state is not RunState.IDLE:
        app.processEvents()
        time.sleep(0.001)  # what QApplication.exec() does between events: wait, not spin
    timer.stop()
    wall = time.perf_counter() - started
    result = window.model.result
    window.close()
    if result is None:
        print(f"run failed: {window.last_error}", file=sys.stderr)
        return 1

    gaps_ms = np.asarray(gaps[1:])
    report = {
        "what": "longest GUI event-loop gap (10 ms QTimer) during a synthesis in the worker",
        "max_gap_ms": round(float(gaps_ms.max()), 1),
        "p99_gap_ms": round(float(np.percentile(gaps_ms, 99)), 1),
        "median_gap_ms": round(float(np.median(gaps_ms)), 1),
        "ticks": int(gaps_ms.size),
        "canvas": f"{args.size}x{args.size}", "steps": result.iterations,
        "seconds_per_step": round(wall / max(result.iterations, 1), 3),
        "config": f"{config.backbone} (random weights, its default layers), Gram {config.gram_weight:g} + colour "
                  f"{config.color_weight:g}, no pyramid, {config.optimizer}, preview every step",
        "device": result.device, "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "platform": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}, "
                    f"Qt {app.platformName()}",
        "date": time.strftime("%Y-%m-%d"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    line = (f"| GUI stall during synthesis ({report['canvas']}, {report['steps']} steps, {report['device']}) | "
            f"max {report['max_gap_ms']} ms | p99 {report['p99_gap_ms']} ms | median {report['median_gap_ms']} ms |")
    args.out.with_suffix(".md").write_text(line + "\n")
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
