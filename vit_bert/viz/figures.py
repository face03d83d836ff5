"""Matplotlib figures of attention (no pyplot state: safe in scripts, callbacks and tests).

    image_figure(image (H, W, C) in [0, 1], rollout_map (gh, gw), head_maps (heads, gh, gw), layer, title[, prefix bars]) -> Figure
    text_figure(tokens [T], layer_weights (heads, T, T), cls_weights (T,), layer, title) -> Figure
Maps are upsampled to the image size and overlaid; text matrices carry the token strings on both axes.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure


def upsample(maps: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """(..., gh, gw) -> (..., H, W) bilinear, each map scaled to [0, 1] for display."""
    flat = maps.reshape(-1, 1, *maps.shape[-2:]).float()
    up = F.interpolate(flat, size=size, mode="bilinear", align_corners=False)
    low, high = up.amin(dim=(2, 3), keepdim=True), up.amax(dim=(2, 3), keepdim=True)
    up = (up - low) / (high - low).clamp(min=1e-12)
    return up.reshape(*maps.shape[:-2], *size).numpy()


def _overlay(ax, image: np.ndarray, heat: np.ndarray, label: str) -> None:
    ax.imshow(image.squeeze(-1) if image.shape[-1] == 1 else image, cmap="gray")
    ax.imshow(heat, cmap="jet", alpha=0.5)
    ax.set_title(label, fontsize=8)
    ax.axis("off")


def image_figure(
    image: np.ndarray, rollout_map: torch.Tensor, head_maps: torch.Tensor, layer: int, title: str,
    prefix_weights: torch.Tensor | None = None, prefix_labels: list[str] | None = None,
) -> Figure:
    """``prefix_weights`` (prefix,): the first row's attention to each prefix token ([CLS], registers, ...), drawn as bars
    beside the maps, since those tokens have no place on the patch grid."""
    heads = head_maps.shape[0]
    cols = max(2 if prefix_weights is None else 3, min(heads, 6))
    rows = 1 + math.ceil(heads / cols)
    fig = Figure(figsize=(1.8 * cols, 1.9 * rows), layout="constrained")
    grid = fig.add_gridspec(rows, cols)
    size = image.shape[:2]
    ax = fig.add_subplot(grid[0, 0])
    ax.imshow(image.squeeze(-1) if image.shape[-1] == 1 else image, cmap="gray")
    ax.set_title("input", fontsize=8)
    ax.axis("off")
    _overlay(fig.add_subplot(grid[0, 1]), image, upsample(rollout_map, size), "attention rollout")
    if prefix_weights is not None:
        ax = fig.add_subplot(grid[0, 2])
        ax.bar(range(len(prefix_labels)), prefix_weights.float().numpy())
        ax.set_xticks(range(len(prefix_labels)), prefix_labels, rotation=90, fontsize=7)
        ax.set_title(f"layer {layer}: to prefix tokens", fontsize=8)
    for head, heat in enumerate(upsample(head_maps, size)):
        _overlay(fig.add_subplot(grid[1 + head // cols, head % cols]), image, heat, f"layer {layer} head {head}: [CLS]")
    fig.suptitle(title, fontsize=10)
    return fig


def text_figure(tokens: list[str], layer_weights: torch.Tensor, cls_weights: torch.Tensor, layer: int, title: str) -> Figure:
    heads, length = layer_weights.shape[0], len(tokens)
    cols = min(heads, 4)
    rows = math.ceil(heads / cols) + 1
    cell = max(2.4, 0.22 * length + 1.0)
    fig = Figure(figsize=(cell * cols, cell * (rows - 1) + 2.0), layout="constrained")
    grid = fig.add_gridspec(rows, cols, height_ratios=[cell] * (rows - 1) + [1.6])
    for head in range(heads):
        ax = fig.add_subplot(grid[head // cols, head % cols])
        ax.imshow(layer_weights[head].float().numpy(), cmap="viridis", vmin=0.0, vmax=1.0)
        ax.set_xticks(range(length), tokens, rotation=90, fontsize=7)
        ax.set_yticks(range(length), tokens, fontsize=7)
        ax.set_title(f"layer {layer} head {head}", fontsize=8)
    ax = fig.add_subplot(grid[rows - 1, :])
    ax.bar(range(length), cls_weights.float().numpy())
    ax.set_xticks(range(length), tokens, rotation=90, fontsize=7)
    ax.set_ylabel("weight", fontsize=8)
    ax.set_title(f"{tokens[0]} (token 0) attention over the tokens, layer {layer}, heads averaged", fontsize=8)  # [CLS], RoBERTa's <s>
    fig.suptitle(f"{title}\nattention weights: rows are queries, columns keys", fontsize=10)  # short head titles fit short sentences
    return fig
