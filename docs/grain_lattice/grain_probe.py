"""The grain's lattice (engine/lattice.py, _grain_lattice): what it measures on photos, and a forced run.

    .venv/bin/python docs/grain_lattice/grain_probe.py shares PHOTO... > shares.tsv   # each photo's left half
    .venv/bin/python docs/grain_lattice/grain_probe.py forced 67 40 0 77 -- synth HALF.png -o OUT.png

``shares``: each photo's left half at 256 px (as the CLI sees it). Where the pixels have a
lattice (fit_lattice's first passes) it says so; else the steps of _grain_lattice, every
value printed: the best few-repeat lattice on the grain's direction (its held-out share),
the structure tensor's share on that lattice, the cell's aspect (longer vector over
shorter), its cells in the half, and whether the engine takes it (both shares at least
MIN_GRAIN_SHARE, aspect at most MAX_GRAIN_ASPECT).

``forced``: the CLI with engine/layout.py's fit_lattice answering one lattice (dy, dx of two
vectors in the exemplar as the engine sees it): the run starts from that lattice's mean
cell as a brick wall's does. How the wicker was first tried, before the search found it.
"""

from __future__ import annotations

import sys
from pathlib import Path


REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from texstudio.engine import lattice as L  # noqa: E402
from texstudio.engine.imageio import load_image, resize_longest_side  # noqa: E402


def shares(paths: list[str]) -> None:
    from heldout_check import split

    print("photo\tpixels\tdirection\ttensor\taspect\tcells\tv1\tv2\ttaken")
    for path in paths:
        left, _ = split(load_image(path))
        half = resize_longest_side(left, L.FIT_SIDE) if max(left.shape[:2]) > L.FIT_SIDE else left
        found = L.fit_lattice(half)
        if found is not None and not found.grain:
            print(f"{Path(path).name}\t{found.share:.3f}\t\t\t\t\t\t\tpixels", flush=True)
            continue
        direction, tensor = L.grain_maps(half)
        best = L._direction_lattice(direction)  # _grain_lattice's steps, every value kept
        if best is None:
            print(f"{Path(path).name}\t\tnone\t\t\t\t\t\tno", flush=True)
            continue
        cells = half.shape[0] * half.shape[1] / best.area
        taken = "grain" if found is not None else "no"
        measured = f"{best.share:.3f}\t{L._tensor_share(tensor, best):.3f}\t{L._aspect(best):.1f}\t{cells:.1f}"
        print(f"{Path(path).name}\t\t{measured}\t"
              f"({best.v1[0]:.1f}, {best.v1[1]:.1f})\t({best.v2[0]:.1f}, {best.v2[1]:.1f})\t{taken}", flush=True)


def forced(numbers: list[str], cli: list[str]) -> int:
    import texstudio.engine.layout as layout
    from texstudio.cli import main

    v = [float(x) for x in numbers]
    lattice = L.Lattice((v[0], v[1]), (v[2], v[3]), 0.0, grain=True)
    layout.fit_lattice = lambda image, repeating=None: lattice
    return main(cli)


if __name__ == "__main__":
    if sys.argv[1] == "shares":
        shares(sys.argv[2:])
    else:
        raise SystemExit(forced(sys.argv[2:6], sys.argv[sys.argv.index("--") + 1:]))
