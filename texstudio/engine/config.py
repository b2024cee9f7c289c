"""The synthesis settings: one frozen dataclass that validates itself and round-trips to JSON.

The same object drives the CLI, the GUI's settings panel and the sidecar written
beside every export, so a result can always be reproduced from its sidecar.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any

from texstudio.engine.errors import ConfigError

MAX_SIDE = 8192
OPTIMIZERS = ("lbfgs", "adam")
POOLINGS = ("avg", "max")
INITS = ("noise", "image", "lattice")
LIGHTINGS = ("auto", "remove", "keep")
MAX_PYRAMID_NOISE = 4.0
# layout_phases: at the coarsest level of the structured split's 5 the exemplar is shrunk
# by 16, and 16 views per axis are every pixel offset there (256 views in all).
MAX_LAYOUT_PHASES = 16
# edge_margin: a mirrored margin wider than this buys nothing (the line it removes is 1 to 3 px).
MAX_EDGE_MARGIN = 16
LOSS_WEIGHTS = ("gram_weight", "gap_weight", "spectrum_weight", "sw_weight", "color_weight", "corr_weight")


def parse_size(text: str) -> tuple[int, int]:
    """``256`` or ``512x256`` (width x height) -> (width, height); ConfigError otherwise."""
    parts = str(text).strip().lower().split("x")
    try:
        if len(parts) == 1:
            width = height = int(parts[0])
        elif len(parts) == 2:
            width, height = int(parts[0]), int(parts[1])
        else:
            raise ValueError
    except ValueError:
        raise ConfigError(f"size must look like 256 or 512x256, got {text!r}") from None
    return width, height


@dataclass(frozen=True)
class SynthConfig:
    """Every setting of one synthesis run. Units in the field comments."""

    # Output canvas size in pixels.
    width: int = 256
    height: int = 256
    # Forward-backward evaluations of the network (what the CLI's --steps counts).
    steps: int = 200
    # Seeds the noise init and a random-weight backbone: same seed, same image on CPU.
    seed: int = 0
    # "vgg19", "random-multiscale", or a path to a weights file / model folder.
    backbone: str = "vgg19"
    # Average pooling gives smoother gradients than max for synthesis (Gatys 2015, sec. 2).
    pooling: str = "avg"
    # Layers whose statistics are matched, by name (conv1_1, relu3_1, pool2, ...);
    # empty means the backbone's own default set.
    layers: tuple[str, ...] = ()
    # Relative weight of each layer, same order as `layers`; empty means all 1.
    layer_weights: tuple[float, ...] = ()
    # Weights of the loss terms; a term with weight 0 is not computed at all.
    gram_weight: float = 1.0
    gap_weight: float = 0.0
    spectrum_weight: float = 0.0
    # Sliced-Wasserstein feature loss (Heitz et al. 2021): whole distributions, not just Grams.
    sw_weight: float = 0.0
    # Sliced-Wasserstein match of the canvas's RGB pixels to the exemplar's colours.
    color_weight: float = 0.0
    # Gram matrices between features and their shifted copies (Berger & Memisevic 2017) at
    # 1/16, 1/8 and 1/4 of the image side, down and across: keeps rows and lattices in place.
    corr_weight: float = 0.0
    # Random directions per layer for the SW loss, fresh every step; 0 = as many as channels.
    sw_directions: int = 0
    # Coarse-to-fine levels (1 = off): each level halves the size, starts from the previous
    # level upsampled, and shares --steps equally, so most steps run on small canvases.
    pyramid_levels: int = 1
    # Fresh noise in the band each finer level adds, in units of the exemplar's spread
    # (0 = plain upsampling). Without it the fine level inherits smooth blobs that it
    # turns into rings and dots instead of new detail. 0 here keeps old sidecars' results.
    pyramid_noise: float = 0.0
    # Adam steps per pyramid level below full size that learn the layout from raw pixel
    # patches (engine/layout.py) instead of the feature losses; 0 = off. Cells, rows and
    # checks that one layer of random filters cannot describe survive into the full-size
    # level, where the feature losses (all of --steps) add the detail.
    layout_steps: int = 0
    # Layout steps on each layout level below the finest one; 0 = layout_steps. Steps there
    # cost little, and three times as many settle each parquet tile on one grain and bring
    # bricks' columns out cleaner, but copy more of a small exemplar (docs/coarse_layout),
    # so the structured split does not set it (it keeps one set by hand).
    coarse_layout_steps: int = 0
    # Grow the first layout level's canvas from a small square in its middle, ring by ring,
    # this many layout steps per ring (at most half the level's own; engine/growth.py),
    # before its own layout steps; 0 = start from noise everywhere (as before, so old
    # sidecars replay). Not on a torus.
    layout_grow_steps: int = 0
    # Views of the exemplar per axis that a layout level shrinking it by 2, 4, 8 or 16 takes
    # patches from, each started a few pixels further in (layout.phase_views): 1 = the one
    # plain shrink, as before (so old sidecars replay); the default (presets) is 4. More
    # distinct patches to draw from make the layout copy less of a small exemplar; a level
    # whose exemplar has as many patches as its canvas takes one view (layout.phases_needed).
    layout_phases: int = 1
    # A layout level below full size runs only where the exemplar, shrunk to it, keeps at
    # least this share of its 7 px patches relative to the share the canvas keeps
    # (layout.patch_share_kept): 0 = every level down to 16 px, as before (so old sidecars
    # replay); the default (presets) is 0.5. A held-out exemplar half keeps 0.41 at 16 px,
    # where the canvas was built from repeats of its 20 patches and copied the exemplar at
    # quarter scale (wood panels 0.52 on average, 0.18 without that level; docs/coarse_share).
    layout_min_share: float = 0.0
    # Weight of the layout levels' second term (engine/layout.py, gradient_energy): patches of
    # a coarse map of which way the canvas's edges run, for weaves whose blocks differ in
    # the direction of their strands, not in colour. 0 = off, the default: at 1 and 5 it
    # cost the held-out patch distance on most repeating photos (docs/bakeoff_energy).
    layout_energy_weight: float = 0.0
    # Weight of the layout levels' copy term (engine/copy_penalty.py): on levels a quarter
    # of the output's size and coarser, and on the half-size one pooled to quarter size,
    # windows of the canvas that match one place of the exemplar distinctively are pushed
    # off it. 0 = off, as before (so old sidecars replay); the default (presets) is 1. A
    # held-out half of wood panels copied 0.08 to 0.25 of its patches at quarter scale
    # without it, 0 to 0.08 with it (docs/anti_copy).
    layout_copy_weight: float = 0.0
    # Weight of the context each layout patch carries on levels of 64 px and up (engine/layout.py,
    # context_patches): the level blurred, over twice the patch's reach, matched jointly with
    # the patch, so fine detail follows the shapes around it and rows run on rather than
    # bend or break. 0 = off, the default: it also copies more of a small exemplar (the
    # held-out scikit-image brick half 0.076 -> 0.107 at half scale; docs/layout_context).
    layout_context_weight: float = 0.0
    # Weight of the full-size level's copy term (engine/copy_penalty.py), seen at half size:
    # the layout's near-copies, sharpened by the feature losses, come back as copies at half
    # scale (the held-out scikit-image brick half: 0.04 of its windows after the layout
    # levels, 0.076 at the end). Only where the exemplar, halved, has fewer windows than the
    # canvas halved. 0 = off, as before (so old sidecars replay); the default (presets) is 1
    # (docs/full_copy).
    copy_weight: float = 0.0
    # Decide the layout by the exemplar: when it repeats (engine/periodicity.py), run the
    # "structured" split of these steps instead (5 levels, the coarse ones laid out from
    # pixel patches, about the same time); otherwise run as set. Only for runs from noise
    # with layout_steps 0. The sidecar's config is what actually ran, with this off.
    auto_layout: bool = False
    # With auto_layout: an exemplar that repeats on a clear lattice (bricks, blocks, checks;
    # engine/lattice.py) starts from its mean cell tiled (init "lattice") instead of being
    # laid out. The sidecar's config says init "lattice" with this off.
    auto_lattice: bool = False
    # The exemplar's lighting (a smooth gradient across the photo, engine/lighting.py):
    # "remove" takes it out before synthesis, "keep" leaves it, "auto" removes it when the
    # canvas has at least three times the exemplar's pixels (lighting.AUTO_AREA_RATIO), where
    # it came out as bright and dark bands along the canvas's edges. The sidecar's config
    # says which one ran.
    lighting: str = "keep"
    # "lbfgs" (few, good steps) or "adam" (cheap steps, low memory).
    optimizer: str = "lbfgs"
    # L-BFGS keeps 2 x history image-sized vectors: bounded so large canvases fit.
    lbfgs_history: int = 20
    # Step size: L-BFGS scales its own steps (1.0 is the textbook value); Adam in pixel units.
    learning_rate: float = 1.0
    # "noise" (seeded, coloured like the exemplar), "image" (start from a given canvas) or
    # "lattice" (the exemplar's mean cell tiled on its lattice: engine/lattice.py).
    init: str = "noise"
    # Canvas on a torus: circular padding everywhere, so the result tiles with no seam.
    tileable: bool = False
    # Pixels of extra canvas around each feature-loss level of a non-tileable run, started as
    # a mirror of the canvas's edge and cut off when the level ends: the thin line of busy
    # pixels that the filters' padding leaves along an edge falls in the margin. 0 = none,
    # also the default: the statistics cover the margin too, and at 4 or 8 px they cost the
    # picture some colour and patch distance (docs/edge_margin). Layout levels (patches
    # have no padding) and tileable runs (no edge) take none.
    edge_margin: int = 0
    # "auto" picks cuda, then mps, then cpu.
    device: str = "auto"
    # Yield a preview image and Gram matrices every this many steps (0 = only at the end).
    preview_every: int = 10
    # Exemplar is resized so its longer side is at most this (px); 0 keeps its own size.
    exemplar_size: int = 0

    def __post_init__(self) -> None:
        # JSON gives lists; keep the dataclass hashable-looking and immutable.
        object.__setattr__(self, "layers", tuple(self.layers))
        try:
            object.__setattr__(self, "layer_weights", tuple(float(w) for w in self.layer_weights))
        except (TypeError, ValueError):
            raise ConfigError(f"layer weights must be numbers, got {self.layer_weights!r}") from None
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError with a user-readable message for any out-of-range value."""
        for name in ("width", "height"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 8 <= value <= MAX_SIDE:
                raise ConfigError(f"{name} must be a whole number of pixels from 8 to {MAX_SIDE}, got {value!r}")
        if not isinstance(self.steps, int) or self.steps < 0:
            raise ConfigError(f"steps must be 0 or more, got {self.steps!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a whole number >= 0, got {self.seed!r}")
        if self.pooling not in POOLINGS:
            raise ConfigError(f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
        if self.layer_weights and len(self.layer_weights) != len(self.layers):
            raise ConfigError(
                f"{len(self.layer_weights)} layer weights given for {len(self.layers)} layers"
            )
        if not isinstance(self.backbone, str) or not self.backbone.strip() or "\0" in self.backbone:
            raise ConfigError(f"backbone must be a name or a path, got {self.backbone!r}")
        if any(not 0 <= w < math.inf for w in self.layer_weights):
            raise ConfigError("layer weights must be finite numbers >= 0")
        for name in LOSS_WEIGHTS:
            # inf and nan would only come back as a non-finite loss at the first step.
            if not _is_number(getattr(self, name)) or not 0 <= getattr(self, name) < math.inf:
                raise ConfigError(f"{name} must be a finite number >= 0, got {getattr(self, name)!r}")
        if not any(getattr(self, name) for name in LOSS_WEIGHTS):
            raise ConfigError("every loss weight is 0: nothing to optimise")
        if not isinstance(self.sw_directions, int) or not 0 <= self.sw_directions <= 4096:
            raise ConfigError(f"sw_directions must be 0 to 4096, got {self.sw_directions!r}")
        if not isinstance(self.pyramid_levels, int) or not 1 <= self.pyramid_levels <= 6:
            raise ConfigError(f"pyramid_levels must be 1 to 6, got {self.pyramid_levels!r}")
        if not _is_number(self.pyramid_noise) or not 0 <= self.pyramid_noise <= MAX_PYRAMID_NOISE:
            raise ConfigError(f"pyramid_noise must be 0 to {MAX_PYRAMID_NOISE:g}, got {self.pyramid_noise!r}")
        if not isinstance(self.layout_steps, int) or not 0 <= self.layout_steps <= 5000:
            raise ConfigError(f"layout_steps must be 0 to 5000, got {self.layout_steps!r}")
        if not isinstance(self.layout_grow_steps, int) or not 0 <= self.layout_grow_steps <= 5000:
            raise ConfigError(f"layout_grow_steps must be 0 to 5000, got {self.layout_grow_steps!r}")
        if not isinstance(self.coarse_layout_steps, int) or not 0 <= self.coarse_layout_steps <= 15000:
            raise ConfigError(f"coarse_layout_steps must be 0 to 15000, got {self.coarse_layout_steps!r}")
        if not isinstance(self.layout_phases, int) or isinstance(self.layout_phases, bool) \
                or not 1 <= self.layout_phases <= MAX_LAYOUT_PHASES:
            raise ConfigError(f"layout_phases must be 1 to {MAX_LAYOUT_PHASES}, got {self.layout_phases!r}")
        if not _is_number(self.layout_min_share) or not 0 <= self.layout_min_share <= 1:
            raise ConfigError(f"layout_min_share must be 0 to 1, got {self.layout_min_share!r}")
        if not _is_number(self.layout_copy_weight) or not 0 <= self.layout_copy_weight < math.inf:
            raise ConfigError(f"layout_copy_weight must be a finite number >= 0, got {self.layout_copy_weight!r}")
        if not _is_number(self.layout_context_weight) or not 0 <= self.layout_context_weight < math.inf:
            raise ConfigError(f"layout_context_weight must be a finite number >= 0, got {self.layout_context_weight!r}")
        if not _is_number(self.copy_weight) or not 0 <= self.copy_weight < math.inf:
            raise ConfigError(f"copy_weight must be a finite number >= 0, got {self.copy_weight!r}")
        if not _is_number(self.layout_energy_weight) or not 0 <= self.layout_energy_weight < math.inf:
            raise ConfigError(f"layout_energy_weight must be a finite number >= 0, got {self.layout_energy_weight!r}")
        if not isinstance(self.auto_layout, bool):
            raise ConfigError(f"auto_layout must be true or false, got {self.auto_layout!r}")
        if not isinstance(self.auto_lattice, bool):
            raise ConfigError(f"auto_lattice must be true or false, got {self.auto_lattice!r}")
        if self.lighting not in LIGHTINGS:
            raise ConfigError(f"lighting must be one of {', '.join(LIGHTINGS)}, got {self.lighting!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if not isinstance(self.lbfgs_history, int) or not 1 <= self.lbfgs_history <= 500:
            raise ConfigError(f"lbfgs_history must be 1 to 500, got {self.lbfgs_history!r}")
        if not _is_number(self.learning_rate) or not 0 < self.learning_rate < math.inf:
            raise ConfigError(f"learning_rate must be a finite number > 0, got {self.learning_rate!r}")
        if self.init not in INITS:
            raise ConfigError(f"init must be one of {', '.join(INITS)}, got {self.init!r}")
        if not isinstance(self.preview_every, int) or self.preview_every < 0:
            raise ConfigError(f"preview_every must be 0 or more, got {self.preview_every!r}")
        if not isinstance(self.exemplar_size, int) or self.exemplar_size < 0:
            raise ConfigError(f"exemplar_size must be 0 or more, got {self.exemplar_size!r}")
        if not isinstance(self.edge_margin, int) or isinstance(self.edge_margin, bool) \
                or not 0 <= self.edge_margin <= MAX_EDGE_MARGIN:
            raise ConfigError(f"edge_margin must be 0 to {MAX_EDGE_MARGIN} px, got {self.edge_margin!r}")

    def weights_by_layer(self, default_layers: tuple[str, ...]) -> dict[str, float]:
        """Layer name -> weight, falling back to the backbone's default layers."""
        layers = self.layers or default_layers
        weights = self.layer_weights or (1.0,) * len(layers)
        return dict(zip(layers, weights))

    def replace(self, **changes: Any) -> SynthConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["layers"] = list(self.layers)
        data["layer_weights"] = list(self.layer_weights)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SynthConfig:
        """Build from a dict (e.g. a sidecar); unknown keys are an error, missing ones take defaults."""
        if not isinstance(data, dict):
            raise ConfigError("settings must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:  # wrong value types that the checks above did not catch
            raise ConfigError(f"invalid settings: {exc}") from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SynthConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"settings are not valid JSON: {exc}") from None
        return cls.from_dict(data)


def _is_number(value: Any) -> bool:
    """A real number, not a bool or a string that JSON or a settings file slipped in."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# Settings that choose the pyramid by hand: given without auto_layout, they turn it off.
# Not coarse_layout_steps: it refines a layout rather than choosing one, and auto layout's
# structured split keeps it (engine/layout.py, structured_split).
HAND_LAYOUT_FIELDS = ("pyramid_levels", "layout_steps")


def with_hand_layout(changes: dict) -> dict:
    """``changes`` to apply over defaults, with auto_layout off where they set the pyramid by hand.

    Otherwise auto_layout would replace the levels asked for with its own 4 on a repeating
    exemplar (the CLI's --pyramid, a batch file's settings entry).
    """
    if "auto_layout" not in changes and any(name in changes for name in HAND_LAYOUT_FIELDS):
        return {**changes, "auto_layout": False}
    return changes
