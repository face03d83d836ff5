"""Hugging Face ViT and DeiT folders in: ViTModel, ViTForImageClassification, DeiTModel and
DeiTForImageClassificationWithTeacher at parity (native size and another), their id2label names, and their
preprocessor_config.json as the data contract that predict reads images with."""

import numpy as np
import pytest
import torch
from PIL import Image

import vit_bert
from vit_bert.errors import WeightsError
from vit_bert.predict import InputReader

transformers = pytest.importorskip("transformers")
LABELS = {0: "ant", 1: "bee", 2: "cat"}
PIL_PROCESSOR = getattr(transformers, "ViTImageProcessorPil", transformers.ViTImageProcessor)  # the PIL one (transformers 4's default)


def hf_folder(tmp_path, cls, processor=None, model_args=None, **config):
    torch.manual_seed(0)
    options = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, image_size=32, patch_size=8,
                   num_labels=3, id2label=LABELS, label2id={v: k for k, v in LABELS.items()}, hidden_act="gelu", layer_norm_eps=1e-12)
    family = transformers.DeiTConfig if cls.startswith("DeiT") else transformers.ViTConfig
    model = getattr(transformers, cls)(family(**{**options, **config}), **(model_args or {})).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)  # off the initial values: ones, zeros and a fixed std would hide a swapped tensor
    folder = tmp_path / cls
    model.save_pretrained(folder)
    if processor is not None:
        processor.save_pretrained(folder)
    return model, folder


@pytest.mark.parametrize("cls", ["ViTModel", "ViTForImageClassification", "DeiTModel", "DeiTForImageClassificationWithTeacher"])
def test_vit_folders_compute_transformers_function_at_every_token(tmp_path, cls):
    hf, folder = hf_folder(tmp_path, cls)
    encoder = hf if cls.endswith("Model") else getattr(hf, "vit", None) or hf.deit
    for size in (32, 48):  # native, and resampled as transformers' interpolate_pos_encoding does
        model = vit_bert.load_pretrained(folder, **({"img_size": size} if size != 32 else {})).eval()
        images = torch.randn(2, 3, size, size)
        with torch.no_grad():
            expected = encoder(pixel_values=images, interpolate_pos_encoding=size != 32)
            assert (model.forward_features(images) - expected.last_hidden_state).abs().max() < 1e-5
            if cls == "ViTModel":
                assert (model(images) - expected.pooler_output).abs().max() < 1e-5  # tanh(dense([CLS])): its pooler
            elif cls == "DeiTModel":
                assert model.config.dist_token and not model.config.head_pooler  # its pooler is dropped, with a warning
            else:
                assert (model(images) - hf(pixel_values=images, interpolate_pos_encoding=size != 32).logits).abs().max() < 1e-5
    if "ForImage" in cls:
        assert model.class_names == ["ant", "bee", "cat"]


def test_the_image_processor_becomes_the_data_contract_predict_reads_with(tmp_path):
    settings = dict(size={"height": 32, "width": 32}, resample=2, image_mean=[0.4, 0.5, 0.6], image_std=[0.2, 0.25, 0.3])
    processor = PIL_PROCESSOR(**settings)
    _, folder = hf_folder(tmp_path, "ViTForImageClassification", processor)
    contract = vit_bert.load_pretrained(folder).data_contract
    assert (contract.img_size, contract.crop_pct, contract.interpolation, contract.mean) == (32, None, "bilinear", [0.4, 0.5, 0.6])
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 52, 3), dtype=np.uint8))
    photo.save(tmp_path / "wide.png")
    read = InputReader(str(folder)).batch([tmp_path / "wide.png"])["images"][0]
    assert (read - processor(images=photo, return_tensors="pt")["pixel_values"][0]).abs().max() < 1e-6
    # transformers 5's default processor resizes uint8 tensors with torchvision: a pixel may round one level off PIL's
    torchvision_backend = transformers.ViTImageProcessor(**settings)(images=photo, return_tensors="pt")["pixel_values"][0]
    assert (read - torchvision_backend).abs().max() <= 1.001 / 255 / 0.2
    clip = transformers.CLIPImageProcessor(size={"shortest_edge": 40}, crop_size={"height": 32, "width": 32}, resample=3)
    clip.save_pretrained(folder)
    contract = vit_bert.load_pretrained(folder).data_contract
    assert (contract.img_size, contract.crop_pct, contract.crop_mode, contract.interpolation) == (32, 0.8, "center", "bicubic")


