"""The rotary families: ModernBERT folders (transformers' save_pretrained, random weights) and timm's EVA-02 and DINOv3
objects load into the shared core and compute what their sources compute: text at real tokens of a padded batch with local
attention in play, images at the native size and another; presets equal to the reference architectures; typed errors."""

import json

import pytest
import timm
import torch

pytest.importorskip("transformers")
from transformers import ModernBertConfig, ModernBertForMaskedLM, ModernBertModel  # noqa: E402

import vit_bert  # noqa: E402
from vit_bert import load_pretrained  # noqa: E402
from vit_bert.config import ARCHITECTURE_FIELDS, ModelConfig  # noqa: E402
from vit_bert.errors import AmbiguousWeightsError, ConfigError, WeightsError, WeightsMismatchError  # noqa: E402
from vit_bert.viz import attention_view, trace_layer  # noqa: E402
from vit_bert.viz.rollout import cls_to_patches  # noqa: E402
from vit_bert.weights.hf_modernbert import modernbert_config  # noqa: E402
from vit_bert.weights.load import read_pretrained  # noqa: E402

VOCAB, LENGTHS = 300, [20, 13, 5]
# A window of 8 (4 each side) on sequences of up to 20 tokens: the local layers (1, 2, 4) see less than the global ones.
SMALL = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=5, num_attention_heads=4, max_position_embeddings=64,
             local_attention=8, pad_token_id=0, bos_token_id=1, eos_token_id=2, cls_token_id=1, sep_token_id=2)


def jittered(model: torch.nn.Module, scale: float = 0.05) -> torch.nn.Module:
    torch.manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(scale * torch.randn_like(param))
    return model.eval()


def padded() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(3, VOCAB, (len(LENGTHS), max(LENGTHS)), generator=generator)
    mask = (torch.arange(max(LENGTHS))[None] < torch.tensor(LENGTHS)[:, None]).long()
    return ids.masked_fill(mask == 0, 0), mask


