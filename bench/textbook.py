"""A plain textbook Gatys loop, the yardstick for bench/speed.py.

What a careful first implementation looks like (the PyTorch style-transfer tutorial
habits): torchvision's whole VGG19 ``features`` with its parameters frozen, forward
hooks collecting relu1_1..relu5_1, a Gram matrix per layer by ``torch.mm``, MSE to
target Grams computed once, and ``torch.optim.LBFGS`` over the pixels. It uses the
same weights as texstudio's backbone so the two do identical arithmetic per step.
"""

from __future__ import annotations

import torch
import torchvision

# Indices of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 in torchvision's vgg19().features.
RELU_X_1 = (1, 6, 11, 20, 29)
# The PyTorch tutorial's style weight. Without it the loss is about 1e-7, under
# torch.optim.LBFGS's default gradient tolerance, and every step returns without moving.
STYLE_WEIGHT = 1e6
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def textbook_vgg(texstudio_backbone=None) -> torch.nn.Module:
    features = torchvision.models.vgg19(weights=None).features
    for index, module in enumerate(features):
        if isinstance(module, torch.nn.MaxPool2d):  # texstudio defaults to average pooling too
            features[index] = torch.nn.AvgPool2d(2, 2)
        if isinstance(module, torch.nn.ReLU):
            features[index] = torch.nn.ReLU(inplace=False)
    if texstudio_backbone is not None:
        ours = [m for m in texstudio_backbone.stages.values() if isinstance(m, torch.nn.Conv2d)]
        theirs = [m for m in features if isinstance(m, torch.nn.Conv2d)]
        with torch.no_grad():
            for a, b in zip(theirs, ours):
                a.weight.copy_(b.weight)
                a.bias.copy_(b.bias)
    for parameter in features.parameters():
        parameter.requires_grad_(False)
    return features.eval()


def gram(feature: torch.Tensor) -> torch.Tensor:
    _, c, h, w = feature.shape
    flat = feature.view(c, h * w)
    return torch.mm(flat, flat.t()) / (c * h * w)


class TextbookGatys:
    def __init__(self, exemplar: torch.Tensor, size: int, net: torch.nn.Module, history: int = 20, seed: int = 0):
        self.net = net
        self.captured: dict[int, torch.Tensor] = {}
        for index in RELU_X_1:
            net[index].register_forward_hook(lambda _m, _i, out, index=index: self.captured.__setitem__(index, out))
        with torch.no_grad():
            self.net((exemplar - MEAN) / STD)
            self.targets = {i: gram(f) for i, f in self.captured.items()}
        generator = torch.Generator().manual_seed(seed)
        self.image = torch.rand(1, 3, size, size, generator=generator).requires_grad_(True)
        self.optimizer = torch.optim.LBFGS([self.image], lr=1.0, max_iter=1, history_size=history)

    def closure(self) -> torch.Tensor:
        self.optimizer.zero_grad()
        self.net((self.image - MEAN) / STD)
        loss = STYLE_WEIGHT * sum(torch.nn.functional.mse_loss(gram(self.captured[i]), self.targets[i])
                                  for i in RELU_X_1)
        loss.backward()
        return loss

    def step(self) -> float:
        loss = self.optimizer.step(self.closure)
        with torch.no_grad():
            self.image.clamp_(0, 1)
        return float(loss.detach())
