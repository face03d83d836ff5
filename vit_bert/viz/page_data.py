"""What the attention explorer page shows for one input, as JSON-ready data with compact binary blobs.

    panel_data(model, batch, title, tokens=None, image=None, class_names=None, steps_layers=None) -> dict
        batch: the model's keyword inputs for ONE sample ({"images": (1, C, H, W)} or {"input_ids", "attention_mask"})
        image: (H, W, C) uint8, the picture the model read (images); tokens: its L token strings (text)

Stored per input:
    attention  (depth, heads, L, L) uint8, each row scaled by its own maximum (``scales``, float32 (depth, heads, L)):
               a weight w is stored as round(255 w / row max), so it reads back within row max / 510
    rollout    (depth, L) float32: the [CLS] row of the attention rollout through each layer (no [CLS]: the rows' mean)
    steps      float32 X (L, D), Q/K/V (heads, L, d) of the layers in ``steps_layers``, for the arithmetic panel:
               recomputed through the model's own modules (``trace_layer``), which asserts they equal its forward;
               the explicit attention path's weights are checked against the same recomputation before anything is written
    cls        (D,) float32: token 0 of the encoder's normed output, the vector a [CLS] head classifies
"""

from __future__ import annotations

import base64

import numpy as np
import torch
from torchvision.io import encode_png

from ..errors import ConfigError
from .page_encoding import blob, quantised_rows
from .trace import projection_notes, trace_layers
from .view import attention_view, prediction_title

STEPS_BUDGET = 4_000_000  # bytes of float32 arithmetic data before only the shown layer's is kept (steps_layers=None)
TOP_CLASSES = 5


def chosen_steps_layers(depth: int, length: int, dim: int, shown: int, steps_layers: list[int] | None) -> list[int]:
    if steps_layers is not None:
        for layer in steps_layers:
            if not -depth <= layer < depth:
                raise ConfigError(f"steps layer {layer} does not exist; the model has {depth} layers (0..{depth - 1}, or -1 for the last)")
        return sorted({layer % depth for layer in steps_layers})
    per_layer = 4 * length * dim * 4  # X, Q, K, V in float32
    return list(range(depth)) if depth * per_layer <= STEPS_BUDGET else [shown % depth]


@torch.no_grad()
def panel_data(
    model, batch: dict[str, torch.Tensor], title: str, tokens: list[str] | None = None, image: np.ndarray | None = None,
    class_names: list[str] | None = None, steps_layers: list[int] | None = None, shown_layer: int = -1,
) -> dict:
    first = next(iter(batch.values()))
    if first.shape[0] != 1:
        raise ConfigError(f"the explorer shows one input at a time; the batch holds {first.shape[0]}")
    view = attention_view(model, batch)
    attentions = torch.stack(view.attentions)  # (depth, heads, L, L)
    depth, heads, length = attentions.shape[:3]
    dim = model.config.dim
    view.layer(shown_layer)  # an unknown layer stops here, with the ones there are
    steps = chosen_steps_layers(depth, length, dim, shown_layer, steps_layers)
    traced = dict(zip(steps, trace_layers(model, batch, steps, tokens=tokens, out=lambda *_: None)))
    for layer, trace in traced.items():
        difference = float((trace["heads"]["weights"] - attentions[layer]).abs().max())
        if difference > 1e-4:
            raise AssertionError(f"layer {layer}: the recomputed attention differs from the model's by {difference:.2e} (> 1e-4)")
    codes, scales = quantised_rows(attentions)
    class_token = view.modality == "text" or "[CLS]" in view.prefix_labels
    # The [CLS] row of the rollout (depth, L); without a [CLS] token, its rows averaged (as cls_to_patches does)
    rollout = torch.stack([through[0] if class_token else through.mean(dim=0) for through in view.rollouts()])
    data = {
        "modality": view.modality, "title": title, "layers": depth, "heads": heads, "length": length, "dim": dim,
        "head_dim": model.encoder.blocks[0].attn.head_dim, "shown_layer": shown_layer % depth,
        "attention": blob(codes, "uint8"), "scales": blob(scales, "float32"), "rollout": blob(rollout, "float32"),
        "steps_layers": steps, "layer_notes": ["; ".join(projection_notes(block, view.num_prefix_tokens)) for block in model.encoder.blocks],
        "windows": [block.attn.window for block in model.encoder.blocks],
        "X": blob(torch.stack([traced[layer]["X"] for layer in steps]), "float32"),
        **{name: blob(torch.stack([traced[layer]["heads"][name] for layer in steps]), "float32") for name in ("Q", "K", "V")},
        "cls": blob(next(iter(traced.values()))["cls"], "float32"),
        "class_token": class_token, "pool": model.config.pool, "prediction": None,
        "prediction_note": None if view.probabilities is not None else prediction_title(view, class_names),
    }
    if view.probabilities is not None:
        names = class_names or [str(i) for i in range(len(view.probabilities))]
        top = view.probabilities.topk(min(TOP_CLASSES, len(names)))
        data["prediction"] = [{"label": names[i], "probability": float(p)} for i, p in zip(top.indices.tolist(), top.values.tolist())]
    if view.modality == "image":
        if image is None:
            raise ConfigError("an image panel needs the picture the model read: (H, W, C) uint8")
        png = encode_png(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous())
        data.update(grid=list(view.grid), prefix=view.num_prefix_tokens, tokens=view.prefix_labels,
                    image="data:image/png;base64," + base64.b64encode(png.numpy().tobytes()).decode("ascii"))
    else:
        if tokens is None or len(tokens) != length:
            raise ConfigError(f"a text panel needs the {length} token strings the model read; got {None if tokens is None else len(tokens)}")
        data.update(grid=None, prefix=0, tokens=tokens)
    return data
