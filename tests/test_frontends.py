import pytest
import torch
import torch.nn.functional as F

from vit_bert import ImageFrontEnd, PatchEmbedding, TextFrontEnd, build_model
from conftest import padded_batch


def test_patch_embedding_linear_equals_conv2d():
    embed = PatchEmbedding(patch_size=4, in_chans=3, dim=24)
    images = torch.randn(2, 3, 16, 12)
    by_linear = embed(images)
    by_conv = F.conv2d(images, embed.conv_weight(), embed.proj.bias, stride=4).flatten(2).transpose(1, 2)
    assert by_linear.shape == (2, 12, 24)
    assert (by_linear - by_conv).abs().max() <= 1e-5


def test_224_with_16_pixel_patches_gives_197_tokens_cls_first():
    front = ImageFrontEnd(img_size=224, patch_size=16, dim=64)
    encoded = front(torch.randn(1, 3, 224, 224))
    tokens, mask = encoded.tokens, encoded.mask
    assert tokens.shape == (1, 197, 64)
    assert mask is None
    # token 0 is the [CLS] vector plus its position embedding, independent of the image
    encoded = front(torch.randn(1, 3, 224, 224))
    other, _ = encoded.tokens, encoded.mask
    torch.testing.assert_close(tokens[:, 0], other[:, 0])
    assert not torch.allclose(tokens[:, 1], other[:, 1])


@pytest.mark.parametrize("kind", ["learned", "sincos"])
def test_position_embeddings_interpolate_for_other_sizes(kind):
    front = ImageFrontEnd(img_size=32, patch_size=4, dim=16, pos_embed=kind)
    assert front.position_embeddings((8, 8)) is front.pos_embed  # configured size: untouched
    encoded = front(torch.randn(2, 3, 48, 64))
    tokens, _ = encoded.tokens, encoded.mask
    assert tokens.shape == (2, 1 + 12 * 16, 16)
    assert front.position_embeddings((12, 16)).shape == (1, 1 + 12 * 16, 16)
    assert front.pos_embed.shape == (1, 65, 16)


def test_learned_interpolation_to_same_grid_is_identity():
    from timm.layers import resample_abs_pos_embed
    front = ImageFrontEnd(img_size=32, patch_size=4, dim=16)
    same = resample_abs_pos_embed(front.pos_embed, new_size=[8, 8], old_size=[8, 8], num_prefix_tokens=1)
    torch.testing.assert_close(same, front.pos_embed)


def test_without_class_token():
    front = ImageFrontEnd(img_size=32, patch_size=8, dim=16, class_token=False)
    assert front(torch.randn(1, 3, 32, 32)).tokens.shape == (1, 16, 16)


def test_text_front_end_shapes_and_mask():
    front = TextFrontEnd(vocab_size=50, dim=16, max_len=10)
    ids, mask = padded_batch(50, [6, 3])
    encoded = front(ids, attention_mask=mask)
    tokens, out_mask = encoded.tokens, encoded.mask
    assert tokens.shape == (2, 6, 16)
    assert out_mask.dtype == torch.bool and out_mask.tolist() == mask.bool().tolist()


@pytest.mark.parametrize("pool", ["cls", "mean", "max"])
def test_padding_does_not_change_real_token_outputs(pool):
    model = build_model("bert-tiny", vocab_size=100, pool=pool).eval()
    ids, mask = padded_batch(100, [7])
    padded_ids = torch.cat([ids, torch.zeros(1, 9, dtype=torch.long)], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(1, 9, dtype=torch.long)], dim=1)
    short = model.forward_features(ids, attention_mask=mask)
    long = model.forward_features(padded_ids, attention_mask=padded_mask)
    assert (short - long[:, :7]).abs().max() <= 1e-5
    assert (model(ids, attention_mask=mask) - model(padded_ids, attention_mask=padded_mask)).abs().max() <= 1e-5


def test_fast_and_explicit_paths_agree_in_a_padded_text_model():
    model = build_model("bert-mini", vocab_size=100).eval()
    ids, mask = padded_batch(100, [12, 5, 8])
    fast = model(ids, attention_mask=mask)
    explicit, attentions = model(ids, attention_mask=mask, return_attention=True)
    assert (fast - explicit).abs().max() <= 1e-5
    assert len(attentions) == 4 and attentions[0].shape == (3, 4, 12, 12)
    assert attentions[-1][1, :, :, 5:].abs().max() == 0  # no weight on padding


@pytest.mark.parametrize("size, patch, stages", [(32, 4, 2), (224, 16, 4)])
def test_conv_stem_gives_the_patch_grid(size, patch, stages):
    front = ImageFrontEnd(img_size=size, patch_size=patch, dim=64, stem="conv")
    assert len(front.patch_embed.stages) == stages
    encoded = front(torch.randn(2, 3, size, size))
    tokens, mask = encoded.tokens, encoded.mask
    assert tokens.shape == (2, 1 + (size // patch) ** 2, 64) and mask is None
    # Another input size: the grid follows the stride, positions are resampled.
    assert front(torch.randn(1, 3, size + 2 * patch, size)).tokens.shape == (1, 1 + (size // patch + 2) * (size // patch), 64)


def test_conv_stem_needs_a_power_of_two_patch():
    with pytest.raises(ValueError, match="power of 2.*got 6"):
        build_model("vit-cifar/4", img_size=36, patch_size=6, stem="conv")
    with pytest.raises(ValueError, match=r"stem.*\('patch', 'conv'\).*'convs'"):
        build_model("vit-cifar/4", stem="convs")
