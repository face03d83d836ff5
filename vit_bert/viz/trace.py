"""Trace one layer's self-attention with the model's real tensors, step by step, and check it.

    trace_layer(model, batch, layer, head, index, tokens, out=print) -> dict of the traced tensors
    trace_layers(model, batch, layers, head, ...) -> [that dict per layer], from one forward
        X (L, D), Q/K/V (L, d), scores/weights (L, L), out (L, d) of ``head``; "heads": the same of every head,
        Q/K/V/out (heads, L, d) and weights (heads, L, L); cls (D,): token 0 of the encoder's normed output

Prints the textbook walkthrough for one head (X, W_Q/W_K/W_V, Q/K/V, scores, softmax(scores/sqrt(d)),
weights @ V) and recomputes the whole layer with the attention written out by hand for all heads and
everything else through the block's own submodules (Q/K/V projection, output projection, norms,
LayerScale, MLP), so a new block setting needs no second implementation here. It raises
AssertionError unless that equals the layer output the model itself computed in its ordinary
(fast-path) forward.
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


def projection_notes(block, unturned: int = 0) -> list[str]:
    """What the block does to Q and K beyond X W + b, in words: QK-norm, rotary positions (``unturned``: the prefix
    tokens they leave alone), a local layer's window."""
    attn, notes = block.attn, []
    if not isinstance(attn.q_norm, torch.nn.Identity):
        notes.append("Q and K each normalised (QK-norm)")
    if block.rope_theta:
        notes.append(f"Q and K turned by rotary positions (base {block.rope_theta:g}{f', the first {unturned} tokens unturned' if unturned else ''}): "
                     "the Q and K shown are turned")
    if attn.window is not None:
        notes.append(f"a local layer: each token reads the tokens at most {attn.window // 2} positions away")
    return notes


@torch.no_grad()
def trace_layer(model, batch: dict, layer: int = 0, head: int = 0, index: int = 0, tokens: list[str] | None = None, out=print) -> dict:
    return trace_layers(model, batch, [layer], head, index, tokens, out)[0]


@torch.no_grad()
def trace_layers(model, batch: dict, layers: list[int], head: int = 0, index: int = 0, tokens: list[str] | None = None, out=print) -> list[dict]:
    """``trace_layer`` for several layers, from one forward of the model."""
    blocks = model.encoder.blocks
    for layer in layers:
        if not -len(blocks) <= layer < len(blocks):
            raise ConfigError(f"layer {layer} does not exist; the model has {len(blocks)} layers")
        if not 0 <= head < blocks[layer].attn.heads:
            raise ConfigError(f"head {head} does not exist; layer {layer % len(blocks)} has {blocks[layer].attn.heads} heads "
                              f"(0..{blocks[layer].attn.heads - 1})")
    with eval_mode(model):  # no dropout, in the model's forward and in the recomputation
        encoder_input = model.frontend(**batch)
        tokens_in, mask, positions = encoder_input.tokens, encoder_input.mask, encoder_input.positions
        # The model's own fast path (packed when padded), every block's input and output.
        states = model.encoder.forward_intermediates(tokens_in, mask, positions)
        final = model.encoder.norm(states[-1])
        rotations = model.encoder.rotations(tokens_in, positions)
        chosen = [layer % len(blocks) for layer in layers]
        return [_walkthrough(model, blocks[i], states[i], states[i + 1], mask, rotations[i], final, i, head, index, tokens, out) for i in chosen]


