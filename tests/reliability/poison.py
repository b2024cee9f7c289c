"""A real tensor fault, injected through torch's public global forward hook.

Nothing of texstudio is replaced: the network runs, and its output is turned into NaN
from a chosen evaluation on, as a numerical blow-up or a faulty device would.
"""

from __future__ import annotations

import contextlib

import torch


def _poisoned(output):
    if isinstance(output, dict):
        return {name: value * float("nan") for name, value in output.items()}
    return output * float("nan")


@contextlib.contextmanager
def nan_outputs_after(evaluations: int, module_type: type):
    """Outputs of ``module_type`` modules become NaN from evaluation ``evaluations + 1`` on.

    Only evaluations that build a graph count (an optimiser's or a training step's, not
    previews, targets or validation), in whichever thread runs them, so a GUI worker is
    poisoned just like a test's own loop.
    """
    count = 0

    def hook(module, inputs, output):
        nonlocal count
        if isinstance(module, module_type) and torch.is_grad_enabled():
            count += 1
            if count > evaluations:
                return _poisoned(output)
        return None

    handle = torch.nn.modules.module.register_module_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def nan_features_after(evaluations: int):
    """The synthesis backbone's canvas features turn NaN after ``evaluations`` optimiser evaluations."""
    from texstudio.engine.backbones import Backbone

    return nan_outputs_after(evaluations, Backbone)