def gap(ours: torch.Tensor, theirs: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    real = mask.bool() if mask is not None else slice(None)
    return float((ours[real] - theirs[real]).abs().max())


def test_a_modernbert_folder_matches_transformers_at_real_tokens_on_every_path(tmp_path):
    reference = jittered(ModernBertModel(ModernBertConfig(**SMALL)))
    reference.save_pretrained(tmp_path)
    model = load_pretrained(tmp_path, num_classes=0).eval()
    config = model.config
    assert (config.local_window, config.global_every, config.rope_theta, config.rope_local_theta) == (8, 3, 160_000.0, 10_000.0)
    assert [block.attn.window for block in model.encoder.blocks] == [None, 8, 8, None, 8]
    ids, mask = padded()
    with torch.no_grad():
        theirs = reference(input_ids=ids, attention_mask=mask).last_hidden_state
        ours = model.forward_features(input_ids=ids, attention_mask=mask)  # packed: the padding skipped
        encoder_input = model.frontend(ids, mask)
        explicit, _ = model.encoder.forward_with_weights(encoder_input.tokens, encoder_input.mask)
        everywhere_global = load_pretrained(tmp_path, num_classes=0, local_window=None, rope_local_theta=None).eval()
        wrong = everywhere_global.forward_features(input_ids=ids, attention_mask=mask)
    assert gap(ours, theirs, mask) <= 1e-5 and gap(explicit, theirs, mask) <= 1e-5
    assert gap(wrong, theirs, mask) > 1e-3  # the window and the local base are what make it ModernBERT


def test_the_modernbert_masked_lm_head_gives_the_same_logits(tmp_path):
    reference = jittered(ModernBertForMaskedLM(ModernBertConfig(**SMALL)))
    reference.tie_weights()
    reference.save_pretrained(tmp_path)
    model = load_pretrained(tmp_path, head="mlm").eval()
    ids, mask = padded()
    with torch.no_grad():
        theirs = reference(input_ids=ids, attention_mask=mask).logits
        ours = model(input_ids=ids, attention_mask=mask)
    assert ours.shape == theirs.shape and gap(ours, theirs, mask) <= 1e-4


def test_the_trace_shows_the_rotated_queries_and_keys_of_a_local_layer(tmp_path):
    jittered(ModernBertModel(ModernBertConfig(**SMALL))).save_pretrained(tmp_path)
    model = load_pretrained(tmp_path, num_classes=2).eval()
    ids, mask = padded()
    lines = []
    traced = trace_layer(model, {"input_ids": ids, "attention_mask": mask}, layer=1, head=2, index=0, out=lines.append)
    text = "\n".join(lines)
    assert "turned by rotary positions (base 10000)" in text and "at most 4 positions away" in text
    assert traced["difference"] <= 1e-5
    with torch.no_grad():
        block = model.encoder.blocks[1]
        x = model.encoder.forward_intermediates(model.frontend(ids, mask).tokens, mask.bool())[1][:1]
        q, k, _ = block.attn.project(block.attention_input(x), model.encoder.rotations(x, None)[1])
    assert torch.allclose(traced["Q"], q[0, 2], atol=1e-6) and torch.allclose(traced["K"], k[0, 2], atol=1e-6)
    assert traced["weights"][0, 5:].abs().max() == 0  # token 0 reads tokens 0..4 only


def test_modernbert_sources_vit_bert_cannot_read_exactly_stop_with_one_line(tmp_path):
    reference = ModernBertModel(ModernBertConfig(**SMALL))
    with pytest.raises(AmbiguousWeightsError, match="does not store its attention heads, rotary bases, local window.*config.json"):
        load_pretrained(reference.state_dict())
    reference.save_pretrained(tmp_path / "odd")
    config = json.loads((tmp_path / "odd" / "config.json").read_text())
    config["layer_types"] = ["full_attention", "sliding_attention", "full_attention", "full_attention", "sliding_attention"]
    (tmp_path / "odd" / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightsError, match="not a global layer every n-th.*global_every"):
        load_pretrained(tmp_path / "odd")


def test_the_modernbert_base_preset_is_transformers_modernbert():
    with torch.device("meta"):
        reference = ModernBertModel(ModernBertConfig())
    read = modernbert_config(ModernBertConfig().to_dict(), reference.state_dict())
    ours = ModelConfig.from_name("modernbert-base")
    for key in (*ARCHITECTURE_FIELDS, "ln_eps", "pad_token_id"):
        assert read.get(key, getattr(ModelConfig(), key)) == getattr(ours, key), key


# timm name, preset, native size, another size, extra timm arguments
IMAGE_FAMILIES = [
    ("eva02_tiny_patch14_224", "eva02-ti/14", 224, 168, {}),
    ("eva02_tiny_patch14_224", None, 224, 168, {"scale_mlp": True, "qkv_fused": False}),  # SwiGLU with its norm, three projections
    ("vit_small_patch16_dinov3", "dinov3-s/16", 224, 160, {}),
]
IMAGE_IDS = ["eva02", "eva02-scale_mlp-separate_qkv", "dinov3"]


def small_eva(name: str, **kwargs) -> torch.nn.Module:
    return jittered(timm.create_model(name, pretrained=False, depth=2, dynamic_img_size=True, **kwargs), 0.02)


@pytest.mark.parametrize("name, preset, native, other, extra", IMAGE_FAMILIES, ids=IMAGE_IDS)
def test_a_timm_eva_object_matches_timm_at_its_size_and_another(name, preset, native, other, extra):
    reference = small_eva(name, **extra)
    model = load_pretrained(reference).eval()
    assert model.config.num_prefix_tokens == reference.num_prefix_tokens
    for size in (native, other):
        images = torch.randn(2, 3, size, size)
        with torch.no_grad():
            theirs = reference.forward_features(images)
            assert gap(model.forward_features(images), theirs) <= 1e-5, size
            assert gap(model(images), reference(images)) <= 1e-5
            assert gap(model(images, return_attention=True)[0], reference(images)) <= 1e-5
    swapped = "half" if model.config.rope_layout == "interleaved" else "interleaved"
    with torch.no_grad():
        images = torch.randn(2, 3, native, native)
        assert gap(load_pretrained(reference, rope_layout=swapped).eval().forward_features(images), reference.forward_features(images)) > 1e-3


@pytest.mark.parametrize("name, preset, native, other, extra", [f for f in IMAGE_FAMILIES if f[1]], ids=["eva02", "dinov3"])
def test_each_rotary_image_preset_is_its_timm_architecture(name, preset, native, other, extra):
    with torch.device("meta"):
        read = read_pretrained(timm.create_model(name, pretrained=False)).config
    ours = ModelConfig.from_name(preset)
    for key in (*ARCHITECTURE_FIELDS, "img_size", "ln_eps", "num_classes"):
        if key == "layer_scale":
            assert (read[key] is None) == (ours.layer_scale is None)
        else:
            assert read.get(key, getattr(ModelConfig(), key)) == getattr(ours, key), key


def test_an_eva02_key_bias_stays_zero_through_fine_tuning_where_a_vit_one_would_train():
    """EVA-02 biases queries and values only; under rotary positions a key bias would change the scores, so its rows
    of the fused bias must neither receive a gradient nor move under AdamW's weight decay."""
    model = load_pretrained(small_eva("eva02_tiny_patch14_224"), num_classes=3).train()
    assert model.config.k_bias is False
    free = vit_bert.build_model("eva02-ti/14", depth=2, img_size=56, num_classes=3, k_bias=True).train()  # the same model with a key bias
    dim = model.config.dim
    for candidate, trains in ((model, False), (free, True)):
        optimizer = torch.optim.AdamW(candidate.parameters(), lr=1e-2, weight_decay=0.1)
        before = candidate.encoder.blocks[0].attn.qkv.bias.detach().clone()
        for _ in range(2):
            torch.nn.functional.cross_entropy(candidate(torch.randn(2, 3, 56, 56)), torch.tensor([0, 2])).backward()
            optimizer.step()
            optimizer.zero_grad()
        bias = candidate.encoder.blocks[0].attn.qkv.bias.detach()
        assert bool((bias[dim:2 * dim] != before[dim:2 * dim]).any()) is trains
        assert bool((bias[:dim] != before[:dim]).any())  # the query bias trains in both
    assert not model.encoder.blocks[0].attn.qkv.bias[dim:2 * dim].any()
    with pytest.raises(ConfigError, match="k_bias=False leaves the keys out of the Q, K, V bias; it needs qkv_bias=True"):
        vit_bert.build_model("eva02-ti/14", qkv_bias=False)


def test_a_bare_eva_state_dict_of_no_registered_architecture_asks_for_the_model_object():
    with pytest.raises(WeightsError, match=r"timm Eva .* rotary settings no tensor stores; load the timm model object or its timm name "
                                           r"instead \(no architecture registered in timm has exactly these weights\)"):
        load_pretrained(small_eva("vit_small_patch16_dinov3").state_dict())


def test_a_bare_eva02_file_of_a_registered_architecture_loads_its_rotary_settings_from_the_table(tmp_path):
    """A weights file as timm's hub gives it (eva02_tiny_patch14_224, random weights): the facts table gives the head count,
    the activation and the rotary settings, and the 336 px architecture of the same tensors its own reference grid."""
    save_file = pytest.importorskip("safetensors.torch").save_file
    for name, size in (("eva02_tiny_patch14_224", 224), ("eva02_tiny_patch14_336", 336)):
        torch.manual_seed(0)
        reference = jittered(timm.create_model(name, pretrained=False), 0.02)
        save_file(reference.state_dict(), tmp_path / "model.safetensors")
        model = load_pretrained(tmp_path / "model.safetensors").eval()
        assert (model.config.rope_grid, model.config.rope_ref_grid, model.config.heads, model.config.img_size) == ("index", 16, 3, size)
        images = torch.randn(1, 3, size, size)
        with torch.no_grad():
            assert gap(model.forward_features(images), reference.forward_features(images)) <= 1e-5, name


def test_bare_dinov3_weights_load_from_the_table_a_twin_asks_for_what_it_disagrees_on_and_a_hub_folder_needs_nothing(tmp_path):
    save_file = pytest.importorskip("safetensors.torch").save_file
    torch.manual_seed(0)
    reference = jittered(timm.create_model("vit_small_patch16_dinov3", pretrained=False), 0.02)
    images = torch.randn(1, 3, 256, 256)
    model = load_pretrained(reference.state_dict()).eval()
    assert (model.config.rope_grid, model.config.rope_theta, model.config.pos_embed, model.config.img_size) == ("centered", 100.0, "none", 256)
    # DINOv3 with a Q, K, V bias has the tensors of LingBot's ViT, which is registered at 512 px with [CLS] pooling
    torch.manual_seed(0)
    biased = jittered(timm.create_model("vit_small_patch16_dinov3_qkvb", pretrained=False), 0.02)
    with pytest.raises(AmbiguousWeightsError, match=r"differ in their rotary settings \(img_size=512: vit_small_patch16_lingbot; "
                                                   r"img_size=256: vit_small_patch16_dinov3_qkvb\); pass img_size="):
        load_pretrained(biased.state_dict())
    biased_model = load_pretrained(biased.state_dict(), img_size=256, pool="mean").eval()
    assert biased_model.config.k_bias is False
    save_file(biased.state_dict(), tmp_path / "model.safetensors")  # a timm Hub folder: its config.json names the architecture
    (tmp_path / "config.json").write_text(json.dumps({"architecture": "vit_small_patch16_dinov3_qkvb", "num_classes": 0}))
    from_folder = load_pretrained(tmp_path).eval()
    assert from_folder.data_contract.mean == list(biased.pretrained_cfg["mean"])
    with torch.no_grad():
        assert gap(model(images), reference(images)) <= 1e-5
        assert gap(biased_model(images), biased(images)) <= 1e-5
        assert gap(from_folder(images), biased(images)) <= 1e-5
    (tmp_path / "config.json").write_text(json.dumps({"architecture": "eva02_tiny_patch14_224", "num_classes": 0}))
    with pytest.raises(WeightsMismatchError, match="model.safetensors is not timm's eva02_tiny_patch14_224, which its config.json names: "
                                                   "the weights do not fit the model; nothing was loaded. missing keys"):
        load_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"architecture": "vit_small_patch16_dinov3", "model_args": {"no_such_arg": 1}}))
    with pytest.raises(WeightsError, match="timm could not build vit_small_patch16_dinov3 from its config.json's model_args: .*no_such_arg"):
        load_pretrained(tmp_path)



