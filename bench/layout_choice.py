"""What deciding a run's start costs: choose_layout (periodicity, lattice fit) on each photo's half.

Each photo's left half at 256 px (the bake-off and held-out split) goes through
engine/layout.py's choose_layout with the default config, as a run from noise does before
its first step; the time and the path chosen (lattice, layout, plain) are written to
OUT.json and OUT.md. To compare two checkouts, run this from each (each imports the
texstudio next to it), at the same time, one pinned core each, then compare the files:

    OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python bench/layout_choice.py --out bench/results/choice_new &
    (cd /tmp/wt_old && OMP_NUM_THREADS=1 taskset -c 1 python bench/layout_choice.py --out /tmp/choice_old)
    .venv/bin/python bench/layout_choice.py --compare /tmp/choice_old.json bench/results/choice_new.json

`--tileable` decides for a seamless 256 px tile instead (where the fitted lattice cannot wrap
round it, lattice.torus_lattice looks for a finer one). PHOTOS default to every photo in $TEXSTUDIO_SHARED_TEXTURES (../shared/textures).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from texstudio.engine.imageio import load_image, resize_longest_side  # noqa: E402
from texstudio.engine.layout import choose_layout  # noqa: E402
from texstudio.engine.presets import default_config  # noqa: E402
from texstudio.engine.synthesis import prepare_exemplar  # noqa: E402

SHARED = Path(os.environ.get("TEXSTUDIO_SHARED_TEXTURES", REPO.parent / "shared" / "textures"))


def choose(photo: Path, tileable: bool = False) -> dict:
    image = load_image(photo)
    half = resize_longest_side(image[:, :image.shape[1] // 2], 256)
    exemplar, config = prepare_exemplar(half, default_config().replace(tileable=tileable))
    started = time.perf_counter()
    choice = choose_layout(config, exemplar, from_noise=True)
    seconds = time.perf_counter() - started
    path = "lattice" if choice.lattice is not None else ("layout" if choice.note else "plain")
    lattice = None if choice.lattice is None else [list(choice.lattice.v1), list(choice.lattice.v2),
                                                   choice.lattice.share]
    return {"photo": photo.name, "seconds": seconds, "path": path, "periodicity": choice.periodicity,
            "lattice": lattice}


def compare(before: Path, after: Path) -> str:
    old = {row["photo"]: row for row in json.loads(before.read_text())}
    new = {row["photo"]: row for row in json.loads(after.read_text())}
    both = [name for name in new if name in old]
    lines = ["| photo | s before | s after | path before -> after |", "|---|---|---|---|"]
    for name in both:
        lines.append(f"| {name} | {old[name]['seconds']:.2f} | {new[name]['seconds']:.2f} | "
                     f"{old[name]['path']} -> {new[name]['path']} |")
    total_old = sum(old[name]["seconds"] for name in both)
    total_new = sum(new[name]["seconds"] for name in both)
    ratios = [new[name]["seconds"] / max(old[name]["seconds"], 1e-9) for name in both]
    lines.append(f"\n{len(both)} photos: {total_old:.1f} s before, {total_new:.1f} s after (ratio of totals "
                 f"{total_new / total_old:.2f}, median ratio {statistics.median(ratios):.2f}); "
                 f"{sum(old[n]['path'] != new[n]['path'] for n in both)} changed path.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, help="writes OUT.json and OUT.md")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    parser.add_argument("--tileable", action="store_true", help="decide for a seamless tile")
    args = parser.parse_args()
    if args.compare:
        print(compare(*args.compare))
        return
    photos = args.photos or sorted(p for p in SHARED.iterdir() if p.suffix.lower() in (".png", ".jpg")
                                   and p.name != "CONTACT_SHEET.png")
    rows = []
    for photo in photos:
        rows.append(choose(photo, args.tileable))
        print(f"{photo.name}: {rows[-1]['path']} {rows[-1]['seconds']:.2f} s", flush=True)
    table = ["| photo | path | periodicity | s |", "|---|---|---|---|"]
    table += [f"| {r['photo']} | {r['path']} | {r['periodicity']:.2f} | {r['seconds']:.2f} |" for r in rows]
    seconds = [r["seconds"] for r in rows]
    table.append(f"\n{len(rows)} photos, {sum(seconds):.1f} s in all, median {statistics.median(seconds):.2f} s, "
                 f"max {max(seconds):.2f} s.")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
        args.out.with_suffix(".md").write_text("\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
