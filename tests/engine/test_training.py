"""Training feature networks on photo folders: data, loop, checkpoints, models, CLI.

Everything runs for real on tiny generated folders (48 px photos, 32 px patches, a
handful of batches), so each test takes a few seconds on a 2-core CPU.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import make_texture
from texstudio.cli import main
from texstudio.engine.backbones import build_backbone
from texstudio.engine.cancel import StopToken
from texstudio.engine.config import SynthConfig
from texstudio.engine.dataset import DatasetError, PatchAugment, scan_folder, split_indices
from texstudio.engine.errors import BackboneError, ConfigError
from texstudio.engine.models import list_models, load_network, models_dir
from texstudio.engine.synthesis import run_synthesis
from texstudio.engine.trainable import FCNLichen, build_network
from texstudio.engine.training import TrainConfig, has_checkpoint, run_training, train

FAST = dict(patch_size=32, batch_size=4, crops_per_image=2, device="cpu", preview_every=2, max_image_side=64)


def save_png(path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8)).save(path)


@pytest.fixture
def photo_folder(tmp_path):
    """Eight generated texture photos (one in a sub-folder, one JPEG), a corrupt PNG and a note."""
    folder = tmp_path / "photos"
    for i in range(7):
        save_png(folder / f"photo{i}.png", make_texture(48, seed=i))
    (folder / "deeper").mkdir()
    Image.fromarray((make_texture(48, seed=9) * 255).astype(np.uint8)).save(folder / "deeper" / "x.jpg")
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    (folder / "notes.txt").write_text("not an image")
    return folder


def class_image(label: int, seed: int) -> np.ndarray:
    """Three visibly different materials: reddish stripes, green blobs, blue speckle."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:48, 0:48].astype(np.float32)
    if label == 0:
        grey = 0.5 + 0.4 * np.sin(x * 0.8 + rng.random() * 6)
        tint = (0.9, 0.4, 0.3)
    elif label == 1:
        grey = 0.5 + 0.4 * np.sin(x * 0.2 + rng.random() * 6) * np.sin(y * 0.2 + rng.random() * 6)
        tint = (0.3, 0.8, 0.3)
    else:
        grey = rng.random((48, 48)).astype(np.float32)
        tint = (0.3, 0.4, 0.9)
    return np.clip(grey[:, :, None] * np.array(tint, np.float32) + rng.normal(0, 0.03, (48, 48, 3)), 0, 1)


@pytest.fixture
def class_folder(tmp_path):
    folder = tmp_path / "classes"
    for label, name in enumerate(("bark", "moss", "slate")):
        for i in range(5):
            save_png(folder / name / f"{i}.png", class_image(label, seed=10 * label + i))
    return folder


# --- data -------------------------------------------------------------------------------

def test_scan_counts_images_recursively_and_skips_what_it_cannot_read(photo_folder):
    summary = scan_folder(photo_folder)
    assert summary.num_images == 8
    assert "deeper/x.jpg" in summary.images
    assert len(summary.skipped) == 2 and any("broken.png" in s for s in summary.skipped)
    assert summary.describe() == "8 images, 2 files skipped"


def test_scan_reads_classes_like_image_folder(class_folder):
    (class_folder / "loose.png").write_bytes((class_folder / "bark" / "0.png").read_bytes())
    summary = scan_folder(class_folder, "classifier")
    assert summary.classes == ["bark", "moss", "slate"]
    assert summary.class_counts() == {"bark": 5, "moss": 5, "slate": 5}
    assert any("loose.png" in s for s in summary.skipped)  # in no class


@pytest.mark.parametrize("case", ["missing", "file", "empty", "no-images", "one-class", "no-class-folders"])
def test_bad_folders_are_one_line_errors(tmp_path, case):
    folder = tmp_path / "data"
    objective = "autoencoder"
    if case == "file":
        folder.write_text("x")
    elif case == "empty":
        folder.mkdir()
    elif case == "no-images":
        folder.mkdir()
        (folder / "a.txt").write_text("x")
        (folder / "b.png").write_bytes(b"garbage")
    elif case == "one-class":
        save_png(folder / "only" / "a.png", make_texture(48))
        objective = "classifier"
    elif case == "no-class-folders":
        save_png(folder / "a.png", make_texture(48))
        objective = "classifier"
    with pytest.raises(DatasetError) as raised:
        scan_folder(folder, objective)
    assert "\n" not in str(raised.value) and str(folder) in str(raised.value)


