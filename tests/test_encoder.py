import pytest
import torch

from vit_bert import Encoder


@pytest.mark.parametrize("pre_norm", [True, False])
def test_encoder_shapes_and_attention_list(pre_norm):
    enc = Encoder(dim=32, depth=3, heads=4, pre_norm=pre_norm).eval()
    x = torch.randn(2, 6, 32)
    out, attentions = enc.forward_with_weights(x)
    assert out.shape == (2, 6, 32)
    assert [a.shape for a in attentions] == [(2, 4, 6, 6)] * 3
    assert (enc(x) - out).abs().max() <= 1e-5


def test_pre_norm_has_final_norm_post_norm_does_not():
    assert isinstance(Encoder(dim=16, depth=1, heads=2, pre_norm=True).norm, torch.nn.LayerNorm)
    assert isinstance(Encoder(dim=16, depth=1, heads=2, pre_norm=False).norm, torch.nn.Identity)


def test_drop_path_rates_increase_linearly():
    enc = Encoder(dim=16, depth=5, heads=2, drop_path=0.4)
    rates = [getattr(b.drop_path1, "drop_prob", 0.0) for b in enc.blocks]
    assert rates == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_grad_checkpointing_gives_identical_gradients():
    torch.manual_seed(0)
    plain = Encoder(dim=32, depth=2, heads=4)
    ckpt = Encoder(dim=32, depth=2, heads=4, grad_checkpointing=True)
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 5, 32)
    plain(x).square().sum().backward()
    ckpt(x).square().sum().backward()
    for (name, a), b in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=name)


def test_bad_shapes_raise_with_expected_and_given():
    enc = Encoder(dim=32, depth=1, heads=4)
    with pytest.raises(ValueError, match=r"\(B, L, 32\).*\(2, 5, 16\)"):
        enc(torch.randn(2, 5, 16))
    with pytest.raises(ValueError, match=r"\(2, 5\).*\(2, 4\)"):
        enc(torch.randn(2, 5, 32), torch.ones(2, 4, dtype=torch.bool))


@pytest.mark.parametrize("pre_norm", [True, False])
@pytest.mark.parametrize("grad_checkpointing", [False, True])
def test_keep_first_tokens_matches_full_output_and_gradients(pre_norm, grad_checkpointing):
    """forward_first(x, 1) (what a [CLS] head needs) equals token 0 of the full output, padding and packing included."""
    torch.manual_seed(0)
    full = Encoder(dim=32, depth=3, heads=4, pre_norm=pre_norm)
    short = Encoder(dim=32, depth=3, heads=4, pre_norm=pre_norm, grad_checkpointing=grad_checkpointing)
    short.load_state_dict(full.state_dict())
    x = torch.randn(3, 7, 32)
    mask = torch.tensor([[True] * 7, [True] * 4 + [False] * 3, [True] * 2 + [False] * 5])
    for m in (None, mask):
        expected = full(x, m)[:, :1]
        kept = short.forward_first(x, 1, m)
        assert kept.shape == (3, 1, 32)
        torch.testing.assert_close(kept, expected)
        full.zero_grad()
        short.zero_grad()
        expected.square().sum().backward()
        kept.square().sum().backward()
        for (name, a), b in zip(full.named_parameters(), short.parameters()):
            torch.testing.assert_close(a.grad, b.grad, msg=name)


def test_keep_first_tokens_skips_work():
    from torch.utils.flop_counter import FlopCounterMode

    enc = Encoder(dim=64, depth=2, heads=4, mlp_ratio=4.0).eval()
    x = torch.randn(2, 50, 64)
    flops = {}
    for keep, forward in ((None, enc), (1, lambda x: enc.forward_first(x, 1))):
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            forward(x)
        flops[keep] = counter.get_total_flops()
    # Block 2 keeps its K/V projections (2 of 12 D^2 per token): ~5/12 of the whole is skipped.
    assert flops[1] < 0.65 * flops[None]


def test_every_path_agrees_with_the_knobs_on():
    """RMSNorm, a gated SiLU MLP, LayerScale, QK-norm and no projection biases: fused, explicit, first-n and packed paths agree."""
    from vit_bert import EncoderConfig

    torch.manual_seed(0)
    config = EncoderConfig(dim=32, depth=2, heads=4, norm="rmsnorm", mlp="glu", act="silu", mlp_hidden=48, layer_scale=0.5, qk_norm=True,
                           proj_bias=False, mlp_bias=False)
    enc = Encoder(config).eval()
    x = torch.randn(3, 7, 32)
    mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [1] * 2 + [0] * 5], dtype=torch.bool)
    with torch.no_grad():
        fused = enc(x, mask)  # packed: the padded rows skip their padding
        explicit, weights = enc.forward_with_weights(x, mask)
        first = enc.forward_first(x, 2, mask)
    real = mask[..., None]
    assert torch.allclose(fused * real, explicit * real, atol=1e-5)
    assert torch.allclose(first, explicit[:, :2], atol=1e-5)
    assert weights[0].shape == (3, 4, 7, 7) and float(weights[0][2, :, :, 2:].abs().max()) == 0.0
    assert enc.blocks[0].mlp.fc1.weight.shape == (96, 32) and enc.blocks[0].attn.proj.bias is None
