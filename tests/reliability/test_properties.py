"""Property-based tests: generated files and command lines never reach the user as a traceback.

Examples are few and tiny (the whole module takes seconds); hypothesis keeps the ones
that failed in .hypothesis/ and replays them first next time.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.conftest import make_texture
from tests.reliability.badfiles import texture_jpeg_bytes, texture_png_bytes
from texstudio.cli import main
from texstudio.engine.errors import ImageLoadError
from texstudio.engine.imageio import load_image

FEW = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
MAGIC = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"II*\x00", b"MM\x00*", b"BM", b"RIFF",
         b"\x00\x00\x01\x00"]


def _gif_bytes() -> bytes:
    buffer = io.BytesIO()
    frames = [Image.fromarray((make_texture(24, seed=s) * 255).astype(np.uint8)) for s in (1, 2)]
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def _tiff_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray((make_texture(24, seed=3) * 65535).astype(np.uint16)[:, :, 0]).save(buffer, "TIFF")
    return buffer.getvalue()


VALID = {"png": texture_png_bytes(32), "jpeg": texture_jpeg_bytes(32), "gif": _gif_bytes(), "tiff": _tiff_bytes()}


def check_loads_or_refuses(data: bytes, suffix: str = ".png") -> None:
    """The property: a usable (H, W, 3) float32 image in [0, 1], or one ImageLoadError line."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"generated{suffix}"
        path.write_bytes(data)
        try:
            image = load_image(path)
        except ImageLoadError as exc:
            assert "\n" not in str(exc) and str(exc)
            return
        assert image.dtype == np.float32 and image.ndim == 3 and image.shape[2] == 3
        assert np.isfinite(image).all() and image.min() >= 0 and image.max() <= 1


@FEW
@pytest.mark.filterwarnings("error")  # Pillow's warnings would reach a CLI user as extra lines
@given(prefix=st.sampled_from(MAGIC), body=st.binary(max_size=512))
@example(prefix=b"II*\x00", body=b"\x91\xd8\xcd\xc3\x10A\x1e~").via("Pillow warns: corrupt EXIF")
def test_random_bytes_load_or_are_refused(prefix, body):
    check_loads_or_refuses(prefix + body)


@FEW
@pytest.mark.filterwarnings("error")
@given(kind=st.sampled_from(sorted(VALID)), cut=st.floats(0, 1, exclude_max=True))
@example(kind="png", cut=0.0).via("zero bytes")
def test_truncated_images_load_or_are_refused(kind, cut):
    data = VALID[kind]
    check_loads_or_refuses(data[: int(len(data) * cut)], suffix={"jpeg": ".jpg", "tiff": ".tif"}.get(kind, f".{kind}"))


@FEW
@pytest.mark.filterwarnings("error")
@given(kind=st.sampled_from(sorted(VALID)), flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True),
                                                                     st.integers(0, 255)), min_size=1, max_size=8))
def test_corrupted_bytes_load_or_are_refused(kind, flips):
    data = bytearray(VALID[kind])
    for where, value in flips:
        data[int(where * len(data))] = value
    check_loads_or_refuses(bytes(data))


# --- the command line ------------------------------------------------------------------------

def _too_slow(text: str, limit: int) -> bool:
    """A valid number above ``limit``: a real (slow) run, not what these tests are about."""
    for part in text.lower().split("x"):
        with contextlib.suppress(ValueError):
            if int(part) > limit:
                return True
    return False


JUNK = st.text(max_size=10)
# Plausible values among the junk, so that valid command lines (real runs) are tested too.
SIZES = st.one_of(
    st.sampled_from(["16", "24x16", " 16 ", "16X24", "8"]), JUNK, st.integers(-10, 40).map(str), st.integers(8193, 10**12).map(str),
    st.tuples(st.integers(-5, 40), st.integers(-5, 40)).map(lambda t: f"{t[0]}x{t[1]}"),
    st.sampled_from(["", "x", "32x", "x32", "1e3", "0x0", " 24 ", "16X16", "nan", "-16", "16x16x16", "٣٢"]),
).filter(lambda s: not _too_slow(s, 40) or _too_slow(s, 8192))
STEPS = st.one_of(st.sampled_from(["0", "1", "2"]), JUNK, st.integers(-3, 3).map(str), st.sampled_from(["", "1.5", "1e2", "-0", "+2", "inf"])
                  ).filter(lambda s: not _too_slow(s, 12))
WEIGHTS = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True).map(repr), JUNK)
TERMS = st.lists(st.tuples(st.sampled_from(["gram", "gap", "sw", "l2", "", "GRAM"]), WEIGHTS), max_size=3).map(
    lambda items: ",".join(name if weight is None else f"{name}:{weight}" for name, weight in items))
LOSSES = st.one_of(st.sampled_from(["sw", "gram", "gap:0.5,sw", "gram:2", "sw,"]), TERMS, JUNK)


@settings(FEW, max_examples=20)  # about half are real (tiny) runs
@pytest.mark.filterwarnings("error")  # a warning would reach a real user's terminal as extra lines
@given(fuzzed=st.sampled_from(["size", "steps", "loss", "all"]), size=SIZES, steps=STEPS, loss=LOSSES)
@example(fuzzed="all", size="16", steps="2", loss="gram:1e39").via("overflows float32: detected, not a crash")
@example(fuzzed="all", size="0", steps="1", loss="sw")
@example(fuzzed="all", size="16", steps="1", loss="gap:nan")
def test_random_command_lines_exit_cleanly(texture_file, capsys, fuzzed, size, steps, loss):
    if fuzzed != "all":  # one argument generated, the others sound: its effect alone is seen
        size, steps, loss = {"size": (size, "1", "sw"), "steps": ("16", steps, "sw"), "loss": ("16", "1", loss)}[fuzzed]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.png"
        code = main(["synth", str(texture_file), "-o", str(out), f"--size={size}", f"--steps={steps}",
                     f"--loss={loss}", "--backbone", "vgg19", "--layers", "relu1_1", "--pyramid", "1", "--device", "cpu", "--quiet"])
        err = capsys.readouterr().err
        event(f"exit {code}")
        if code == 0:
            assert out.exists() and out.with_suffix(".json").exists() and err == ""
            return
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert "unexpected error" not in err, err
        assert not out.exists() and not out.with_suffix(".json").exists()
        # Bad input is 2; only a loss that really became inf or nan (a weight past float32) is a run-time 1.
        assert code == 2 or (code == 1 and "the loss became" in err), (code, err)