def _walkthrough(model, block, block_in, block_out, mask, rotation, final, layer: int, head: int, index: int, tokens, out) -> dict:
    """Recompute one block for one sample through the block's own submodules (its norms, Q/K/V projection with
    whatever it does to Q and K: QK-norm, rotary positions; output projection, LayerScale and MLP), with the attention
    written out by hand."""
    attn, blocks = block.attn, model.encoder.blocks
    x = block_in[index : index + 1].float()  # (1, L, D)
    mask = mask[index : index + 1] if mask is not None else None
    length, dim = x.shape[1:]
    d = attn.head_dim
    labels = tokens or [f"t{i}" for i in range(length)]
    X = block.attention_input(x)
    weight = attn.qkv.weight.float()
    # W_Q of one head is (D, d): the head's rows of the fused (3D, D) qkv weight, transposed.
    rows = [slice(part * dim + head * d, part * dim + (head + 1) * d) for part in range(3)]
    W_Q, W_K, W_V = (weight[r].T for r in rows)
    seen = {}

    def attend(h: torch.Tensor) -> torch.Tensor:
        """The attention of every head, by hand, on the block's own Q/K/V projection."""
        q, k, v = attn.project(h, rotation)  # (1, heads, L, d) each, Q and K as the scores see them (rotated, if rotary)
        scores = q @ k.transpose(-2, -1)
        scaled = scores / math.sqrt(d)
        allowed = attn.allowed(mask, length, length)  # the padding mask, and a local layer's window
        if allowed is not None:
            scaled = scaled.masked_fill(~allowed, float("-inf"))
        weights = scaled.softmax(dim=-1)
        heads_out = weights @ v
        seen.update(Q=q[0, head], K=k[0, head], V=v[0, head], scores=scores[0, head], weights=weights[0, head], out=heads_out[0, head],
                    heads=dict(Q=q[0], K=k[0], V=v[0], weights=weights[0], out=heads_out[0]))
        seen["concat"] = rearrange(heads_out, "b h l d -> b l (h d)")
        return attn.output(seen["concat"])

    traced = block.mlp_branch(block.attention_branch(x, attend, x))[0]
    Q, K, V, scores, weights, head_out, concat = (seen[k] for k in ("Q", "K", "V", "scores", "weights", "out", "concat"))
    concat = concat[0]
    real = mask[0] if mask is not None else torch.ones(length, dtype=torch.bool)
    difference = float((traced - block_out[index].float())[real].abs().max())
    X, mask = X[0], (mask[0] if mask is not None else None)

    where = "LayerNorm(x) (pre-norm block)" if block.pre_norm else "x as it enters the block (post-norm)"
    out(f"Self-attention traced with the model's tensors: layer {layer % len(blocks)}, head {head} of {attn.heads}, sample {index}")
    out(f"  tokens (L = {length}): {' '.join(labels[:24])}{' ...' if length > 24 else ''}")
    out(f"  X        {tuple(X.shape)}  the layer's input, {where}")
    for name in ("W_Q", "W_K", "W_V"):
        out(f"  {name}      {(dim, d)}  D -> d = {dim} / {attn.heads} heads: this head's rows of the fused qkv weight, transposed")
    notes = projection_notes(block, rotation.prefix if rotation is not None else 0)
    out(f"  Q = X W_Q + b_Q {tuple(Q.shape)};  K = X W_K + b_K {tuple(K.shape)};  V = X W_V + b_V {tuple(V.shape)}"
        + "".join(f"; {note}" for note in notes))
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
    out(f"  {_token_0(model.config)} (token 0 of the encoder's output{_what_the_head_reads(model.config)}): shape {tuple(cls.shape)}, "
        f"first values {', '.join(f'{float(v):.3f}' for v in cls[:6])} ...")
    return {"X": X, "W_Q": W_Q, "W_K": W_K, "W_V": W_V, "Q": Q, "K": K, "V": V, "scores": scores, "weights": weights,
            "out": head_out, "heads": seen["heads"], "layer_output": traced[real], "model_layer_output": block_out[index][real], "cls": cls, "difference": difference}


def _token_0(config) -> str:
    return "[CLS] vector" if config.modality == "text" or config.class_token else "token 0's vector (this model has no [CLS])"


def _what_the_head_reads(config) -> str:
    if config.head != "classifier":
        return f"; the {config.head!r} head reads every token, not this one alone"
    if config.pool != "cls":
        return f", one of the tokens the head's {config.pool!r} pooling reads"
    return ", what the head classifies"
