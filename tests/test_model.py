import pytest
import torch

from vit_bert import PRESETS, Encoder, ModelConfig, build_model
from conftest import padded_batch

# Large presets are shrunk in depth/width so the suite stays fast; their own sizes are checked by config.
SMALL = {"depth": 1}


def tiny_inputs(model):
    config = model.config
    if config.modality == "image":
        return (torch.randn(2, config.in_chans, config.img_size, config.img_size),), {}
    ids, mask = padded_batch(config.vocab_size, [6, 4])
    return (ids,), {"attention_mask": mask}


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_builds_runs_and_every_parameter_gets_a_gradient(name):
    overrides = dict(SMALL)
    if PRESETS[name]["modality"] == "image" and PRESETS[name]["img_size"] > 64:
        overrides["img_size"] = 4 * PRESETS[name]["patch_size"]  # 4x4 patch grid: same code path, less compute
    if PRESETS[name]["modality"] == "text":
        overrides["vocab_size"] = 200
        overrides["pad_token_id"] = min(PRESETS[name].get("pad_token_id", 0), 199)  # ModernBERT's 50283 lies past the small table
    model = build_model(name, num_classes=5, **overrides)
    args, kwargs = tiny_inputs(model)
    logits = model(*args, **kwargs)
    assert logits.shape == (2, 5)
    logits.sum().backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert not no_grad, f"parameters without gradient: {no_grad}"


@pytest.mark.parametrize(
    "name, dim, depth, heads",
    [("vit-ti/16", 192, 12, 3), ("vit-s/16", 384, 12, 6), ("vit-b/16", 768, 12, 12), ("vit-l/16", 1024, 24, 16),
     ("bert-tiny", 128, 2, 2), ("bert-mini", 256, 4, 4), ("bert-small", 512, 4, 8), ("bert-medium", 512, 8, 8),
     ("bert-base", 768, 12, 12)],
)
def test_preset_sizes(name, dim, depth, heads):
    config = ModelConfig.from_name(name)
    assert (config.dim, config.depth, config.heads) == (dim, depth, heads)


def test_vit_b16_parameter_count_matches_timm():
    import timm
    ours = build_model("vit-b/16")
    ref = timm.create_model("vit_base_patch16_224", pretrained=False)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in ref.parameters())


def test_image_and_text_models_share_the_encoder_class():
    vit, bert = build_model("vit-cifar/4"), build_model("bert-tiny")
    assert type(vit.encoder) is type(bert.encoder) is Encoder
    assert vit.config.pre_norm and not bert.config.pre_norm


@pytest.mark.parametrize("pool", ["mean", "max", "cls"])  # cls: forward computes token 0 alone in the last block
def test_forward_is_forward_head_of_forward_features(pool):
    model = build_model("bert-tiny", vocab_size=50, pool=pool).eval()
    ids, mask = padded_batch(50, [5, 3])
    features = model.forward_features(ids, attention_mask=mask)
    assert features.shape == (2, 5, 128)
    torch.testing.assert_close(model.forward_head(features, mask), model(ids, attention_mask=mask))
    assert model.forward_head(features, mask, pre_logits=True).shape == (2, 128)


def test_return_attention_gives_per_layer_maps_and_same_logits():
    model = build_model("vit-cifar/4", depth=3).eval()
    x = torch.randn(2, 3, 32, 32)
    logits, attentions = model(x, return_attention=True)
    assert len(attentions) == 3
    assert attentions[0].shape == (2, 3, 65, 65)
    assert (logits - model(x)).abs().max() <= 1e-5


def test_num_classes_zero_returns_pooled_features():
    model = build_model("vit-cifar/4", num_classes=0, depth=1)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 192)


def test_build_model_from_config_and_dict_with_overrides():
    config = ModelConfig.from_name("bert-tiny")
    assert build_model(config, num_classes=7).config.num_classes == 7
    assert build_model(config.to_dict(), depth=1).config.depth == 1
    assert config.num_classes == 2  # the original is not mutated
