import io
import os

import numpy as np
import png
import pytest
import tifffile
from PIL import Image

from texstudio.engine.errors import ExportError, ImageLoadError, OutputExistsError
from texstudio.engine.imageio import load_image, resize_longest_side, save_image, write_sidecar


def _gradient(width=20, height=10):
    x = np.linspace(0, 255, width, dtype=np.float32)
    rgb = np.stack([np.tile(x, (height, 1)), np.full((height, width), 100.0), np.full((height, width), 30.0)], 2)
    return rgb.astype(np.uint8)


@pytest.mark.parametrize("mode", ["RGB", "L", "P", "RGBA", "LA", "CMYK", "I;16", "I", "F"])
def test_every_mode_loads_as_rgb_float(tmp_path, mode):
    rgb = Image.fromarray(_gradient())
    image = rgb.convert(mode) if mode not in ("I;16", "I", "F") else rgb.convert("L").convert(mode)
    path = tmp_path / ("x.tif" if mode in ("CMYK", "I;16", "I", "F", "LA") else "x.png")
    image.save(path)
    loaded = load_image(path)
    assert loaded.dtype == np.float32 and loaded.shape == (10, 20, 3)
    assert 0.0 <= loaded.min() and loaded.max() <= 1.0
    # Left-to-right ramp survives every conversion.
    assert loaded[:, -1].mean() > loaded[:, 0].mean()


def test_16_bit_grey_keeps_its_precision(tmp_path):
    values = np.array([[0, 1, 2, 65535]], dtype=np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(values).save(path)
    loaded = load_image(path)
    assert loaded[0, 1, 0] == pytest.approx(1 / 65535, abs=1e-7)
    assert loaded[0, 3, 0] == pytest.approx(1.0)


def test_alpha_is_composited_not_leaked(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255  # red, but fully transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert np.allclose(load_image(tmp_path / "a.png"), 1.0)  # white background


def test_exif_orientation_is_applied(tmp_path):
    image = Image.fromarray(_gradient(20, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    image.save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").shape == (20, 10, 3)


def test_animated_image_gives_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    first = load_image(tmp_path / "anim.gif")
    assert first[..., 0].mean() > 0.9 and first[..., 2].mean() < 0.1


def test_pixel_limit_gives_a_clear_error(tmp_path):
    Image.new("RGB", (300, 200)).save(tmp_path / "big.png")
    with pytest.raises(ImageLoadError, match="300x200.*limit"):
        load_image(tmp_path / "big.png", max_pixels=50_000)


@pytest.mark.parametrize("content", [b"", b"hello, not an image", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_bad_files_give_a_clear_error(tmp_path, content):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageLoadError, match="bad.png"):
        load_image(path)


def test_truncated_jpeg_is_an_error_not_a_crash(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(_gradient(64, 64)).save(buffer, "JPEG")
    (tmp_path / "t.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageLoadError):
        load_image(tmp_path / "t.jpg")


def test_png_8_and_16_bit_round_trip(tmp_path):
    image = np.random.default_rng(0).random((6, 5, 3)).astype(np.float32)
    save_image(tmp_path / "a8.png", image, bit_depth=8)
    assert np.abs(load_image(tmp_path / "a8.png") - image).max() <= 0.5 / 255 + 1e-6
    save_image(tmp_path / "a16.png", image, bit_depth=16)
    width, height, rows, info = png.Reader(filename=str(tmp_path / "a16.png")).read()
    assert info["bitdepth"] == 16 and (width, height) == (5, 6)
    pixels = np.array([list(r) for r in rows], dtype=np.float64).reshape(6, 5, 3) / 65535
    assert np.abs(pixels - image).max() <= 0.5 / 65535 + 1e-6


def test_tiff_8_and_16_bit(tmp_path):
    image = np.random.default_rng(1).random((4, 7, 3)).astype(np.float32)
    save_image(tmp_path / "a.tif", image, bit_depth=16)
    data = tifffile.imread(tmp_path / "a.tif")
    assert data.dtype == np.uint16 and data.shape == (4, 7, 3)
    save_image(tmp_path / "b.tiff", image, bit_depth=8)
    assert tifffile.imread(tmp_path / "b.tiff").dtype == np.uint8


def test_save_refuses_to_overwrite_unless_asked(tmp_path):
    image = np.zeros((4, 4, 3), np.float32)
    path = save_image(tmp_path / "o.png", image)
    with pytest.raises(OutputExistsError):
        save_image(path, np.ones((4, 4, 3), np.float32))
    assert load_image(path).max() == 0  # untouched
    save_image(path, np.ones((4, 4, 3), np.float32), overwrite=True)
    assert load_image(path).min() == 1


def test_failed_write_leaves_no_partial_file_and_keeps_the_old_one(tmp_path):
    path = save_image(tmp_path / "keep.png", np.zeros((4, 4, 3), np.float32))
    before = path.read_bytes()
    with pytest.raises(ValueError):
        save_image(path, np.zeros((4, 4), np.float32), overwrite=True)  # wrong shape: fails mid-way
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.png"]


def test_bad_output_names_are_clear(tmp_path):
    with pytest.raises(ExportError, match=".png"):
        save_image(tmp_path / "x.jpg", np.zeros((2, 2, 3), np.float32))
    with pytest.raises(ExportError, match="does not exist"):
        save_image(tmp_path / "missing" / "x.png", np.zeros((2, 2, 3), np.float32))


def test_sidecar_is_json_and_atomic(tmp_path):
    import json

    path = write_sidecar(tmp_path / "s.json", {"seed": 3, "config": {"width": 8}})
    assert json.loads(path.read_text())["seed"] == 3
    with pytest.raises(OutputExistsError):
        write_sidecar(path, {})
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]


def test_resize_longest_side_only_shrinks():
    image = np.random.default_rng(0).random((40, 80, 3)).astype(np.float32)
    assert resize_longest_side(image, 20).shape == (10, 20, 3)
    assert resize_longest_side(image, 200) is image
    assert resize_longest_side(image, 0) is image


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_written_files_get_the_usual_permissions_not_the_temp_files_0600(tmp_path):
    from texstudio.engine.imageio import _UMASK, save_image

    out = tmp_path / "tile.png"
    save_image(out, np.zeros((8, 8, 3), np.float32))
    assert out.stat().st_mode & 0o777 == 0o666 & ~_UMASK