def test_split_keeps_every_class_in_training_and_is_seeded():
    labels = [0] * 5 + [1] * 5 + [2]
    train_a, val_a = split_indices(labels, len(labels), 0.2, seed=3)
    assert split_indices(labels, len(labels), 0.2, seed=3) == (train_a, val_a)
    assert sorted(train_a + val_a) == list(range(11))
    assert {labels[i] for i in train_a} == {0, 1, 2} and len(val_a) == 2


def test_augmentation_is_seeded_and_cuts_patches():
    image = torch.randint(0, 256, (3, 50, 60), dtype=torch.uint8)
    augment = PatchAugment(32, color_jitter=0.5)
    a = augment(image, torch.Generator().manual_seed(1))
    b = augment(image, torch.Generator().manual_seed(1))
    assert a.shape == (3, 32, 32) and a.dtype == torch.float32 and torch.equal(a, b)
    assert 0 <= float(a.min()) and float(a.max()) <= 1


# --- networks ---------------------------------------------------------------------------

def test_reference_fcn_is_as_published():
    net = FCNLichen()
    convs = [m for m in net.stages.values() if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size[0] for c in convs] == [7, 7, 5, 5, 3, 3, 1, 1, 1]
    assert [c.out_channels for c in convs] == [32, 32, 64, 64, 64, 64, 64, 64, 3]
    assert all(c.stride == (1, 1) for c in convs)
    assert [k for k in net.stages if k.startswith("bn")] == ["bn2", "bn4", "bn6", "bn8"]
    assert sum(c.out_channels for c in convs) == 451  # the GAP descriptor's length
    x = torch.rand(2, 3, 40, 40)
    assert net(x).shape == x.shape


@pytest.mark.parametrize("name", ["fcn-pyramid", "vgg-small"])
def test_other_networks_handle_odd_sizes(name):
    net = build_network({"name": name, "num_classes": 3}, seed=0)
    out = net(torch.rand(2, 3, 37, 45))
    assert out.shape == ((2, 3, 37, 45) if name == "fcn-pyramid" else (2, 3))


def test_seeded_initialisation_is_reproducible():
    a = build_network({"name": "fcn-pyramid"}, seed=5).state_dict()
    b = build_network({"name": "fcn-pyramid"}, seed=5).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


# --- training ---------------------------------------------------------------------------

@pytest.mark.parametrize("architecture", ["fcn-lichen", "fcn-pyramid"])
def test_autoencoder_loss_falls_and_a_model_is_saved(photo_folder, tmp_path, architecture):
    config = TrainConfig(architecture=architecture, epochs=3, **FAST)
    records = []
    result = run_training(config, photo_folder, tmp_path / "model", on_progress=records.append)
    losses = [r.train_loss for r in records if r.phase == "batch"]
    assert len(losses) == 9  # 6 training photos x 2 crops / 4 per batch = 3 batches, 3 epochs
    # Both start from the mean colour (loss ~ pixel variance) and must do better than that.
    assert np.mean(losses[-3:]) < 0.85 * losses[0] and np.mean(losses[-3:]) < np.mean(losses[:3])
    assert not result.stopped and result.epochs_done == 3
    previews = [r for r in records if r.inputs is not None]
    assert previews and previews[-1].inputs.shape == previews[-1].outputs.shape == (2, 32, 32, 3)
    ends = [r for r in records if r.phase == "validation"]
    assert len(ends) == 3 and ends[-1].val_loss is not None and len(ends[-1].history["train_loss"]) == 3
    assert records[0].summary["images"] == 8 and records[0].summary["skipped"] == 2
    meta = json.loads((tmp_path / "model" / "model.json").read_text())
    assert meta["architecture"]["name"] == architecture
    assert meta["dataset"]["train_images"] == 6 and meta["dataset"]["val_images"] == 2
    assert meta["metrics"]["epochs_done"] == 3 and "relu1" in " ".join(meta["layer_names"])


