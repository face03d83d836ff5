import math

import torch

from vit_bert import SelfAttention


def test_fast_path_equals_explicit_path_without_mask():
    attn = SelfAttention(dim=64, heads=4).eval()
    x = torch.randn(3, 11, 64)
    fast = attn(x)
    explicit, weights = attn.forward_with_weights(x)
    assert isinstance(fast, torch.Tensor)  # the fused path returns the output alone
    assert weights.shape == (3, 4, 11, 11)
    assert (fast - explicit).abs().max() <= 1e-5


def test_fast_path_equals_explicit_path_with_padding_mask():
    attn = SelfAttention(dim=32, heads=2).eval()
    x = torch.randn(2, 7, 32)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0, 0]], dtype=torch.bool)
    fast = attn(x, mask)
    explicit, weights = attn.forward_with_weights(x, mask)
    assert (fast - explicit).abs().max() <= 1e-5
    # padded keys get exactly zero weight, and every row is a distribution
    assert weights[1, :, :, 3:].abs().max() == 0
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 7))


def test_explicit_path_is_the_textbook_arithmetic():
    """Q, K, V = X W; softmax(Q K^T / sqrt(d)) V per head, concatenated and projected."""
    attn = SelfAttention(dim=8, heads=2).eval()
    x = torch.randn(1, 5, 8)
    w_q, w_k, w_v = attn.qkv.weight.chunk(3)
    b_q, b_k, b_v = attn.qkv.bias.chunk(3)
    heads = []
    for h in range(2):
        sl = slice(4 * h, 4 * h + 4)
        q = x[0] @ w_q[sl].T + b_q[sl]
        k = x[0] @ w_k[sl].T + b_k[sl]
        v = x[0] @ w_v[sl].T + b_v[sl]
        scores = q @ k.T / math.sqrt(4)
        heads.append(torch.softmax(scores, dim=-1) @ v)
    expected = attn.proj(torch.cat(heads, dim=-1))
    out, _ = attn.forward_with_weights(x)
    torch.testing.assert_close(out[0], expected)
