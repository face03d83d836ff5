"""Hugging Face image folders beyond ViT/DeiT: DINOv2 (with and without registers), CLIP and SigLIP vision towers and
DINOv3, at parity with transformers at every token, at the native size and another; the registry's rules never overlap."""

import pytest
import torch

import vit_bert
from vit_bert.errors import WeightsError
from vit_bert.weights.families import FAMILIES, family_of
from vit_bert.weights.pretrained import Source

transformers = pytest.importorskip("transformers")
SMALL = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, image_size=32, patch_size=8)
CASES = {  # class -> (config class, its settings, whether forward takes interpolate_pos_encoding)
    "Dinov2Model": ("Dinov2Config", {}, False),
    "Dinov2WithRegistersModel": ("Dinov2WithRegistersConfig", {"num_register_tokens": 2}, False),
    "CLIPVisionModel": ("CLIPVisionConfig", {}, True),
    "SiglipVisionModel": ("SiglipVisionConfig", {}, True),
    "DINOv3ViTModel": ("DINOv3ViTConfig", {"num_register_tokens": 2, "key_bias": False}, False),
}


def hf_folder(tmp_path, cls, **settings):
    torch.manual_seed(0)
    config_cls, defaults, _ = CASES.get(cls, (None, {}, False))
    config_cls = config_cls or cls.replace("ForImageClassification", "Config").replace("Model", "Config")
    model = getattr(transformers, cls)(getattr(transformers, config_cls)(**{**SMALL, **defaults, **settings})).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)  # off the initial values: ones, zeros and a fixed std would hide a swapped tensor
    folder = tmp_path / cls
    model.save_pretrained(folder)
    return model, folder


def expected_tokens(cls, hf, output):
    """transformers' tokens in the form vit_bert's encoder gives them: CLIP's after its post_layernorm."""
    tower = getattr(hf, "vision_model", hf)  # transformers 4 nests the tower, 5 does not
    return tower.post_layernorm(output.last_hidden_state) if cls == "CLIPVisionModel" else output.last_hidden_state


@pytest.mark.parametrize("cls", list(CASES))
def test_hf_image_folders_compute_transformers_function_at_every_token(tmp_path, cls):
    hf, folder = hf_folder(tmp_path, cls)
    interpolate = CASES[cls][2]
    for size in (32, 48):  # native, and the position table resampled as transformers does (DINOv3: rotary, any grid)
        model = vit_bert.load_pretrained(folder, **({"img_size": size} if size != 32 else {})).eval()
        images = torch.randn(2, 3, size, size)
        with torch.no_grad():
            output = hf(pixel_values=images, **({"interpolate_pos_encoding": True} if interpolate else {}))
            tokens = model.forward_features(images)
            assert tokens.shape == output.last_hidden_state.shape
            assert (tokens - expected_tokens(cls, hf, output)).abs().max() < 1e-5
            assert (model(images) - output.pooler_output).abs().max() < 1e-5  # [CLS] after the norm; SigLIP's attention pool


def test_families_own_their_settings_and_swiglu(tmp_path):
    _, folder = hf_folder(tmp_path, "Dinov2WithRegistersModel", num_register_tokens=3, use_swiglu_ffn=True)
    config = vit_bert.load_pretrained(folder).config
    assert (config.reg_tokens, config.no_embed_class, config.mlp, config.act, config.layer_scale is not None) == (3, True, "glu", "silu", True)
    hf, folder = hf_folder(tmp_path / "swiglu", "Dinov2Model", use_swiglu_ffn=True)
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (vit_bert.load_pretrained(folder).eval().forward_features(images) - hf(pixel_values=images).last_hidden_state).abs().max() < 1e-5
    assert vit_bert.load_pretrained(hf_folder(tmp_path, "CLIPVisionModel")[1]).config.act == "quick_gelu"
    dinov3 = vit_bert.load_pretrained(hf_folder(tmp_path, "DINOv3ViTModel", pos_embed_rescale=2.0)[1]).config
    assert (dinov3.rope_grid, dinov3.rope_theta, dinov3.rope_rescale, dinov3.k_bias, dinov3.pos_embed) == ("centered", 100.0, 2.0, False, "none")


