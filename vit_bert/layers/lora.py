"""LoRA (Hu et al. 2021): low-rank updates of the encoder's projections, as torch parametrizations of their weights.

    LoRAConfig(rank=8, alpha=16.0, targets=("q", "v"))   which projections adapt: "q", "k", "v" (row blocks of the fused
                                qkv weight (3D, D), each its own A (r, D) and B (D, r)), "proj" (attention output), "fc1",
                                "fc2" (the MLP)
    LowRankUpdate               the parametrization: weight (out, in) -> weight + alpha / rank * B_s @ A_s on each row span s
    add_lora(encoder, config)   -> the names of the adapted weights; B starts at zero, so the model computes what it did
    merge_lora(module)          the updates folded into plain weights, the parametrizations removed
    merged_state_dict(state)    the same on a state dict alone (a checkpoint's): ``X.parametrizations.weight.original`` and
                                its adapters -> ``X.weight``; every other key as it is
Why parametrizations: the attention reads ``qkv.weight`` itself (the fused, packed and first-token paths), so the
update is seen wherever the weight is, and merging is exact. The price: each adapted projection's dense weight
gradient is still formed before it reaches A and B.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrize

from ..errors import ConfigError

TARGETS = ("q", "k", "v", "proj", "fc1", "fc2")
_ORIGINAL = re.compile(r"^(.*)\.parametrizations\.weight\.original$")


@dataclass(frozen=True)
class LoRAConfig:
    rank: int = 8
    """The rank r of each update."""
    alpha: float = 16.0
    """The updates are scaled by alpha / rank."""
    targets: tuple[str, ...] = ("q", "v")
    """Which projections adapt: q, k, v (attention inputs), proj (attention output), fc1, fc2 (the MLP)."""

    def __post_init__(self):
        if not isinstance(self.rank, int) or isinstance(self.rank, bool) or self.rank < 1:
            raise ConfigError(f"lora.rank={self.rank!r}: expected a positive integer")
        if not isinstance(self.alpha, (int, float)) or not self.alpha > 0:
            raise ConfigError(f"lora.alpha={self.alpha!r}: expected a positive number")
        unknown = sorted(set(self.targets) - set(TARGETS))
        if unknown or not self.targets:
            raise ConfigError(f"lora.targets={list(self.targets)}: expected some of {', '.join(TARGETS)}")


class LowRankUpdate(nn.Module):
    """weight (out, in) -> weight + scale * B_s @ A_s on each span s of rows (start, end). The spans and the scale are
    buffers, so a state dict says how to merge it."""

    def __init__(self, in_features: int, spans: dict[str, tuple[int, int]], rank: int, alpha: float):
        super().__init__()
        self.names = sorted(spans, key=lambda name: spans[name][0])
        for name in self.names:
            start, end = spans[name]
            a = nn.Parameter(torch.empty(rank, in_features))
            nn.init.kaiming_uniform_(a, a=math.sqrt(5))  # as nn.Linear initialises; B at zero makes the update zero
            self.register_parameter(f"A_{name}", a)
            self.register_parameter(f"B_{name}", nn.Parameter(torch.zeros(end - start, rank)))
            self.register_buffer(f"span_{name}", torch.tensor([start, end]))
        self.register_buffer("scale", torch.tensor(alpha / rank))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        pieces, at = [], 0
        for name in self.names:
            start, end = (int(i) for i in getattr(self, f"span_{name}"))
            update = getattr(self, f"B_{name}") @ getattr(self, f"A_{name}")
            pieces += [weight[at:start], weight[start:end] + self.scale.to(weight.dtype) * update.to(weight.dtype)]
            at = end
        return torch.cat([*pieces, weight[at:]])


def _spans(block: nn.Module, targets: tuple[str, ...]) -> dict[nn.Linear, dict[str, tuple[int, int]]]:
    dim = block.attn.qkv.in_features
    found = {}
    qkv = {part: (i * dim, (i + 1) * dim) for i, part in enumerate("qkv") if part in targets}
    if qkv:
        found[block.attn.qkv] = qkv
    for name, linear in (("proj", block.attn.proj), ("fc1", block.mlp.fc1), ("fc2", block.mlp.fc2)):
        if name in targets:
            found[linear] = {name: (0, linear.out_features)}
    return found


def add_lora(encoder: nn.Module, config: LoRAConfig) -> list[str]:
    """Adapters on ``encoder.blocks``; -> the adapted weights' names (``blocks.0.attn.qkv.weight`` ...)."""
    names = {module: name for name, module in encoder.named_modules()}
    adapted = []
    for block in encoder.blocks:
        for linear, spans in _spans(block, config.targets).items():
            if parametrize.is_parametrized(linear, "weight"):
                raise ConfigError(f"{names[linear]} has LoRA adapters already; merge them first (merge_lora)")
            parametrize.register_parametrization(linear, "weight", LowRankUpdate(linear.in_features, spans, config.rank, config.alpha))
            adapted.append(f"{names[linear]}.weight")
    return adapted


def merge_lora(module: nn.Module) -> int:
    """Fold every LoRA update under ``module`` into its weight; -> how many weights were merged."""
    merged = 0
    for child in list(module.modules()):
        if parametrize.is_parametrized(child, "weight") and any(isinstance(p, LowRankUpdate) for p in child.parametrizations.weight):
            parametrize.remove_parametrizations(child, "weight", leave_parametrized=True)
            merged += 1
    return merged


def merged_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state_dict.items():
        match = _ORIGINAL.match(key)
        if match is None:
            if ".parametrizations.weight." not in key:
                out[key] = value
            continue
        base = f"{match.group(1)}.parametrizations.weight.0."
        weight = value.clone()
        scale = state_dict[base + "scale"]
        for span_key in [k for k in state_dict if k.startswith(base + "span_")]:
            name = span_key[len(base + "span_"):]
            start, end = (int(i) for i in state_dict[span_key])
            weight[start:end] += (scale * state_dict[f"{base}B_{name}"] @ state_dict[f"{base}A_{name}"]).to(weight.dtype)
        out[f"{match.group(1)}.weight"] = weight
    return out
