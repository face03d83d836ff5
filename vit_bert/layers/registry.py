"""Norms, MLPs and activations by config name: the one place a new kind is added.

    NORMS[name](dim, eps=eps)                             -> nn.Module, (..., dim) -> (..., dim)
    MLPS[name](dim, hidden, act_layer, bias, drop)        -> nn.Module, (..., dim) -> (..., dim)
    ACTIVATIONS[name]()                                   -> nn.Module

The modules are timm's and torch's own, so their state-dict keys are timm's: ``mlp.fc1``/``mlp.fc2``
for both MLP kinds (the gated one holds both halves in fc1, as timm's ``SwiGLUPacked``).
"""

from __future__ import annotations

from functools import partial

from timm.layers import GluMlp, Mlp, QuickGELU
from torch import nn

NORMS = {"layernorm": nn.LayerNorm, "rmsnorm": nn.RMSNorm}

ACTIVATIONS = {
    "gelu": nn.GELU,  # exact erf (timm ViT, BERT)
    "gelu_tanh": partial(nn.GELU, approximate="tanh"),  # HF 'gelu_new'
    "quick_gelu": QuickGELU,  # x * sigmoid(1.702 x), OpenAI CLIP
    "silu": nn.SiLU,
}


def _glu(dim: int, hidden: int, act_layer, bias: bool, drop) -> nn.Module:
    # timm's GluMlp takes fc1's width (both halves) and gates the first half: act(a) * b.
    return GluMlp(dim, 2 * hidden, act_layer=act_layer, bias=bias, drop=drop, gate_last=False)


MLPS = {
    "mlp": lambda dim, hidden, act_layer, bias, drop: Mlp(dim, hidden, act_layer=act_layer, bias=bias, drop=drop),
    "glu": _glu,
}