@pytest.mark.parametrize("name, size", [("vit_small_patch16_dinov3", 64), ("eva02_tiny_patch14_224", 56)], ids=["dinov3", "eva02"])
def test_training_time_coordinate_augmentation_draws_as_timm_does(name, size):
    """DINOv3's shift / jitter / rescale of the rotary coordinates (timm's rope_*_coords, on either grid): read from the
    object, drawn in timm's order from the same generator, so a training forward equals timm's at the same seed; a new
    draw moves it; eval mode has none."""
    augments = dict(rope_shift_coords=0.3, rope_jitter_coords=1.5, rope_rescale_coords=2.0)
    reference = jittered(timm.create_model(name, pretrained=False, depth=2, img_size=size, **augments), 0.1)  # sharp attention
    model = load_pretrained(reference)
    assert (model.config.rope_shift, model.config.rope_jitter, model.config.rope_rescale) == (0.3, 1.5, 2.0)
    images = torch.randn(2, 3, size, size)
    reference.train(), model.train()
    outputs = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        theirs = reference(images)
        torch.manual_seed(seed)
        outputs.append(model(images))
        assert gap(outputs[-1], theirs) <= 1e-5
    assert gap(outputs[0], outputs[1]) == 0.0 and gap(outputs[0], outputs[2]) > 1e-3  # each step its own draw
    reference.eval(), model.eval()
    with torch.no_grad():
        assert gap(model(images), reference(images)) <= 1e-5
        plain = load_pretrained(reference, rope_shift=None, rope_jitter=None, rope_rescale=None).eval()
        assert gap(model(images), plain(images)) == 0.0  # in eval mode the augmentation settings change nothing


