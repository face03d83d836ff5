"""Each bad input raises ValueError/KeyError/TypeError naming what was expected and what was given."""

import pytest
import torch

from vit_bert import ModelConfig, build_model


@pytest.fixture(scope="module")
def vit():
    return build_model("vit-cifar/4", depth=1)


@pytest.fixture(scope="module")
def bert():
    return build_model("bert-tiny", vocab_size=100, max_len=16)


def test_image_size_not_divisible_by_patch(vit):
    with pytest.raises(ValueError, match=r"30x32 is not divisible by the patch size 4"):
        vit(torch.randn(1, 3, 30, 32))


def test_wrong_channel_count(vit):
    with pytest.raises(ValueError, match=r"expected 3 image channels; got 1"):
        vit(torch.randn(1, 1, 32, 32))


def test_image_not_4d(vit):
    with pytest.raises(ValueError, match=r"\(B, C, H, W\).*\(3, 32, 32\)"):
        vit(torch.randn(3, 32, 32))


def test_token_id_out_of_vocab(bert):
    with pytest.raises(ValueError, match=r"\[0, 99\] \(vocab_size=100\); got ids from 1 to 100"):
        bert(torch.tensor([[1, 5, 100]]))


def test_sequence_longer_than_position_table(bert):
    with pytest.raises(ValueError, match=r"sequence length 17 .*max_len=16"):
        bert(torch.ones(1, 17, dtype=torch.long))


def test_mask_shape_mismatch(bert):
    with pytest.raises(ValueError, match=r"attention_mask must have the same shape as input_ids.*\(1, 4\).*\(1, 3\)"):
        bert(torch.ones(1, 4, dtype=torch.long), attention_mask=torch.ones(1, 3))


def test_all_padding_row(bert):
    with pytest.raises(ValueError, match="at least one real token"):
        bert(torch.ones(2, 4, dtype=torch.long), attention_mask=torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]]))


def test_float_ids(bert):
    with pytest.raises(ValueError, match=r"integer tensor.*torch.float32"):
        bert(torch.ones(1, 4))


def test_unknown_preset_lists_known_ones():
    with pytest.raises(KeyError, match=r"unknown preset 'vit-b/32'.*Did you mean 'vit-b/16'.*bert-mini"):
        build_model("vit-b/32")


def test_unknown_override_key_suggests_closest():
    with pytest.raises(KeyError, match=r"unknown model config key 'num_class'.*Did you mean 'num_classes'"):
        build_model("vit-ti/16", num_class=10)


def test_wrong_override_type():
    with pytest.raises(TypeError, match=r"'depth' must be int; got '6' \(str\)"):
        build_model("vit-ti/16", depth="6")


def test_config_size_not_divisible():
    with pytest.raises(ValueError, match=r"img_size 30 is not divisible by patch_size 4"):
        ModelConfig.from_name("vit-cifar/4", img_size=30)
    with pytest.raises(ValueError, match=r"dim=100, heads=3"):
        ModelConfig(dim=100, heads=3)
