"""One sample's attention, ready to draw: the model run once on the explicit attention path.

    attention_view(model, batch, index) -> AttentionView
        batch: the model's keyword inputs ({"images": (B, C, H, W)} or {"input_ids", "attention_mask"})
        .attentions: depth tensors (heads, L, L) for sample ``index``; text keeps real tokens only
        .probabilities: (num_classes,); None for a pretraining model (head="mlm" or "pixels"), which has no classes
    view_figure(view, layer, title, image=None, tokens=None) -> matplotlib Figure
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ConfigError
from ..model import eval_mode
from .figures import image_figure, text_figure
from .rollout import attention_rollout, cls_to_patches, rollouts


@dataclass
class AttentionView:
    modality: str
    attentions: list[torch.Tensor]
    probabilities: torch.Tensor | None
    grid: tuple[int, int] | None = None
    num_prefix_tokens: int = 0
    token_ids: list[int] | None = None
    prefix_labels: list[str] | None = None
    """Images: the names of the prefix tokens ([CLS], dist, reg0, ...), which have no place on the patch grid."""

    def layer(self, layer: int) -> torch.Tensor:
        """(heads, L, L) of one layer; negative indices count from the top."""
        depth = len(self.attentions)
        if not -depth <= layer < depth:
            raise ConfigError(f"layer {layer} does not exist; the model has {depth} layers (0..{depth - 1}, or -1 for the last)")
        return self.attentions[layer]

    def rollout(self) -> torch.Tensor:
        """(L, L): the attention rollout through every layer."""
        return attention_rollout([a[None] for a in self.attentions])[0]

    def rollouts(self) -> list[torch.Tensor]:
        """(L, L) per layer: the rollout through layers 0..l."""
        return [r[0] for r in rollouts([a[None] for a in self.attentions])]


@torch.no_grad()
def attention_view(model, batch: dict[str, torch.Tensor], index: int = 0) -> AttentionView:
    with eval_mode(model):
        logits, attentions = model(**batch, return_attention=True)
    probabilities = None if model.config.head != "classifier" else logits[index].float().softmax(dim=-1).cpu()
    attentions = [a[index].float().cpu() for a in attentions]
    if model.modality == "image":
        images = batch["images"]
        grid = (images.shape[-2] // model.config.patch_size, images.shape[-1] // model.config.patch_size)
        config = model.config
        labels = ["[CLS]"] * config.class_token + ["dist"] * config.dist_token + [f"reg{i}" for i in range(config.reg_tokens)]
        return AttentionView("image", attentions, probabilities, grid, config.num_prefix_tokens, prefix_labels=labels)
    mask = batch.get("attention_mask")
    real = mask[index].bool().cpu() if mask is not None else torch.ones(batch["input_ids"].shape[1], dtype=torch.bool)
    attentions = [a[:, real][:, :, real] for a in attentions]
    return AttentionView("text", attentions, probabilities, token_ids=batch["input_ids"][index][real.to(batch["input_ids"].device)].tolist())


def prediction_title(view: AttentionView, class_names: list[str] | None, truth: str | None = None) -> str:
    if view.probabilities is None:
        return "masked-token model (no class prediction)"
    best = int(view.probabilities.argmax())
    name = class_names[best] if class_names else str(best)
    return f"predicted {name} ({float(view.probabilities[best]):.1%})" + (f", true {truth}" if truth is not None else "")


def view_figure(view: AttentionView, layer: int, title: str, image: np.ndarray | None = None, tokens: list[str] | None = None):
    weights = view.layer(layer)
    layer_index = layer % len(view.attentions)
    if view.modality == "image":
        if image is None:
            raise ConfigError("an image figure needs the input image (H, W, C) in [0, 1]")
        rollout_map = cls_to_patches(view.rollout(), view.grid, view.num_prefix_tokens)
        head_maps = cls_to_patches(weights, view.grid, view.num_prefix_tokens)
        prefix = view.num_prefix_tokens
        if prefix > 1:  # registers or a distillation token: bars beside the maps
            return image_figure(image, rollout_map, head_maps, layer_index, title, weights[:, 0, :prefix].mean(dim=0), view.prefix_labels)
        return image_figure(image, rollout_map, head_maps, layer_index, title)
    tokens = tokens or [str(i) for i in view.token_ids]
    return text_figure(tokens, weights, weights[:, 0].mean(dim=0), layer_index, title)
