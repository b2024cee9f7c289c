"""Training folders people really have: links in circles, files nobody may read, a lonely class.

Missing, empty, only non-images and a single class are tests/engine/test_training.py
(test_bad_folders_are_one_line_errors, test_cli_bad_folders_print_one_line_and_exit_2) and the
panel's summary line is tests/gui/test_training_panel.py; here every scan must end, and
say how many entries it skipped and why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from tests.conftest import make_texture
from tests.reliability.badfiles import IMAGE_CASES, make_case
from tests.reliability.faults import REPO, as_unprivileged, cli_env, private_dir
from texstudio.cli import main
from texstudio.engine.dataset import DatasetError, scan_folder, split_indices


def save_png(path, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((make_texture(48, seed) * 255).astype(np.uint8)).save(path)


def test_links_in_circles_dangling_links_and_pipes_are_skipped_and_counted(tmp_path):
    folder = tmp_path / "photos"
    save_png(folder / "a.png")
    save_png(folder / "deeper" / "b.png", 1)
    os.symlink("..", folder / "deeper" / "up")  # a loop back to the top
    os.symlink("loop", folder / "loop")  # a link to itself
    os.symlink("gone.png", folder / "dangling.png")
    os.symlink("deeper", folder / "again")  # a second way into the same photos
    os.mkfifo(folder / "pipe.png")  # opening it to read would block forever
    summary = scan_folder(folder)
    assert summary.images == ["a.png", "deeper/b.png"]
    reasons = dict(line.split(": ", 1) for line in summary.skipped)
    assert set(reasons) == {"deeper/up", "loop", "dangling.png", "again", "pipe.png"}
    assert "already scanned" in reasons["deeper/up"] and "already scanned" in reasons["again"]
    assert reasons["dangling.png"] == "broken link" and reasons["pipe.png"] == "not a regular file"
    assert "symbolic links" in reasons["loop"]
    assert summary.describe() == "2 images, 5 files skipped"


def test_a_folder_of_nothing_but_bad_files_says_how_many_and_why(tmp_path, capsys):
    folder = tmp_path / "bad"
    folder.mkdir()
    for name in ("zero-byte", "not-an-image", "bomb"):
        make_case(folder, name)
    (folder / "notes.txt").write_text("x")
    with pytest.raises(DatasetError) as raised:
        scan_folder(folder)
    assert "no usable images" in str(raised.value) and "4 file(s) skipped" in str(raised.value)
    # Sound headers, broken pixels: the scan takes them, decoding for training finds them out.
    make_case(folder, "corrupt")
    make_case(folder, "truncated")
    out = tmp_path / "model"
    assert main(["train", str(folder), "-o", str(out), "--device", "cpu", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no usable images" in err and "6 file(s) skipped" in err
    assert not out.exists()


def test_every_awkward_image_is_either_a_photo_or_a_counted_skip(tmp_path):
    """The image matrix as a training folder: decoding failures are skipped too, never fatal."""
    from texstudio.engine.dataset import PhotoDataset

    folder = tmp_path / "matrix"
    folder.mkdir()
    for name in IMAGE_CASES:
        make_case(folder, name)
    summary = scan_folder(folder)
    PhotoDataset(summary, patch_size=32, max_side=64)
    # The truncated PNG has a sound header: it is caught when decoded, and counted the same way.
    assert summary.num_images + len(summary.skipped) == len(IMAGE_CASES)
    skipped = {line.split(":")[0] for line in summary.skipped}
    assert skipped == {"corrupt.png", "truncated.png", "empty.jpg", "letter.png", "bomb.png"}
    assert "over the 64-megapixel limit" in next(s for s in summary.skipped if s.startswith("bomb.png"))


def test_a_class_with_a_single_image_trains_and_says_it_cannot_be_validated(tmp_path):
    folder = tmp_path / "classes"
    save_png(folder / "lonely" / "0.png", 0)
    for i in range(4):
        save_png(folder / "many" / f"{i}.png", i + 1)
    summary = scan_folder(folder, "classifier")
    assert summary.class_counts() == {"lonely": 1, "many": 4}
    assert "lonely has a single image, so none is held out to validate" in summary.describe()
    train, val = split_indices(summary.labels, summary.num_images, 0.25, seed=0)
    assert 0 in train and 0 not in val  # the lonely image is learnt from, never held out


def test_the_cli_scan_of_a_circular_folder_ends_and_reports_skips(tmp_path, capsys):
    folder = tmp_path / "photos"
    for i in range(3):
        save_png(folder / f"{i}.png", i)
    os.symlink(".", folder / "self")
    code = main(["train", str(folder), "-o", str(tmp_path / "model"), "--epochs", "1", "--patch-size", "32",
                 "--batch-size", "2", "--max-image-side", "64", "--device", "cpu", "--quiet"])
    assert code == 0, capsys.readouterr().err
    metadata = json.loads((tmp_path / "model" / "model.json").read_text())
    assert metadata["dataset"]["images"] == 3 and metadata["dataset"]["skipped"] == 1


@pytest.mark.skipif(sys.platform != "linux", reason="file modes and Linux capabilities")
def test_unreadable_files_and_folders_are_skipped_with_the_reason(tmp_path):
    """Mode 000 stops only a reader without root's file capabilities: the scan runs in such a child."""
    with private_dir(tmp_path) as base:
        folder = base / "photos"
        save_png(folder / "fine.png")
        save_png(folder / "secret.png", 1)
        save_png(folder / "locked" / "inside.png", 2)
        (folder / "secret.png").chmod(0o000)
        (folder / "locked").chmod(0o000)
        script = textwrap.dedent(f"""
            import json
            from pathlib import Path
            from texstudio.engine.dataset import scan_folder
            try:
                Path({str(folder / "secret.png")!r}).read_bytes()
                raise SystemExit("the child can still read a mode-000 file: the test would prove nothing")
            except PermissionError:
                pass
            print(json.dumps(scan_folder({str(folder)!r}).skipped))
        """)
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                              cwd=REPO, env=cli_env(), preexec_fn=as_unprivileged())
    assert done.returncode == 0, done.stderr
    assert sorted(json.loads(done.stdout)) == ["locked/: folder cannot be listed (Permission denied)",
                                               "secret.png: unreadable (Permission denied)"]
