"""The ViT families timm users load (DINOv2 +/- registers, DeiT III, distilled DeiT, CLIP, SigLIP): parity with timm's own
forward from a model object, a bare state-dict file and a timm name; presets equal to timm's architectures; the fast paths,
the folder round trip, the attention views and the trace on every family."""

import pytest
import timm
import torch
from safetensors.torch import save_file
from timm.models.vision_transformer import ResPostBlock

import vit_bert
from vit_bert.config import ARCHITECTURE_FIELDS, ModelConfig
from vit_bert.errors import AmbiguousWeightsError, WeightsError
from vit_bert.viz import attention_view, trace_layer
from vit_bert.viz.rollout import cls_to_patches
from vit_bert.weights import load_pretrained
from vit_bert.weights.timm_vit import facts_of_model, timm_vit_config

# timm name, vit_bert preset, native size, another size
FAMILIES = [
    ("vit_small_patch14_dinov2", "dinov2-s/14", 518, 224),
    ("vit_small_patch14_reg4_dinov2", "dinov2-s/14-reg4", 518, 224),
    ("deit3_small_patch16_224", "deit3-s/16", 224, 160),
    ("deit_tiny_distilled_patch16_224", "deit-ti/16-distilled", 224, 160),
    ("vit_base_patch16_clip_224", "clip-b/16", 224, 160),
    ("vit_base_patch16_siglip_224", "siglip-b/16", 224, 160),
]
IDS = [preset for _, preset, _, _ in FAMILIES]


