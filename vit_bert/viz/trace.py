"""Trace one layer's self-attention with the model's real tensors, step by step, and check it.

    trace_layer(model, batch, layer, head, index, tokens, out=print) -> dict of the traced tensors

Prints the textbook walkthrough for one head (X, W_Q/W_K/W_V, Q/K/V, scores, softmax(scores/sqrt(d)),
weights @ V) and then recomputes the whole layer by hand from the same arithmetic for all heads
(concatenate, proj, residual, LayerNorm, MLP). It raises AssertionError unless that equals the
layer output the model itself computed in its ordinary (fast-path) forward.
"""

from __future__ import annotations

import math

import torch
from einops import rearrange

from ..errors import ConfigError
from ..model import eval_mode

SHOW = 12  # largest matrix side printed in full


def _matrix(m: torch.Tensor, labels: list[str]) -> str:
    n = min(SHOW, m.shape[0])
    names = [label[:10] for label in labels[:n]]
    width = max(6, *(len(x) for x in names))
    lines = [" " * (width + 1) + " ".join(f"{x:>{width}}" for x in names)]
    lines += [f"{names[i]:>{width}} " + " ".join(f"{float(v):>{width}.3f}" for v in m[i, :n]) for i in range(n)]
    if m.shape[0] > n:
        lines.append(f"  ... (first {n} of {m.shape[0]} tokens shown)")
    return "\n".join("    " + line for line in lines)


@torch.no_grad()
def trace_layer(model, batch: dict, layer: int = 0, head: int = 0, index: int = 0, tokens: list[str] | None = None, out=print) -> dict:
    blocks = model.encoder.blocks
    if not -len(blocks) <= layer < len(blocks):
        raise ConfigError(f"layer {layer} does not exist; the model has {len(blocks)} layers")
    layer = layer % len(blocks)
    if not 0 <= head < blocks[layer].attn.heads:
        raise ConfigError(f"head {head} does not exist; layer {layer} has {blocks[layer].attn.heads} heads (0..{blocks[layer].attn.heads - 1})")
    with eval_mode(model):  # no dropout, in the model's forward and in the recomputation
        tokens_in, mask = model.frontend(**batch)
        # The model's own fast path (packed when padded), every block's input and output.
        states = model.encoder.forward_intermediates(tokens_in, mask)
        final = model.encoder.norm(states[-1])
        return _walkthrough(model, blocks[layer], states[layer], states[layer + 1], mask, final, layer, head, index, tokens, out)


def _walkthrough(model, block, block_in, block_out, mask, final, layer: int, head: int, index: int, tokens, out) -> dict:
    attn, blocks = block.attn, model.encoder.blocks
    x = block_in[index].float()
    mask = mask[index] if mask is not None else None
    length, dim = x.shape
    d = attn.head_dim
    labels = tokens or [f"t{i}" for i in range(length)]
    X = block.norm1(x) if block.pre_norm else x
    weight = attn.qkv.weight.float()
    bias = attn.qkv.bias.float() if attn.qkv.bias is not None else torch.zeros(3 * dim)
    # W_Q of one head is (D, d): the head's rows of the fused (3D, D) qkv weight, transposed.
    rows = [slice(part * dim + head * d, part * dim + (head + 1) * d) for part in range(3)]
    W_Q, W_K, W_V = (weight[r].T for r in rows)
    Q, K, V = (X @ W + bias[r] for W, r in zip((W_Q, W_K, W_V), rows))
    scores = Q @ K.T
    scaled = scores / math.sqrt(d)
    if mask is not None:
        scaled = scaled.masked_fill(~mask[None, :], float("-inf"))
    weights = scaled.softmax(dim=-1)
    head_out = weights @ V

    # The same arithmetic for every head, then the rest of the block, by hand.
    q, k, v = rearrange(X @ weight.T + bias, "l (three h d) -> three h l d", three=3, h=attn.heads)
    all_scores = (q @ k.transpose(-2, -1)) / math.sqrt(d)
    if mask is not None:
        all_scores = all_scores.masked_fill(~mask[None, None, :], float("-inf"))
    concat = rearrange(all_scores.softmax(dim=-1) @ v, "h l d -> l (h d)")
    attn_out = attn.proj(concat)
    if block.pre_norm:
        hidden = x + attn_out
        traced = hidden + block.mlp(block.norm2(hidden))
    else:
        hidden = block.norm1(x + attn_out)
        traced = block.norm2(hidden + block.mlp(hidden))
    real = mask if mask is not None else torch.ones(length, dtype=torch.bool)
    difference = float((traced - block_out[index].float())[real].abs().max())

    where = "LayerNorm(x) (pre-norm block)" if block.pre_norm else "x as it enters the block (post-norm)"
    out(f"Self-attention traced with the model's tensors: layer {layer % len(blocks)}, head {head} of {attn.heads}, sample {index}")
    out(f"  tokens (L = {length}): {' '.join(labels[:24])}{' ...' if length > 24 else ''}")
    out(f"  X        {tuple(X.shape)}  the layer's input, {where}")
    for name in ("W_Q", "W_K", "W_V"):
        out(f"  {name}      {(dim, d)}  D -> d = {dim} / {attn.heads} heads: this head's rows of the fused qkv weight, transposed")
    out(f"  Q = X W_Q + b_Q {tuple(Q.shape)};  K = X W_K + b_K {tuple(K.shape)};  V = X W_V + b_V {tuple(V.shape)}")
    out(f"  scores = Q K^T  {tuple(scores.shape)}  (row i: how well query i matches each key)")
    out(_matrix(scores, labels))
    masked = "" if mask is None or bool(mask.all()) else f"; {int((~mask).sum())} padded keys get weight 0"
    out(f"  weights = softmax(scores / sqrt({d}) = scores / {math.sqrt(d):.3f}), row-wise  {tuple(weights.shape)}{masked}")
    out(_matrix(weights, labels))
    out(f"  row sums: {', '.join(f'{float(s):.3f}' for s in weights.sum(dim=-1)[:SHOW])}")
    out(f"  out = weights V  {tuple(head_out.shape)};  {attn.heads} heads concatenated {tuple(concat.shape)} -> proj -> "
        f"residual{' + LayerNorm' if not block.pre_norm else ''} -> MLP -> layer output {tuple(traced.shape)}")
    out(f"  check: traced layer output vs the model's own forward: max |difference| = {difference:.2e}")
    if difference > 1e-4:
        raise AssertionError(f"the traced computation differs from the model's forward by {difference:.2e} (> 1e-4)")
    cls = final[index, 0].float()
    out(f"  [CLS] vector (token 0 of the encoder's output, what the head classifies): shape {tuple(cls.shape)}, "
        f"first values {', '.join(f'{float(v):.3f}' for v in cls[:6])} ...")
    return {"X": X, "W_Q": W_Q, "W_K": W_K, "W_V": W_V, "Q": Q, "K": K, "V": V, "scores": scores, "weights": weights,
            "out": head_out, "layer_output": traced[real], "model_layer_output": block_out[index][real], "cls": cls, "difference": difference}