def test_deits_processor_squashes_then_crops_as_predict_does(tmp_path):
    pil = getattr(transformers, "DeiTImageProcessorPil", transformers.DeiTImageProcessor)
    processor = pil(size={"height": 40, "width": 40}, crop_size={"height": 32, "width": 32}, resample=3)
    _, folder = hf_folder(tmp_path, "DeiTForImageClassificationWithTeacher", processor)
    contract = vit_bert.load_pretrained(folder).data_contract
    assert (contract.img_size, contract.crop_pct, contract.crop_mode, contract.interpolation) == (32, 0.8, "squash", "bicubic")
    photo = Image.fromarray(np.random.default_rng(1).integers(0, 255, (30, 52, 3), dtype=np.uint8))
    photo.save(tmp_path / "wide.png")
    read = InputReader(str(folder)).batch([tmp_path / "wide.png"])["images"][0]
    assert (read - processor(images=photo, return_tensors="pt")["pixel_values"][0]).abs().max() < 1e-5


def test_a_timm_model_that_evaluates_squashed_is_read_as_timm_reads_it(tmp_path):
    from timm.data import create_transform, resolve_data_config

    timm = pytest.importorskip("timm")
    model = timm.create_model("vit_small_patch16_224", pretrained=False, num_classes=2, depth=1)
    model.pretrained_cfg = {**model.pretrained_cfg, "crop_mode": "squash", "crop_pct": 0.95}  # as vit_base_patch16_clip_384.openai_ft_in12k_in1k
    photo = Image.fromarray(np.random.default_rng(2).integers(0, 255, (300, 520, 3), dtype=np.uint8))
    photo.save(tmp_path / "wide.png")
    expected = create_transform(**resolve_data_config({}, model=model))(photo)
    loaded = vit_bert.load_pretrained(model)
    assert (loaded.data_contract.crop_mode, loaded.data_contract.crop_pct) == ("squash", 0.95)
    assert torch.equal(InputReader("timm", model=loaded).batch([tmp_path / "wide.png"])["images"][0], expected)


def test_what_vit_bert_cannot_represent_stops_with_one_line(tmp_path):
    _, folder = hf_folder(tmp_path, "ViTModel", model_args={"use_mask_token": True})
    with pytest.raises(WeightsError, match=r"the Hugging Face ViT weights hold embeddings\.mask_token, which vit_bert cannot represent"):
        vit_bert.load_pretrained(folder)
    _, folder = hf_folder(tmp_path / "b", "ViTForImageClassification", transformers.ViTImageProcessor(size={"height": 32, "width": 48}))
    with pytest.raises(WeightsError, match=r"preprocessor_config\.json resizes to 32 x 48; vit_bert reads square inputs"):
        vit_bert.load_pretrained(folder)
    _, folder = hf_folder(tmp_path / "d", "DeiTForImageClassification")
    with pytest.raises(WeightsError, match=r"a DeiTForImageClassification classifies from \[CLS\] alone .*num_classes=N"):
        vit_bert.load_pretrained(folder)
    _, folder = hf_folder(tmp_path / "c", "ViTModel", hidden_act="relu6")
    with pytest.raises(WeightsError, match=r"hidden_act='relu6' is not one vit_bert computes"):
        vit_bert.load_pretrained(folder)


def test_a_vit_config_json_with_other_weights_or_without_its_head_count_stops(tmp_path):
    from safetensors.torch import save_file

    from vit_bert.errors import WeightsMismatchError

    _, folder = hf_folder(tmp_path, "ViTModel")
    config = (folder / "config.json").read_text()
    (folder / "config.json").write_text(config.replace('"num_attention_heads": 4', '"num_attention_heads": "four"'))
    with pytest.raises(WeightsError, match=r"config\.json needs num_attention_heads \(a positive integer\).*got 'four'"):
        vit_bert.load_pretrained(folder)
    (folder / "config.json").write_text(config)
    save_file({"embeddings.cls_token": torch.zeros(1, 1, 64)}, str(folder / "model.safetensors"))
    with pytest.raises(WeightsMismatchError, match=r"names a 'vit' model, but its weights are not one's \(first keys: embeddings\.cls_token\)"):
        vit_bert.load_pretrained(folder)
