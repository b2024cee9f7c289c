"""Writing where it cannot be written: read-only folders, full disks, a crash mid-write.

The rule under test: the previous file (if any) is untouched, no partial file is left,
and the message says why. The window's exports are tests/gui/test_reliability_runtime.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from tests.reliability.faults import (
    REPO, assert_one_line_error, cli_env, full_disk, leftovers, limit_file_size, read_only_dir, run_cli,
)
from texstudio.cli import main
from texstudio.engine.errors import ExportError
from texstudio.engine.imageio import save_image, write_sidecar

NOISE = np.random.default_rng(0).random((256, 256, 3)).astype(np.float32)  # incompressible: ~390 KB as PNG
FAST = ["--size", "32", "--steps", "1", "--backbone", "vgg19", "--layers", "relu1_1", "--pyramid", "1", "--device", "cpu", "--quiet"]


def _png_bytes(value: int) -> bytes:
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (value, value, value)).save(buffer, "PNG")
    return buffer.getvalue()


OLD = _png_bytes(7)


def test_a_read_only_folder_is_refused_and_its_file_kept(tmp_path):
    with read_only_dir(tmp_path, ("keep.png", OLD)) as folder:
        for target in (folder / "new.png", folder / "keep.png"):
            with pytest.raises(ExportError, match="read-only or not yours"):
                save_image(target, NOISE[:8, :8], overwrite=True)
        assert (folder / "keep.png").read_bytes() == OLD
        assert sorted(p.name for p in folder.iterdir()) == ["keep.png"]


def test_the_cli_refuses_a_read_only_folder_before_any_work(tmp_path, texture_file, capsys):
    with read_only_dir(tmp_path) as folder:
        code = main(["synth", str(texture_file), "-o", str(folder / "out.png"), *FAST])
        assert_one_line_error(code, capsys.readouterr().err)
        assert list(folder.iterdir()) == []


def test_a_full_disk_keeps_the_previous_file_and_leaves_no_part(tmp_path):
    with full_disk(tmp_path, size_kib=64) as disk:
        (disk / "texture.png").write_bytes(OLD)
        for bit_depth, name in ((8, "texture.png"), (16, "texture.png"), (16, "other.tif")):
            with pytest.raises(ExportError, match="No space left on device.*nothing was written"):
                save_image(disk / name, NOISE, bit_depth=bit_depth, overwrite=True)
        with pytest.raises(ExportError, match="No space left"):
            write_sidecar(disk / "texture.json", {"big": "x" * 200_000}, overwrite=True)
        assert (disk / "texture.png").read_bytes() == OLD
        assert sorted(p.name for p in disk.iterdir()) == ["texture.png"]


def test_the_cli_on_a_full_disk_exits_2_and_keeps_the_old_output(tmp_path, texture_file):
    """RLIMIT_FSIZE fails writes with EFBIG just as a full disk fails them with ENOSPC; no root needed."""
    out = tmp_path / "out.png"
    out.write_bytes(OLD)
    out.with_suffix(".json").write_text("{}")
    done = run_cli("synth", texture_file, "-o", out, "--overwrite", "--bit-depth", "16", *FAST, "--size", "64",
                   "--steps", "0", preexec_fn=limit_file_size(8_000))
    line = assert_one_line_error(done.returncode, done.stderr)
    assert "could not write" in line and "File too large" in line
    assert out.read_bytes() == OLD and out.with_suffix(".json").read_text() == "{}"
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="SIGXFSZ and RLIMIT_FSIZE are POSIX")
def test_a_crash_mid_export_keeps_the_previous_file_and_the_next_export_cleans_up(tmp_path):
    target = tmp_path / "texture.png"
    target.write_bytes(OLD)
    writer = textwrap.dedent(f"""
        import signal
        import numpy as np
        from texstudio.engine.imageio import save_image
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it; a real crash does not wait
        save_image({str(target)!r}, np.random.default_rng(1).random((256, 256, 3)).astype(np.float32),
                   overwrite=True)
    """)
    # The kernel kills the writer (SIGXFSZ) once its file passes 50 KB: a crash mid-write.
    done = subprocess.run([sys.executable, "-c", writer], cwd=REPO, env=cli_env(), capture_output=True,
                          preexec_fn=limit_file_size(50_000), timeout=120)
    assert done.returncode == -25, done.stderr  # -SIGXFSZ
    assert target.read_bytes() == OLD
    [part] = leftovers(tmp_path)  # hidden, named after the dead writer
    assert part.startswith(".texture.png.") and (tmp_path / part).stat().st_size == 50_000
    alive = tmp_path / ".texture.png.1.keep.part"  # pid 1 is alive: its file is not ours to delete
    alive.write_bytes(b"x")
    save_image(target, NOISE[:8, :8], overwrite=True)
    assert leftovers(tmp_path) == [alive.name]
    assert target.read_bytes() != OLD
