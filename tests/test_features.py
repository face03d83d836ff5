"""forward_intermediates and prune_intermediate_layers as timm spells them: equal to timm's own on the same weights (ViT,
DINOv2 with registers, EVA-02), and for text (B, T, D) with the padding mask, each sequence as it is alone."""

import pytest
import timm
import torch

import vit_bert
from vit_bert.errors import InputError

OPTIONS = [dict(), dict(indices=2, norm=True), dict(indices=[0, -1], output_fmt="NLC", return_prefix_tokens=True),
           dict(indices=[1], stop_early=True), dict(indices=2, intermediates_only=True, return_prefix_tokens=True)]


def flat(output):
    if torch.is_tensor(output):
        return [output]
    return [t for part in (output.values() if isinstance(output, dict) else output) for t in flat(part)]


def jittered(name, **kwargs):
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False, depth=3, **kwargs).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return model


@pytest.mark.parametrize("name, size", [("vit_tiny_patch16_224", 64), ("vit_small_patch14_reg4_dinov2", 56), ("eva02_tiny_patch14_224", 56)])
def test_intermediates_equal_timms_own(name, size):
    theirs = jittered(name, img_size=size)
    ours = vit_bert.load_pretrained(theirs).eval()
    images = torch.randn(2, 3, size, size)
    for options in OPTIONS:
        with torch.no_grad():
            expected, got = flat(theirs.forward_intermediates(images, **options)), flat(ours.forward_intermediates(images, **options))
        assert [t.shape for t in got] == [t.shape for t in expected], options
        assert max(float((a - b).abs().max()) for a, b in zip(got, expected)) < 1e-5, options
    if name.startswith("vit_"):  # timm's dict form (Eva has none)
        with torch.no_grad():
            expected = theirs.forward_intermediates(images, indices=1, output_dict=True, return_prefix_tokens=True)
            got = ours.forward_intermediates(images, indices=1, output_dict=True, return_prefix_tokens=True)
        assert sorted(got) == sorted(expected)
        assert all((got[k][0] if isinstance(got[k], list) else got[k]).allclose(
            expected[k][0] if isinstance(expected[k], list) else expected[k], atol=1e-5) for k in got)


def test_pruning_keeps_the_blocks_asked_for_as_timm_does(tmp_path):
    theirs = jittered("vit_small_patch14_reg4_dinov2", img_size=56)
    ours = vit_bert.load_pretrained(theirs).eval()
    assert ours.prune_intermediate_layers([0, 1], prune_norm=True) == theirs.prune_intermediate_layers([0, 1], prune_norm=True) == [0, 1]
    assert (len(ours.encoder.blocks), ours.config.depth, ours.config.num_classes, ours.config.final_norm) == (2, 2, 0, False)
    images = torch.randn(2, 3, 56, 56)
    with torch.no_grad():
        expected, got = theirs.forward_intermediates(images, indices=[0, 1]), ours.forward_intermediates(images, indices=[0, 1])
        assert max(float((a - b).abs().max()) for a, b in zip(flat(got), flat(expected))) < 1e-5
        again = vit_bert.load_pretrained(ours.save_pretrained(tmp_path / "pruned")).eval()  # a smaller model, saved and read back
        assert (again.forward_features(images) - ours.forward_features(images)).abs().max() == 0


def test_text_intermediates_carry_the_padding_mask_and_match_each_sequence_alone():
    torch.manual_seed(0)
    model = vit_bert.build_model("bert-mini", vocab_size=50, num_classes=2).eval()
    ids = torch.randint(5, 50, (2, 7))
    mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3])
    with torch.no_grad():
        out = model.forward_intermediates(ids, attention_mask=mask, indices=[0, -1], norm=True, output_dict=True)
        alone = model.forward_intermediates(ids[1:, :4], indices=[0, -1], norm=True, intermediates_only=True)
    assert out["attention_mask"].tolist() == mask.bool().tolist() and out["text_features"].shape == (2, 7, model.config.dim)
    for padded, single in zip(out["text_intermediates"], alone):
        assert padded.shape == (2, 7, model.config.dim)
        assert (padded[1, :4] - single[0]).abs().max() < 1e-5 and padded[1, 4:].abs().max() == 0
    with pytest.raises(InputError, match="output_fmt='NCHW': expected NLC for text"):
        model.forward_intermediates(ids, output_fmt="NCHW")
    with pytest.raises(InputError, match="text has no prefix tokens"):
        model.forward_intermediates(ids, return_prefix_tokens=True)
