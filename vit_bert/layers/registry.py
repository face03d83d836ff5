"""Norms, MLPs and activations by config name: the one place a new kind is added.

    NORMS[name](dim, eps=eps, bias=bias)                  -> nn.Module, (..., dim) -> (..., dim)
    MLPS[name](dim, hidden, act_layer, bias, drop, norm)  -> nn.Module, (..., dim) -> (..., dim); norm: a norm factory
                                                             for the hidden layer (glu only, EVA-02's scale_mlp) or None
    ACTIVATIONS[name]()                                   -> nn.Module

The modules are timm's and torch's own, so their state-dict keys are timm's: ``mlp.fc1``/``mlp.fc2``
for both MLP kinds (the gated one holds both halves in fc1, as timm's ``SwiGLUPacked``).
"""

from __future__ import annotations

from functools import partial

from timm.layers import GluMlp, Mlp, QuickGELU
from torch import nn

def _rmsnorm(dim: int, eps: float, bias: bool = False, **factory) -> nn.Module:
    return nn.RMSNorm(dim, eps=eps, **factory)  # no bias to leave out


NORMS = {"layernorm": nn.LayerNorm, "rmsnorm": _rmsnorm}

ACTIVATIONS = {
    "gelu": nn.GELU,  # exact erf (timm ViT, BERT)
    "gelu_tanh": partial(nn.GELU, approximate="tanh"),  # HF 'gelu_new'
    "quick_gelu": QuickGELU,  # x * sigmoid(1.702 x), OpenAI CLIP
    "silu": nn.SiLU,
    "relu": nn.ReLU,  # DistilBERT's classifier, some BERTs' MLPs
    "tanh": nn.Tanh,  # BERT's and RoBERTa's pooler
}


def _glu(dim: int, hidden: int, act_layer, bias: bool, drop, norm=None) -> nn.Module:
    # timm's GluMlp takes fc1's width (both halves) and gates the first half: act(a) * b, then its norm (``mlp.norm``).
    return GluMlp(dim, 2 * hidden, act_layer=act_layer, bias=bias, drop=drop, gate_last=False, norm_layer=norm)


def _mlp(dim: int, hidden: int, act_layer, bias: bool, drop, norm=None) -> nn.Module:
    return Mlp(dim, hidden, act_layer=act_layer, bias=bias, drop=drop)


MLPS = {"mlp": _mlp, "glu": _glu}
