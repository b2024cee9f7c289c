"""Speed and memory of texstudio's engine against the textbook loop in bench/textbook.py.

    .venv/bin/python bench/speed.py [--sizes 256,512,1024] [--growth 256,512,1024,2048]
        [--quality] [--out bench/results]

Every measurement runs in its own child process (so peak memory is that run's alone),
ours and the textbook's alternately, and is reported as a ratio of the two measured in
the same session: this machine is noisy, absolute seconds are not comparable across runs.
  per-iteration: identical settings (Gram at relu1_1..relu5_1, L-BFGS history 20, same
                 seeded weights, same size); median seconds per evaluation, peak RSS.
  growth:        our default settings at growing sizes; seconds per step, peak RSS.
  quality:       seconds until the multi-scale patch distance to the exemplar falls under
                 the value the textbook loop reaches after 200 evaluations (the setting the issue measured).
Writes speed.json and speed.md into --out.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def exemplar_array(size: int) -> np.ndarray:
    from texstudio.engine.imageio import load_image, resize_longest_side

    photo = REPO.parent / "shared" / "textures" / "gravel1-texturize.png"
    if photo.exists():
        return resize_longest_side(load_image(photo), size)
    rng = np.random.default_rng(0)  # no shared photos: a noise texture still measures speed
    return rng.random((size, size, 3), dtype=np.float32)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---- children: each prints one JSON line -------------------------------------------------

def child_ours(size: int, steps: int, defaults: bool) -> dict:
    from texstudio.engine.config import SynthConfig
    from texstudio.engine.synthesis import synthesize

    if defaults:
        from texstudio.engine.presets import default_config

        # One level: every step at full size, the worst case for time and memory.
        config = default_config(size, size, device="cpu").replace(steps=steps, preview_every=0, pyramid_levels=1)
    else:
        config = SynthConfig(width=size, height=size, steps=steps, device="cpu", preview_every=0,
                             layers=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"), lbfgs_history=20)
    times, last = [], None
    for record in synthesize(config, exemplar_array(size)):
        now = time.perf_counter()
        if record.iteration > 0 and last is not None:
            times.append(now - last)
        last = now
    return {"s_per_step": statistics.median(times[1:] or times), "peak_rss_mib": peak_rss_mib()}


def child_textbook(size: int, steps: int) -> dict:
    import torch

    from textbook import TextbookGatys, textbook_vgg
    from texstudio.engine.backbones import VGG19

    exemplar = torch.from_numpy(exemplar_array(size)).permute(2, 0, 1)[None]
    loop = TextbookGatys(exemplar, size, textbook_vgg(VGG19(seed=0)), history=20)
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        loop.step()
        times.append(time.perf_counter() - started)
    return {"s_per_step": statistics.median(times[1:] or times), "peak_rss_mib": peak_rss_mib()}


def child_quality(which: str, size: int, steps: int, threshold: float | None) -> dict:
    """CPU seconds (metric time excluded) and patch distance every few steps.

    CPU time of this process, not wall time, so a busy neighbour on the machine does not
    count against either side; with one torch thread the two are the same on a quiet machine.
    """
    import torch

    from texstudio.engine.metrics import patch_distance

    exemplar = exemplar_array(size)
    curve = []
    measured = 0.0  # time spent computing the metric, taken out of the clock
    started = time.process_time()

    def check(image: np.ndarray, step: int) -> bool:
        nonlocal measured
        t0 = time.process_time()
        if image.shape[0] != size:
            tensor = torch.from_numpy(image).permute(2, 0, 1)[None]
            image = torch.nn.functional.interpolate(tensor, size=(size, size), mode="bicubic")[0].permute(1, 2, 0)
            image = image.clamp(0, 1).numpy()
        distance = patch_distance(image, exemplar)
        measured += time.process_time() - t0
        curve.append((step, round(time.process_time() - started - measured, 2), distance))
        return threshold is not None and distance <= threshold

    if which == "textbook":
        from textbook import TextbookGatys, textbook_vgg
        from texstudio.engine.backbones import VGG19

        loop = TextbookGatys(torch.from_numpy(exemplar).permute(2, 0, 1)[None], size, textbook_vgg(VGG19(seed=0)),
                             history=100)
        for step in range(1, steps + 1):
            loop.step()
            if step % 10 == 0 and check(loop.image.detach()[0].permute(1, 2, 0).numpy().copy(), step):
                break
    else:
        from texstudio.engine.presets import default_config
        from texstudio.engine.synthesis import synthesize

        config = default_config(size, size, device="cpu").replace(preview_every=10)
        for record in synthesize(config, exemplar):
            if record.iteration and record.preview is not None and check(record.preview, record.iteration):
                break
    return {"curve": curve}


# ---- parent --------------------------------------------------------------------------------

def run_child(*args: str, env: dict | None = None) -> dict:
    import os

    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="256,512,1024")
    parser.add_argument("--growth", default="256,512,1024,2048")
    parser.add_argument("--quality", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    if args.child:
        kind, size, steps, *rest = args.child
        if kind == "ours":
            result = child_ours(int(size), int(steps), defaults=bool(rest and rest[0] == "defaults"))
        elif kind == "textbook":
            result = child_textbook(int(size), int(steps))
        else:
            threshold = float(rest[1]) if len(rest) > 1 and rest[1] != "none" else None
            result = child_quality(rest[0], int(size), int(steps), threshold)
        print(json.dumps(result))
        return 0

    import os
    import platform

    import torch

    from texstudio.engine import acceleration

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    machine = (f"{cpu}, {len(os.sched_getaffinity(0))} core(s) available, {torch.get_num_threads()} torch "
               f"threads, torch {torch.__version__}, our backbone in {acceleration.precision(torch.device('cpu'))}")
    results: dict = {"machine": machine, "per_iteration": [], "growth": [], "quality": {}}
    steps_for = {256: 8, 512: 5, 1024: 3, 2048: 2}
    for size in [int(s) for s in args.sizes.split(",") if s]:
        triples = []
        for _ in range(2):  # ours, ours without channels_last, textbook, again: drift hits all alike
            steps = str(steps_for.get(size, 3))
            ours = run_child("ours", str(size), steps, env={"TEXSTUDIO_CHANNELS_LAST": "1"})
            plain = run_child("ours", str(size), steps, env={"TEXSTUDIO_CHANNELS_LAST": "0"})
            book = run_child("textbook", str(size), steps)
            triples.append((ours, plain, book))
            print(size, ours, plain, book, flush=True)
        ours_t = statistics.median(p[0]["s_per_step"] for p in triples)
        plain_t = statistics.median(p[1]["s_per_step"] for p in triples)
        book_t = statistics.median(p[2]["s_per_step"] for p in triples)
        results["per_iteration"].append({
            "size": size, "ours_s": ours_t, "ours_nchw_s": plain_t, "textbook_s": book_t,
            "speedup": book_t / ours_t, "channels_last_gain": plain_t / ours_t,
            "ours_peak_mib": max(p[0]["peak_rss_mib"] for p in triples),
            "textbook_peak_mib": max(p[2]["peak_rss_mib"] for p in triples)})
    for size in [int(s) for s in args.growth.split(",") if s]:
        run = run_child("ours", str(size), str(steps_for.get(size, 2) + 1), "defaults")
        print("growth", size, run, flush=True)
        results["growth"].append({"size": size, **run})
    if args.quality:
        book = run_child("quality", "256", "200", "textbook", "none")
        threshold = book["curve"][-1][2]
        reached = next((point for point in book["curve"] if point[2] <= threshold), book["curve"][-1])
        ours = run_child("quality", "256", "100000", "ours", str(threshold))
        ours_point = next((p for p in ours["curve"] if p[2] <= threshold), None)
        results["quality"] = {"threshold_patch_distance": threshold, "textbook_s": reached[1],
                              "ours_s": ours_point[1] if ours_point else None,
                              "speedup": (reached[1] / ours_point[1]) if ours_point else None,
                              "textbook_curve": book["curve"], "ours_curve": ours["curve"]}
        print("quality", results["quality"]["textbook_s"], results["quality"]["ours_s"], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    # Each section remembers the machine it was measured on: a section not run this time
    # (e.g. --sizes "") keeps its last figures, which may come from another CPU.
    results["machines"] = {key: machine for key in SECTIONS if results[key]}
    previous = args.out / "speed.json"
    if previous.exists():
        old = json.loads(previous.read_text())
        for key in SECTIONS:
            if not results[key] and old.get(key):
                results[key] = old[key]
                results["machines"][key] = old.get("machines", {}).get(key, old["machine"])
                results.setdefault("kept_from_earlier_run", []).append(key)
    (args.out / "speed.json").write_text(json.dumps(results, indent=1))
    (args.out / "speed.md").write_text(markdown(results))
    print(markdown(results))
    return 0


SECTIONS = ("per_iteration", "growth", "quality")


def markdown(results: dict) -> str:
    machines = results.get("machines", {})
    lines = [f"Machine: {results['machine']}."]
    lines += [f"Measured earlier on another machine, {key}: {where}." for key, where in machines.items()
              if where != results["machine"]]
    lines += ["",
             "| size | ours s/step | ours without channels_last | textbook s/step | speed-up | "
             "channels_last gain | ours peak MiB | textbook peak MiB |",
             "|---|---|---|---|---|---|---|---|"]
    for row in results["per_iteration"]:
        lines.append(f"| {row['size']} | {row['ours_s']:.3f} | {row['ours_nchw_s']:.3f} | {row['textbook_s']:.3f} "
                     f"| {row['speedup']:.2f}x | {row['channels_last_gain']:.2f}x "
                     f"| {row['ours_peak_mib']:.0f} | {row['textbook_peak_mib']:.0f} |")
    if results["growth"]:
        lines += ["", "Default settings as the output grows:", "", "| size | s/step | peak MiB |", "|---|---|---|"]
        for row in results["growth"]:
            if "error" in row:
                lines.append(f"| {row['size']} | failed: {row['error']} | |")
            else:
                lines.append(f"| {row['size']} | {row['s_per_step']:.2f} | {row['peak_rss_mib']:.0f} |")
    quality = results.get("quality")
    if quality:
        lines += ["", f"Time to quality (patch distance <= {quality['threshold_patch_distance']:.4f}, what the "
                  f"textbook loop reaches in 200 evaluations at 256 px): textbook {quality['textbook_s']} s, "
                  f"ours {quality['ours_s']} s"
                  + (f", {quality['speedup']:.1f}x faster." if quality.get("speedup") else ".")]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