def test_coordinate_augmentation_settings_are_checked():
    with pytest.raises(ConfigError, match="'rope_jitter' must be a finite number >= 1 \\(a scale factor\\), or None for off; got 0.5"):
        vit_bert.build_model("dinov3-s/16", rope_jitter=0.5)
    with pytest.raises(ConfigError, match="'rope_shift' must be a finite number >= 0, or None for off; got -1"):
        vit_bert.build_model("dinov3-s/16", rope_shift=-1.0)
    with pytest.raises(ConfigError, match="rope_rescale augment the rotary patch coordinates: set rope_theta"):
        vit_bert.build_model("vit-ti/16", rope_rescale=2.0)

@pytest.mark.parametrize("name", ["eva02_tiny_patch14_224", "vit_small_patch16_dinov3"], ids=["eva02", "dinov3"])
def test_the_trace_and_the_attention_view_of_a_rotary_image_model(name):
    """The trace recomputes a block with the rotated Q and K (prefix tokens unturned) and equals the forward; the view's
    [CLS] maps lie over the patches only."""
    model = load_pretrained(small_eva(name, img_size=56 if "patch14" in name else 64)).eval()
    images = torch.randn(2, 3, model.config.img_size, model.config.img_size)
    lines = []
    traced = trace_layer(model, {"images": images}, layer=1, head=1, index=1, out=lines.append)
    assert traced["difference"] <= 1e-5
    prefix = model.config.num_prefix_tokens
    assert f"the first {prefix} tokens unturned" in "\n".join(lines)
    with torch.no_grad():
        encoder_input = model.frontend(images)
        x = model.encoder.forward_intermediates(encoder_input.tokens, None, encoder_input.positions)[1][1:2]
        block = model.encoder.blocks[1]
        plain_q = block.attn.project(block.attention_input(x))[0][0, 1]
    assert torch.allclose(traced["Q"][:prefix], plain_q[:prefix], atol=1e-6)  # [CLS] (and registers) keep no position
    assert (traced["Q"][prefix + 1:] - plain_q[prefix + 1:]).abs().max() > 1e-3  # the patches (past the first) are turned
    view = attention_view(model, {"images": images}, index=1)
    grid = (model.config.img_size // model.config.patch_size,) * 2
    assert view.num_prefix_tokens == prefix and view.grid == grid
    maps = cls_to_patches(view.layer(-1), view.grid, prefix)
    assert maps.shape == (model.config.heads, *grid) and torch.allclose(maps.flatten(1), view.layer(-1)[:, 0, prefix:])