def test_classifier_beats_chance(class_folder, tmp_path):
    config = TrainConfig(objective="classifier", epochs=4, learning_rate=3e-3,
                         **{**FAST, "batch_size": 8, "crops_per_image": 2})
    records = []
    result = run_training(config, class_folder, tmp_path / "model", on_progress=records.append)
    end = [r for r in records if r.phase == "validation"][-1]
    assert end.classes == ["bark", "moss", "slate"]
    assert end.confusion.shape == (3, 3) and end.confusion.sum() == 3  # one held-out photo per class
    assert end.train_accuracy > 0.6 and end.val_accuracy > 1 / 3
    assert result.metrics["val_accuracy"] == end.val_accuracy
    meta = json.loads((tmp_path / "model" / "model.json").read_text())
    assert meta["classes"] == ["bark", "moss", "slate"] and len(meta["metrics"]["confusion"]) == 3


def test_stop_then_resume_reaches_the_same_weights(photo_folder, tmp_path):
    config = TrainConfig(architecture="fcn-lichen", epochs=2, **FAST)
    run_training(config, photo_folder, tmp_path / "straight")

    stop = StopToken()
    records = []

    def stop_after_four(record):
        records.append(record)
        if record.phase == "batch" and record.step == 4:
            stop.set()

    stopped = run_training(config, photo_folder, tmp_path / "resumed", stop=stop, on_progress=stop_after_four)
    assert stopped.stopped and stopped.step == 4 and records[-1].phase == "stopped"
    assert has_checkpoint(tmp_path / "resumed")
    meta = json.loads((tmp_path / "resumed" / "model.json").read_text())
    assert meta["metrics"]["stopped"] and meta["metrics"]["epochs_done"] == pytest.approx(4 / 3, abs=1e-3)

    with pytest.raises(ConfigError, match="already holds"):
        next(train(config, photo_folder, tmp_path / "resumed"))  # no silent restart over it
    later = []
    finished = run_training(config, photo_folder, tmp_path / "resumed", resume=True, on_progress=later.append)
    assert not finished.stopped and finished.step == 6
    assert later[0].step == 4 and [r.step for r in later if r.phase == "batch"] == [5, 6]
    straight, _ = load_network(tmp_path / "straight")
    resumed, _ = load_network(tmp_path / "resumed")
    for (key, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-5), key
    # The epoch curve survived the interruption.
    assert len(later[-1].history["train_loss"]) == 2


def test_resume_can_extend_the_run(photo_folder, tmp_path):
    config = TrainConfig(architecture="fcn-lichen", epochs=1, **FAST)
    run_training(config, photo_folder, tmp_path / "m")
    result = run_training(config.replace(epochs=2), photo_folder, tmp_path / "m", resume=True)
    assert result.epochs_done == 2 and result.step == 6
    with pytest.raises(ConfigError, match="no training checkpoint"):
        next(train(config, photo_folder, tmp_path / "nothing", resume=True))


# --- using a trained model --------------------------------------------------------------

@pytest.fixture
def trained_model(photo_folder, tmp_path):
    out = models_dir() / "photos-fcn-pyramid"
    run_training(TrainConfig(epochs=1, **FAST), photo_folder, out)
    return out