def test_dinov3_gated_mlp_at_parity(tmp_path):
    hf, folder = hf_folder(tmp_path, "DINOv3ViTModel", use_gated_mlp=True, hidden_act="silu")
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (vit_bert.load_pretrained(folder).eval().forward_features(images) - hf(pixel_values=images).last_hidden_state).abs().max() < 1e-5


def test_dinov2_classifier_has_no_vit_bert_head_but_its_encoder_loads(tmp_path):
    hf, folder = hf_folder(tmp_path, "Dinov2ForImageClassification", num_labels=3)
    with pytest.raises(WeightsError, match=r"Dinov2ForImageClassification classifies \[CLS\] beside the mean patch token.*num_classes=N"):
        vit_bert.load_pretrained(folder)
    model = vit_bert.load_pretrained(folder, num_classes=5).eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (model.forward_features(images) - hf.dinov2(pixel_values=images).last_hidden_state).abs().max() < 1e-5
    assert model(images).shape == (2, 5)


def test_a_key_no_family_part_names_stops_with_it(tmp_path):
    from safetensors.torch import load_file, save_file

    _, folder = hf_folder(tmp_path, "SiglipVisionModel")
    weights = load_file(str(folder / "model.safetensors"))
    save_file({**weights, "encoder.layers.0.self_attn.gate.weight": torch.zeros(4)}, str(folder / "model.safetensors"))
    with pytest.raises(WeightsError, match=r"SigLIP vision weights hold encoder\.layers\.0\.self_attn\.gate\.weight, which vit_bert cannot represent"):
        vit_bert.load_pretrained(folder)


def test_every_family_answers_its_own_sources_alone(tmp_path):
    """The registry's rules never overlap: each kind of source is recognised by exactly one family, whatever the order."""
    import timm

    sources = {
        "Hugging Face DINOv2": hf_folder(tmp_path, "Dinov2Model")[1], "Hugging Face CLIP vision": hf_folder(tmp_path, "CLIPVisionModel")[1],
        "Hugging Face SigLIP vision": hf_folder(tmp_path, "SiglipVisionModel")[1], "Hugging Face DINOv3 ViT": hf_folder(tmp_path, "DINOv3ViTModel")[1],
    }
    from vit_bert.json_file import read_json_object
    from vit_bert.weights.files import read_state_dict

    for name, folder in sources.items():
        source = Source(read_state_dict(folder / "model.safetensors"), read_json_object(folder / "config.json"), folder)
        assert [f.name for f in FAMILIES if f.answers(source)] == [name] == [family_of(source).name]
    bare = Source(timm.create_model("vit_tiny_patch16_224", pretrained=False, depth=1).state_dict())
    assert family_of(bare).name == "timm VisionTransformer / Eva"


def test_each_familys_image_processor_becomes_the_data_contract(tmp_path):
    processors = {  # transformers' processors as these families' Hub folders ship them, at the test's size
        "Dinov2Model": transformers.BitImageProcessor(size={"shortest_edge": 36}, crop_size={"height": 32, "width": 32}, resample=3,
                                                      image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225]),
        "CLIPVisionModel": transformers.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
        "SiglipVisionModel": transformers.SiglipImageProcessor(size={"height": 32, "width": 32}),
    }
    expected = {"Dinov2Model": (32 / 36, "center", "bicubic", [0.485, 0.456, 0.406]),
                "CLIPVisionModel": (1.0, "center", "bicubic", [0.48145466, 0.4578275, 0.40821073]),
                "SiglipVisionModel": (None, "center", "bicubic", [0.5, 0.5, 0.5])}
    for cls, processor in processors.items():
        _, folder = hf_folder(tmp_path, cls)
        processor.save_pretrained(folder)
        contract = vit_bert.load_pretrained(folder).data_contract
        assert (contract.crop_pct, contract.crop_mode, contract.interpolation, contract.mean) == pytest.approx(expected[cls]), cls
