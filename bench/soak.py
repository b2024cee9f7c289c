"""Soak: thousands of small synthesis iterations in one process; is memory flat?

A long session as a user has it: start, continue, stop half-way, new variation, over
and over, alternating L-BFGS and Adam, at 64x64 with the default (SW + spectrum,
pyramid) settings. Resident memory is sampled every few iterations. ``--via worker``
drives the same schedule through the GUI's RunController, worker QThreads and model
(offscreen), where leaked Qt objects or kept previews would show. Not a test: a measurement.

    taskset -c 1 env OMP_NUM_THREADS=1 python bench/soak.py --iterations 3000 [--via worker]

Writes bench/results/soak.json (every sample, per mode) and bench/results/soak.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
MB = 1024 * 1024


class Recorder:
    """RSS every ``every`` iterations, counted across runs."""

    def __init__(self, every: int) -> None:
        from texstudio.gui.sysinfo import resident_bytes

        self.rss = resident_bytes
        self.every = every
        self.iterations = 0
        self.runs = 0
        self.samples: list[tuple[int, float]] = []  # (iterations so far, RSS MB)
        self.started = time.perf_counter()

    def step(self) -> None:
        self.iterations += 1
        if self.iterations % self.every == 0:
            self.samples.append((self.iterations, self.rss() / MB))

    def run_done(self) -> None:
        self.runs += 1


def schedule(session: int, run_steps: int):
    """The runs of one session: (kind, optimizer, steps, stop after this many or None)."""
    optimizer = ("lbfgs", "adam")[session % 2]
    return [("start", optimizer, run_steps, None), ("continue", optimizer, run_steps, None),
            ("continue", optimizer, run_steps, run_steps // 2), ("variation", optimizer, run_steps, None)]


def base_config(size: int):
    from texstudio.engine.presets import default_config

    return default_config(size, size, device="cpu").replace(preview_every=10)


def tuned(config, kind: str, optimizer: str, steps: int, seed: int):
    lr = 0.02 if optimizer == "adam" else 1.0
    return config.replace(optimizer=optimizer, learning_rate=lr, steps=steps, seed=seed,
                          init="image" if kind == "continue" else "noise")


def soak_engine(args, exemplar, recorder: Recorder) -> None:
    """The engine's generator, as the CLI and a batch drive it."""
    from texstudio.engine.cancel import StopToken
    from texstudio.engine.synthesis import synthesize

    config, canvas, seed, session = base_config(args.size), None, 0, 0
    while recorder.iterations < args.iterations:
        for kind, optimizer, steps, stop_after in schedule(session, args.run_steps):
            seed += kind == "variation"
            run = tuned(config, kind, optimizer, steps, seed)
            stop = StopToken()
            generator = synthesize(run, exemplar, stop, init=canvas if kind == "continue" else None)
            done = 0
            while True:
                try:
                    record = next(generator)
                except StopIteration as finished:
                    canvas = finished.value.image
                    break
                if record.losses:
                    done += 1
                    recorder.step()
                    if stop_after is not None and done >= stop_after:
                        stop.set()
            recorder.run_done()
        session += 1


