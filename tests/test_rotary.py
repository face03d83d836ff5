"""Rotary positions and local attention in the shared Encoder: every path gives the explicit path's numbers, attention
depends on positions only through their differences, prefix tokens keep no position, and local layers read only near keys."""

import pytest
import torch

from vit_bert import Encoder, build_model
from vit_bert.errors import ConfigError, InputError
from vit_bert.layers.rotary import TokenPositions, rotary_tables, rotate

LENGTHS = [11, 7, 3]


def padded(dim: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    mask = torch.arange(max(LENGTHS))[None] < torch.tensor(LENGTHS)[:, None]
    return torch.randn(len(LENGTHS), max(LENGTHS), dim), mask


def rotary_encoder(**fields) -> Encoder:
    torch.manual_seed(1)
    return Encoder(**{"dim": 32, "depth": 3, "heads": 4, "rope_theta": 10_000.0, **fields}).eval()


@pytest.mark.parametrize("fields", [
    {},
    {"rope_layout": "interleaved"},
    {"local_window": 4, "global_every": 2, "rope_local_theta": 100.0},  # block 1 local, with its own base
    {"qk_norm": True, "norm": "rmsnorm", "mlp": "glu", "mlp_norm": True},
], ids=["half", "interleaved", "local", "qk-norm"])
def test_every_path_equals_the_explicit_arithmetic_on_a_padded_batch(fields):
    encoder = rotary_encoder(**fields)
    x, mask = padded()
    with torch.no_grad():
        explicit, _ = encoder.forward_with_weights(x, mask)
        packed = encoder(x, mask)  # the padding skipped
        first = encoder.forward_first(x, 2, mask)
        states = encoder.forward_intermediates(x, mask)
    assert encoder.packing(mask) is not None
    assert (packed - explicit)[mask].abs().max() <= 1e-5
    assert (first - explicit[:, :2]).abs().max() <= 1e-5
    assert (encoder.norm(states[-1]) - explicit)[mask].abs().max() <= 1e-5


def test_attention_depends_on_positions_only_through_their_differences():
    encoder = rotary_encoder()
    x, _ = padded()
    base = TokenPositions.sequence(x.shape[1])
    shifted = TokenPositions(base.coords + 7.0)
    with torch.no_grad():
        out = encoder(x, positions=base)
        assert (encoder(x, positions=shifted) - out).abs().max() <= 1e-4  # all positions moved by 7: the same function
        order = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(0))
        permuted = encoder(x[:, order], positions=TokenPositions(base.coords[order]))
        assert (permuted - out[:, order]).abs().max() <= 1e-4  # tokens carry their positions with them
        assert (encoder(x[:, order]) - out[:, order]).abs().max() > 1e-2  # ... and the positions matter
        assert (Encoder(dim=32, depth=3, heads=4).eval()(x) - out).abs().max() > 1e-2


def test_two_axis_positions_turn_the_patches_and_leave_prefix_tokens_alone():
    torch.manual_seed(0)
    grid = torch.stack(torch.meshgrid(torch.arange(3.0), torch.arange(4.0), indexing="ij"), -1).flatten(0, 1)  # (12, 2)
    positions = TokenPositions(grid, prefix=2)
    q = torch.randn(2, 4, 14, 16)
    turned = rotate(q, rotary_tables(positions, 16, 100.0, "half"))
    assert torch.equal(turned[:, :, :2], q[:, :, :2])  # [CLS] and a register: no position
    assert torch.allclose(turned.norm(dim=-1), q.norm(dim=-1), atol=1e-5)  # a rotation keeps each vector's length
    assert (turned[:, :, 3:] - q[:, :, 3:]).abs().max() > 1e-2
    assert torch.allclose(turned[:, :, 2], q[:, :, 2], atol=1e-6)  # the patch at (0, 0) has angle 0
    # Moving the whole grid keeps every patch-to-patch score; the prefix tokens' scores with each other too.
    k = torch.randn(2, 4, 14, 16)
    scores = lambda p: rotate(q, rotary_tables(p, 16, 100.0, "half")) @ rotate(k, rotary_tables(p, 16, 100.0, "half")).transpose(-2, -1)
    moved = TokenPositions(grid + torch.tensor([2.0, -3.0]), prefix=2)
    assert torch.allclose(scores(positions)[..., 2:, 2:], scores(moved)[..., 2:, 2:], atol=1e-4)


def test_a_local_layer_reads_only_keys_within_half_its_window_and_a_global_one_reads_all():
    encoder = rotary_encoder(local_window=4, global_every=3)  # blocks 1 and 2 local
    x, mask = padded()
    with torch.no_grad():
        _, weights = encoder.forward_with_weights(x, mask)
    distance = (torch.arange(11)[:, None] - torch.arange(11)[None]).abs()
    for block, w in enumerate(weights):
        far = w[0][:, distance > 2]
        if block == 0:
            assert far.min() > 0  # global: every real key gets some weight
        else:
            assert far.abs().max() == 0
        assert w[1][:, :7, 7:].abs().max() == 0  # padded keys never, local or global
    assert [b.attn.window for b in encoder.blocks] == [None, 4, 4]


def test_an_image_model_with_rotary_positions_only_gives_every_path_the_same_logits():
    model = build_model("dinov3-s/16", img_size=32, patch_size=8, dim=64, depth=2, heads=4, num_classes=3, pool="cls").eval()
    assert model.frontend.pos_embed is None and model.config.num_prefix_tokens == 5
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        fast = model(images)  # the [CLS]-only last block
        explicit, attentions = model(images, return_attention=True)
    assert (fast - explicit).abs().max() <= 1e-5 and attentions[0].shape == (2, 4, 21, 21)


def test_rotary_settings_that_cannot_work_stop_with_one_line():
    with pytest.raises(ConfigError, match="head width dim / heads must be a multiple of 4; got 6"):
        Encoder(dim=24, depth=1, heads=4, rope_theta=10_000.0)
    with pytest.raises(ConfigError, match="rope_local_theta .* needs rope_theta and local_window"):
        Encoder(dim=32, depth=1, heads=4, rope_theta=10_000.0, rope_local_theta=100.0)
    with pytest.raises(ConfigError, match="rope_layout' must be one of"):
        Encoder(dim=32, depth=1, heads=4, rope_theta=10_000.0, rope_layout="spiral")
    with pytest.raises(ConfigError, match="learned_positions=False leaves the tokens without positions: set rope_theta"):
        build_model("bert-mini", learned_positions=False)
    with pytest.raises(ConfigError, match="pos_embed='none' leaves the tokens without positions"):
        build_model("vit-ti/16", pos_embed="none")
    with pytest.raises(ConfigError, match="mlp_norm=True .* needs mlp='glu'"):
        Encoder(dim=32, depth=1, heads=4, mlp_norm=True)
    with pytest.raises(InputError, match="positions give 5 coordinates for 11 tokens with 0 prefix tokens"):
        rotary_encoder()(padded()[0], positions=TokenPositions.sequence(5))