def jittered(model):
    """Random weights moved off their initial values (LayerScale, [CLS], registers and biases included)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.02)
    return model.eval()


def close(ours, theirs):
    return float((ours - theirs).abs().max()) <= 1e-5 * float(theirs.abs().max()) + 1e-5


def small(name, **kwargs):
    return jittered(timm.create_model(name, pretrained=False, depth=2, dynamic_img_size=True, **kwargs))


@pytest.mark.parametrize("name, preset, native, other", FAMILIES, ids=IDS)
def test_a_timm_model_object_loads_and_matches_timm_at_its_size_and_another(name, preset, native, other):
    reference = small(name)
    model = load_pretrained(reference).eval()
    resized = load_pretrained(reference, img_size=other).eval()  # the position table resampled once, at load
    assert model.config.num_prefix_tokens == reference.num_prefix_tokens
    for size, ours in ((native, model), (other, model), (other, resized)):
        images = torch.randn(2, 3, size, size)
        with torch.no_grad():
            assert close(ours.forward_features(images), reference.forward_features(images)), (size, ours.config.img_size)
            assert close(ours(images), reference(images))


FULL_DEPTH = [pytest.param(*family, marks=pytest.mark.slow) if family[0].startswith("vit_base") else family for family in FAMILIES]  # ViT-B: ~5 s each


@pytest.mark.parametrize("name, preset, native, other", FULL_DEPTH, ids=IDS)
def test_a_bare_state_dict_file_of_a_registered_architecture_loads_exactly(tmp_path, name, preset, native, other):
    """All blocks (the table decides only for a registered signature, depth included), at a small input for speed."""
    size = 56 if "patch14" in name else 64
    reference = jittered(timm.create_model(name, pretrained=False, img_size=size))
    path = tmp_path / "weights.safetensors"
    save_file(reference.state_dict(), path)
    known = {}
    if "clip" in name:  # timm registers CLIP with GELU and with quick GELU: the same tensors, so the file cannot tell
        with pytest.raises(AmbiguousWeightsError, match=r"does not store act .*act='quick_gelu': vit_base_patch16_clip_quickgelu_224.*pass act="):
            load_pretrained(path)
        known = {"act": "gelu"}
    model = load_pretrained(path, **known).eval()
    images = torch.randn(1, 3, size, size)
    with torch.no_grad():
        assert close(model(images), reference(images))


def test_a_timm_name_loads_through_timm(monkeypatch):
    created, offline_model = [], small("vit_small_patch14_reg4_dinov2", img_size=56)

    def offline_create(name, pretrained=False, **kwargs):  # timm would download the weights here
        created.append((name, pretrained))
        return offline_model

    monkeypatch.setattr(timm, "create_model", offline_create)
    model = load_pretrained("vit_small_patch14_reg4_dinov2.lvd142m")
    assert created == [("vit_small_patch14_reg4_dinov2.lvd142m", True)]
    assert (model.config.reg_tokens, model.config.no_embed_class, model.config.layer_scale is not None) == (4, True, True)


@pytest.mark.parametrize("name, preset, native, other", FAMILIES, ids=IDS)
def test_each_preset_is_its_timm_architecture(name, preset, native, other):
    with torch.device("meta"):  # shapes only: no memory, no time
        reference = timm.create_model(name, pretrained=False)
        read = timm_vit_config(reference.state_dict(), facts_of_model(reference), reference.no_embed_class)
    ours = ModelConfig.from_name(preset)
    for key in (*ARCHITECTURE_FIELDS, "img_size", "ln_eps", "num_classes"):
        if key == "layer_scale":
            assert (read[key] is None) == (ours.layer_scale is None)
        else:
            assert read.get(key, getattr(ModelConfig(), key)) == getattr(ours, key), key


def tiny(name):
    return load_pretrained(small(name, img_size=56 if "patch14" in name else 64))


@pytest.mark.parametrize("name, preset, native, other", FAMILIES, ids=IDS)
def test_fast_paths_the_explicit_path_and_the_folder_round_trip_agree(tmp_path, name, preset, native, other):
    model = tiny(name).eval()
    images = torch.randn(3, 3, model.config.img_size, model.config.img_size)
    with torch.no_grad():
        fast = model(images)  # [CLS]-only last block where the head reads [CLS] (and the distillation token)
        explicit, attentions = model(images, return_attention=True)
        full = model.forward_head(model.forward_features(images))
        assert close(fast, explicit) and close(fast, full)
        length = model.config.num_prefix_tokens + (model.config.img_size // model.config.patch_size) ** 2
        assert attentions[0].shape == (3, model.config.heads, length, length)
        model.save_pretrained(tmp_path)
        loaded = load_pretrained(tmp_path).eval()
        assert loaded.config == model.config and torch.equal(loaded(images), fast)


@pytest.mark.parametrize("name, preset, native, other", FAMILIES, ids=IDS)
def test_the_trace_and_the_attention_view_know_the_prefix_tokens(name, preset, native, other):
    model = tiny(name).eval()
    images = torch.randn(2, 3, model.config.img_size, model.config.img_size)
    lines = []
    traced = trace_layer(model, {"images": images}, layer=1, head=1, index=1, out=lines.append)
    assert traced["difference"] <= 1e-5
    view = attention_view(model, {"images": images}, index=1)
    grid = (model.config.img_size // model.config.patch_size,) * 2
    assert view.num_prefix_tokens == model.config.num_prefix_tokens and view.grid == grid
    head_maps = cls_to_patches(view.layer(-1), view.grid, view.num_prefix_tokens)
    prefix = view.num_prefix_tokens
    # the maps are the [CLS] row over the patches alone (registers and the distillation token are not on the grid)
    expected = view.layer(-1)[:, 0, prefix:] if prefix else view.layer(-1)[:, prefix:, prefix:].mean(dim=1)
    assert head_maps.shape == (model.config.heads, *grid) and torch.allclose(head_maps.flatten(1), expected)


def test_registers_stay_out_of_the_patch_grid_in_the_figure(tmp_path):
    model = tiny("vit_small_patch14_reg4_dinov2").eval()
    images = torch.rand(1, 3, model.config.img_size, model.config.img_size)
    from vit_bert.viz import view_figure

    view = attention_view(model, {"images": images})
    figure = view_figure(view, -1, "registers", image=images[0].permute(1, 2, 0).numpy())
    labels = [text.get_text() for axis in figure.axes for text in axis.get_xticklabels()]
    assert {"[CLS]", "reg0", "reg3"} <= set(labels)  # a bar per prefix token, beside the maps


def test_a_custom_shape_never_borrows_another_architectures_head_count(tmp_path):
    """Width 96, MLP 192, [CLS], 4 heads: no registered timm ViT has these weights, so the head count is asked for."""
    reference = jittered(timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=8, embed_dim=96,
                                           depth=2, num_heads=4, mlp_ratio=2.0))
    with pytest.raises(AmbiguousWeightsError, match=r"does not store the attention head count .*pass heads="):
        load_pretrained(reference.state_dict())
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert close(load_pretrained(reference.state_dict(), heads=4).eval()(images), reference(images))


def test_an_architecture_vit_bert_cannot_represent_stops_with_one_line_naming_it():
    post = timm.create_model("vit_tiny_patch16_224", pretrained=False, depth=1, img_size=32, block_fn=ResPostBlock)
    with pytest.raises(WeightsError, match="block is timm's ResPostBlock; vit_bert computes Block"):
        load_pretrained(post)
    no_positions = timm.create_model("vit_tiny_patch16_224", pretrained=False, depth=1, img_size=32, pos_embed="none")
    with pytest.raises(WeightsError, match="no pos_embed"):
        load_pretrained(no_positions)
    # DINOv3 (rotary positions, no pos_embed) loads from its object (test_rotary_families.py); its bare file cannot say the
    # rotary settings, and says so before asking for heads=
    rotary = timm.create_model("vit_small_patch16_dinov3", pretrained=False, depth=1)
    with pytest.raises(WeightsError, match="rotary settings no tensor stores; load the timm model object"):
        load_pretrained(rotary.state_dict())
    inner_norm = timm.create_model("vit_small_patch16_dinov3", pretrained=False, depth=1, scale_attn_inner=True)
    with pytest.raises(WeightsError, match="normalises or gates the attention output"):
        load_pretrained(inner_norm)
    pooled = timm.create_model("vit_tiny_patch16_224", pretrained=False, depth=1, img_size=32, class_token=False, global_pool="map",
                               attn_pool_num_latent=2) if "attn_pool_num_latent" in timm.models.vision_transformer.VisionTransformer.__init__.__code__.co_varnames else None
    if pooled is not None:
        with pytest.raises(WeightsError, match="2 latent queries"):
            load_pretrained(pooled)


def test_knobs_without_a_family_still_match_timm():
    """QK-norm, a SwiGLU MLP with its hidden width, RMSNorm-free bias settings and quick GELU, on timm's own VisionTransformer."""
    from timm.layers import SwiGLUPacked

    reference = jittered(timm.create_model(
        "vit_small_patch16_224", pretrained=False, img_size=32, depth=2, qk_norm=True, mlp_layer=SwiGLUPacked, mlp_ratio=2.5,
        act_layer="silu", proj_bias=False, init_values=1e-4,
    ))
    model = load_pretrained(reference).eval()
    assert (model.config.qk_norm, model.config.mlp, model.config.act, model.config.proj_bias) == (True, "glu", "silu", False)
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert close(model(images), reference(images))
        assert close(model(images, return_attention=True)[0], reference(images))
    quick = jittered(timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, depth=1, act_layer="quick_gelu"))
    with torch.no_grad():
        assert close(load_pretrained(quick).eval()(images), quick(images))


def test_non_square_inputs_resample_the_position_table_per_axis_as_timm_does():
    reference = small("vit_small_patch14_reg4_dinov2", img_size=56)  # a 4 x 4 table
    model = load_pretrained(reference).eval()
    images = torch.randn(2, 3, 42, 70)  # a 3 x 5 grid
    with torch.no_grad():
        assert close(model.forward_features(images), reference.forward_features(images))