def test_saved_model_is_a_backbone_that_drives_synthesis(trained_model, real_photo):
    backbone = build_backbone(str(trained_model), torus=True)
    assert backbone.default_layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
    assert "code" in backbone.layer_names and str(trained_model.resolve()) in backbone.weights_source
    assert not any(p.requires_grad for p in backbone.parameters())
    convs = [m for m in backbone.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(c.padding_mode == "circular" for c in convs)

    # Adam: its first steps reliably descend; L-BFGS without a line search can overshoot
    # in its first few steps on a tiny canvas, which is not what this test is about.
    config = SynthConfig(width=32, height=32, steps=8, backbone=str(trained_model), device="cpu",
                         layers=("relu1_1", "relu2_2", "relu3_1"), gram_weight=1.0, gap_weight=1.0,
                         optimizer="adam", learning_rate=0.05, preview_every=0, exemplar_size=48)
    result = run_synthesis(config, real_photo)
    assert result.image.shape == (32, 32, 3) and np.isfinite(result.image).all()
    assert result.backbone.startswith("photos-fcn-pyramid: trained fcn-pyramid")
    assert set(result.final_losses) == {f"{t}/{layer}" for t in ("gram", "gap") for layer in config.layers}
    assert result.loss_history[-1] < result.loss_history[0]


def test_saved_models_are_listed(trained_model):
    [info] = list_models()
    assert info.path == trained_model and info.architecture == "fcn-pyramid"
    assert info.objective == "autoencoder" and "8 images" in info.summary


def test_folders_that_are_not_models_are_refused(tmp_path):
    (tmp_path / "model.json").write_text(json.dumps({"format": "something-else"}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(BackboneError, match="not a texstudio model folder"):
        build_backbone(str(tmp_path))


def test_train_config_round_trips_and_validates():
    config = TrainConfig(objective="classifier", patch_size=64, learning_rate=5e-4, color_jitter=0.2)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert config.resolved_architecture == "vgg-small"
    for bad in ({"objective": "gan"}, {"architecture": "vgg-small"}, {"patch_size": 8}, {"learning_rate": 0},
                {"batch_size": 0}, {"device": "tpu"}, {"val_fraction": 1.0}):
        with pytest.raises(ConfigError):
            TrainConfig(**bad)
    with pytest.raises(ConfigError, match="unknown"):
        TrainConfig.from_dict({"epoch": 3})


# --- command line -----------------------------------------------------------------------

CLI_FAST = ["--patch-size", "32", "--batch-size", "4", "--crops-per-image", "2", "--max-image-side", "64",
            "--device", "cpu", "--quiet"]


def test_cli_trains_and_the_model_drives_synth(photo_folder, tmp_path, capsys):
    out = tmp_path / "model"
    assert main(["train", str(photo_folder), "-o", str(out), "--arch", "fcn-lichen", "--epochs", "1", *CLI_FAST]) == 0
    assert (out / "model.safetensors").is_file() and (out / "checkpoint.json").is_file()
    image = tmp_path / "out.png"
    code = main(["synth", str(photo_folder / "photo0.png"), "-o", str(image), "--size", "32", "--steps", "3",
                 "--backbone", str(out), "--loss", "gap", "--layers", "conv1,conv5,conv9", "--device", "cpu",
                 "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert json.loads(image.with_suffix(".json").read_text())["backbone"].startswith("model: trained fcn-lichen")
    # A second run into the same folder needs --resume (or --overwrite).
    assert main(["train", str(photo_folder), "-o", str(out), "--epochs", "1", *CLI_FAST]) == 2
    assert main(["train", str(photo_folder), "-o", str(out), "--epochs", "2", "--resume", *CLI_FAST]) == 0


def test_cli_default_output_is_the_user_models_folder(class_folder):
    assert main(["train", str(class_folder), "--objective", "classifier", "--epochs", "1", *CLI_FAST]) == 0
    [info] = list_models()
    assert info.path == models_dir() / "classes-vgg-small" and info.objective == "classifier"


@pytest.mark.parametrize("case", ["missing", "empty", "no-images", "one-class"])
def test_cli_bad_folders_print_one_line_and_exit_2(tmp_path, capsys, case):
    folder = tmp_path / "data"
    extra = []
    if case != "missing":
        folder.mkdir()
    if case == "no-images":
        (folder / "readme.txt").write_text("x")
    if case == "one-class":
        save_png(folder / "only" / "a.png", make_texture(48))
        extra = ["--objective", "classifier"]
    out = tmp_path / "model"
    assert main(["train", str(folder), "-o", str(out), *extra, *CLI_FAST]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("texstudio: ")
    assert not out.exists()
