import pickle

import pytest
import torch

from texstudio.engine.backbones import VGG19, RandomMultiscale, build_backbone
from texstudio.engine.errors import BackboneError


def test_vgg19_layer_names_follow_the_paper_naming():
    net = VGG19()
    names = net.layer_names
    assert names[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert "relu5_1" in names and names[-1] == "pool5"
    assert sum(name.startswith("conv") for name in names) == 16


def test_forward_returns_requested_layers_and_stops_at_the_deepest():
    net = VGG19()
    calls = []
    for name, stage in net.stages.items():
        stage.register_forward_hook(lambda *_, n=name: calls.append(n))
    out = net(torch.rand(1, 3, 32, 32), ["relu1_1", "pool1"])
    assert set(out) == {"relu1_1", "pool1"}
    assert out["pool1"].shape == (1, 64, 16, 16)
    assert calls[-1] == "pool1"  # nothing deeper ran


def test_parameters_are_frozen():
    assert not any(p.requires_grad for p in VGG19().parameters())
    assert not any(p.requires_grad for p in RandomMultiscale().parameters())


def test_random_init_is_seeded_and_every_layer_contributes():
    a, b, c = VGG19(seed=1), VGG19(seed=1), VGG19(seed=2)
    assert torch.equal(a.stages["conv3_1"].weight, b.stages["conv3_1"].weight)
    assert not torch.equal(a.stages["conv3_1"].weight, c.stages["conv3_1"].weight)
    out = a(torch.rand(1, 3, 64, 64), a.default_layers)
    energies = [out[name].pow(2).mean().item() for name in a.default_layers]
    # He init keeps activation energy within a small factor from layer to layer.
    assert max(energies) / min(energies) < 100
    assert min(energies) > 0


def test_torus_backbones_are_equivariant_to_circular_shifts():
    image = torch.rand(1, 3, 32, 32)
    shifted = torch.roll(image, shifts=(8, 4), dims=(2, 3))
    for net, layer in ((VGG19(torus=True), "relu2_1"), (RandomMultiscale(torus=True), "relu_k7")):
        a = net(image, [layer])[layer]
        b = net(shifted, [layer])[layer]
        scale = 32 // a.shape[-1]
        assert torch.allclose(torch.roll(a, shifts=(8 // scale, 4 // scale), dims=(2, 3)), b, atol=1e-4)


def test_max_and_avg_pooling_differ():
    image = torch.rand(1, 3, 16, 16)
    avg = VGG19(pooling="avg")(image, ["pool1"])["pool1"]
    mx = VGG19(pooling="max")(image, ["pool1"])["pool1"]
    assert not torch.allclose(avg, mx)


def test_unknown_layer_and_backbone_are_clear_errors(tmp_path):
    with pytest.raises(BackboneError, match="relu9_9"):
        VGG19()(torch.rand(1, 3, 16, 16), ["relu9_9"])
    with pytest.raises(BackboneError, match="unknown backbone"):
        build_backbone("resnet-nonexistent")
    with pytest.raises(BackboneError, match="not a texstudio model folder"):
        build_backbone(str(tmp_path))


def _vgg_state_like_torchvision(seed: int = 0) -> dict:
    import torchvision

    torch.manual_seed(seed)
    return torchvision.models.vgg19(weights=None).state_dict()


def test_vgg19_loads_a_torchvision_weights_file(tmp_path):
    state = _vgg_state_like_torchvision()
    path = tmp_path / "vgg19.pth"
    torch.save(state, path)
    net = build_backbone(str(path))
    assert torch.equal(net.stages["conv1_1"].weight, state["features.0.weight"])
    assert torch.equal(net.stages["conv5_4"].bias, state["features.34.bias"])
    assert "ImageNet" in net.weights_source or "vgg19.pth" in net.weights_source


def test_wrong_weights_are_rejected(tmp_path):
    state = _vgg_state_like_torchvision()
    state["features.0.weight"] = torch.zeros(64, 3, 5, 5)
    path = tmp_path / "wrong.pth"
    torch.save(state, path)
    with pytest.raises(BackboneError, match="does not match VGG19"):
        build_backbone(str(path))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a weights file at all")
    with pytest.raises(BackboneError, match="not a usable weights file"):
        build_backbone(str(junk))


class _Payload:
    def __reduce__(self):
        return (open, ("/tmp/texstudio-pwned-marker", "w"))


def test_a_pickle_payload_in_a_weights_file_is_refused_not_run(tmp_path):
    import os

    marker = "/tmp/texstudio-pwned-marker"
    if os.path.exists(marker):
        os.unlink(marker)
    path = tmp_path / "evil.pth"
    with open(path, "wb") as handle:
        pickle.dump({"features.0.weight": _Payload()}, handle)
    with pytest.raises(BackboneError):
        build_backbone(str(path))
    assert not os.path.exists(marker)


def test_planar_twin_keeps_the_weights_and_stops_wrapping():
    torus = VGG19(torus=True, seed=0)
    planar = torus.planar()
    image = torch.rand(1, 3, 32, 32)
    layers = ["relu1_1", "relu2_1"]
    wrapped, flat = torus(image, layers), planar(image, layers)
    # Away from the border the two agree (same weights); at the border only the torus reads across.
    assert torch.allclose(wrapped["relu1_1"][..., 2:-2, 2:-2], flat["relu1_1"][..., 2:-2, 2:-2], atol=1e-5)
    assert not torch.allclose(wrapped["relu1_1"][..., 0, :], flat["relu1_1"][..., 0, :], atol=1e-3)
    shifted = torus(torch.roll(image, 8, dims=-1), layers)["relu1_1"]
    assert torch.allclose(torch.roll(wrapped["relu1_1"], 8, dims=-1), shifted, atol=1e-5)  # still a torus
    assert all(m.padding_mode == "circular" for m in torus.modules() if isinstance(m, torch.nn.Conv2d))


@pytest.mark.parametrize("layer", ["relu1_1", "relu3_1", "relu5_1"])
def test_planar_vgg19_paints_no_frame_on_a_flat_image(layer):
    # Zero padding would make the border positions of every layer differ from the middle
    # ones on a flat grey image, a frame the canvas then learns to paint (docs/grass_blades).
    network = VGG19(seed=0)
    features = network(torch.full((1, 3, 64, 64), 0.4), [layer])[layer][0]
    spread = (features - features[:, features.shape[1] // 2, features.shape[2] // 2, None, None]).abs().amax()
    assert spread <= 1e-4 * features.abs().amax().clamp_min(1e-6)
    assert features.abs().amax() > 0  # not flat because it is all zero