def soak_worker(args, exemplar, recorder: Recorder) -> None:
    """The GUI's path: RunController -> Task (QThread) -> model, with an event loop, no window."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication, QEvent

    from texstudio.gui.controller import RunController
    from texstudio.gui.model import AppModel, RunKind, RunState

    app = QCoreApplication.instance() or QCoreApplication(["texstudio-soak"])
    model = AppModel(base_config(args.size))
    model.set_photo(exemplar)
    controller = RunController(model)

    def last_iteration() -> int:
        return model.losses.iterations[-1] if len(model.losses) else 0

    def wait(stop_after: int | None) -> None:
        """Pump events until the run ends, counting the iterations the model took in."""
        start = last = last_iteration() if model.run_kind is RunKind.CONTINUE else 0
        while controller.busy or model.run_state is not RunState.IDLE:
            app.processEvents()
            now = last_iteration()
            for _ in range(max(0, now - last)):
                recorder.step()
            if stop_after is not None and now - start >= stop_after and model.run_state is RunState.RUNNING:
                controller.stop()
            last = now
            time.sleep(0.001)
        app.processEvents()
        # processEvents() outside exec() leaves deleteLater() undone, so the controller's
        # finished Tasks piled up here (+2.4 MB per 1000 iterations); the window's event loop
        # deletes them, and so does this.
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)

    session, base = 0, base_config(args.size)
    while recorder.iterations < args.iterations:
        for kind, optimizer, steps, stop_after in schedule(session, args.run_steps):
            model.set_config(tuned(base, kind, optimizer, steps, model.config.seed))
            {"start": controller.start, "continue": controller.continue_run,
             "variation": controller.new_variation}[kind]()
            wait(stop_after)
            recorder.run_done()
        session += 1
    controller.shutdown()


def summarise(samples: list, iterations: int, runs: int, seconds: float, warmup: int, session: int) -> dict:
    """What the samples say. ``session``: iterations per start-continue-stop-variation cycle."""
    import numpy as np

    data = np.array(samples, dtype=np.float64)
    steady = data[data[:, 0] > warmup]
    fifth = max(1, len(steady) // 5)
    head, tail = float(np.median(steady[:fifth, 1])), float(np.median(steady[-fifth:, 1]))
    # The allocator hands pages back and takes them again, so RSS swings by tens of MB
    # between samples; the floor says little. A leak lifts the ceiling: the highest RSS of
    # each session, session after session. That envelope decides "flat".
    peaks = []
    for first in range(warmup, iterations, session):
        inside = steady[(steady[:, 0] > first) & (steady[:, 0] <= first + session)]
        if len(inside):
            peaks.append((first + session / 2, float(inside[:, 1].max())))
    peaks_arr = np.array(peaks)
    third = max(1, len(peaks) // 3)
    peak_growth = float(peaks_arr[-third:, 1].max() - peaks_arr[:third, 1].max())
    peak_slope = float(np.polyfit(peaks_arr[:, 0], peaks_arr[:, 1], 1)[0] * 1000) if len(peaks) > 2 else float("nan")
    return {
        "iterations": iterations, "runs": runs, "seconds": round(seconds, 1), "warmup_iterations": warmup,
        "rss_mb_first_sample": round(float(data[0, 1]), 1),
        "rss_mb_median_after_warmup": round(head, 1), "rss_mb_median_at_end": round(tail, 1),
        "rss_mb_peak": round(float(data[:, 1].max()), 1),
        "session_peaks_mb": [round(v, 1) for _, v in peaks],
        "session_peak_growth_mb": round(peak_growth, 1) + 0.0,  # + 0.0: no "-0.0"
        "session_peak_slope_mb_per_1000_iterations": round(peak_slope, 2),
        "flat": bool(abs(peak_growth) < FLAT_MB and abs(peak_slope) < FLAT_SLOPE),
        "samples": [[int(i), round(float(r), 2)] for i, r in samples],
    }


# What "flat" allows: the allocator's own swings, not a trend. A preview kept per run is
# 48 KB at 64x64 plus its Grams; a leak of that order would show within a few hundred runs.
FLAT_MB = 16.0
FLAT_SLOPE = 4.0


def write_markdown(results: dict, path: Path) -> None:
    lines = ["# Soak: memory over a long session", "",
             f"{results['machine']}; `{results['command']}`", "",
             "| via | iterations | runs | time (s) | RSS median after warm-up (MB) | RSS median at end (MB) "
             "| session peaks, first → last (MB) | peak growth (MB) | peak slope (MB / 1000 it) | flat |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for via, summary in results["modes"].items():
        peaks = summary["session_peaks_mb"]
        lines.append(f"| {via} | {summary['iterations']} | {summary['runs']} | {summary['seconds']} "
                     f"| {summary['rss_mb_median_after_warmup']} | {summary['rss_mb_median_at_end']} "
                     f"| {peaks[0]} → {peaks[-1]} (max {max(peaks)}) | {summary['session_peak_growth_mb']:+} "
                     f"| {summary['session_peak_slope_mb_per_1000_iterations']:+} "
                     f"| {'yes' if summary['flat'] else 'NO'} |")
    lines += ["", f"Warm-up excluded: the first {results['warmup']} iterations (imports, allocator pools, "
              "the first L-BFGS and Adam sessions). A session is start, continue, continue stopped half-way, "
              f"new variation ({results['session']} iterations); L-BFGS and Adam sessions alternate. RSS swings "
              "by tens of MB between samples as the allocator returns and retakes pages, so the medians of the "
              "first and last fifth of the samples move with it; the verdict uses the highest RSS of each "
              f"session, which a leak would lift session after session: flat means the last third of sessions "
              f"peaks under {FLAT_MB:.0f} MB above the first third and a fitted slope under {FLAT_SLOPE:.0f} MB "
              "per 1000 iterations. Every sample is in soak.json.", ""]
    path.write_text("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=3000, help="total optimiser steps per mode")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--run-steps", type=int, default=60, help="steps per run")
    parser.add_argument("--sample-every", type=int, default=20)
    parser.add_argument("--via", choices=("engine", "worker", "both"), default="both")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--resummarise", action="store_true",
                        help="recompute the summaries and soak.md from the samples in OUT/soak.json; run nothing")
    args = parser.parse_args()
    if args.resummarise:
        results = json.loads((args.out / "soak.json").read_text())
        results.setdefault("session", sum(stop_after or steps for _, _, steps, stop_after in schedule(0, 60)))
        for via, old in results["modes"].items():
            results["modes"][via] = summarise(old["samples"], old["iterations"], old["runs"], old["seconds"],
                                              results["warmup"], results["session"])
        return report(results, args.out)
    os.environ["TEXSTUDIO_CONFIG_DIR"] = tempfile.mkdtemp(prefix="texstudio-soak-")

    import torch

    from tests.conftest import make_texture

    exemplar = make_texture(64, seed=3)
    session = sum(stop_after or steps for _, _, steps, stop_after in schedule(0, args.run_steps))
    warmup = 2 * session  # one L-BFGS and one Adam session
    modes = ["engine", "worker"] if args.via == "both" else [args.via]
    results = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible, "
                   f"torch {torch.__version__} with {torch.get_num_threads()} thread(s), Python {platform.python_version()}",
        "command": " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
        "warmup": warmup, "session": session, "modes": {},
    }
    for via in modes:
        recorder = Recorder(args.sample_every)
        (soak_engine if via == "engine" else soak_worker)(args, exemplar, recorder)
        gc.collect()
        results["modes"][via] = summarise(recorder.samples, recorder.iterations, recorder.runs,
                                          time.perf_counter() - recorder.started, warmup, session)
    return report(results, args.out)


def report(results: dict, out: Path) -> int:
    for via, summary in results["modes"].items():
        print(via, json.dumps({k: v for k, v in summary.items() if k != "samples"}), flush=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "soak.json").write_text(json.dumps(results, indent=1) + "\n")
    write_markdown(results, out / "soak.md")
    return 0 if all(m["flat"] for m in results["modes"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
