"""Hugging Face ViT folders in: ViTModel and ViTForImageClassification at parity (native size and another), their
id2label names, and their preprocessor_config.json as the data contract that predict reads images with."""

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
    model = getattr(transformers, cls)(transformers.ViTConfig(**{**options, **config}), **(model_args or {})).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)  # off the initial values: ones, zeros and a fixed std would hide a swapped tensor
    folder = tmp_path / cls
    model.save_pretrained(folder)
    if processor is not None:
        processor.save_pretrained(folder)
    return model, folder


@pytest.mark.parametrize("cls", ["ViTModel", "ViTForImageClassification"])
def test_vit_folders_compute_transformers_function_at_every_token(tmp_path, cls):
    hf, folder = hf_folder(tmp_path, cls)
    encoder = hf if cls == "ViTModel" else hf.vit
    for size in (32, 48):  # native, and resampled as transformers' interpolate_pos_encoding does
        model = vit_bert.load_pretrained(folder, **({"img_size": size} if size != 32 else {})).eval()
        images = torch.randn(2, 3, size, size)
        with torch.no_grad():
            expected = encoder(pixel_values=images, interpolate_pos_encoding=size != 32)
            assert (model.forward_features(images) - expected.last_hidden_state).abs().max() < 1e-5
            if cls == "ViTModel":
                assert (model(images) - expected.pooler_output).abs().max() < 1e-5  # tanh(dense([CLS])): its pooler
            else:
                assert (model(images) - hf(pixel_values=images, interpolate_pos_encoding=size != 32).logits).abs().max() < 1e-5
    if cls == "ViTForImageClassification":
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
    assert (contract.img_size, contract.crop_pct, contract.interpolation) == (32, 0.8, "bicubic")


def test_what_vit_bert_cannot_represent_stops_with_one_line(tmp_path):
    _, folder = hf_folder(tmp_path, "ViTModel", model_args={"use_mask_token": True})
    with pytest.raises(WeightsError, match=r"the Hugging Face ViT weights hold embeddings\.mask_token, which vit_bert cannot represent"):
        vit_bert.load_pretrained(folder)
    _, folder = hf_folder(tmp_path / "b", "ViTForImageClassification", transformers.ViTImageProcessor(size={"height": 32, "width": 48}))
    with pytest.raises(WeightsError, match=r"preprocessor_config\.json resizes to 32 x 48; vit_bert reads square inputs"):
        vit_bert.load_pretrained(folder)
    _, folder = hf_folder(tmp_path / "c", "ViTModel", hidden_act="relu6")
    with pytest.raises(WeightsError, match=r"hidden_act='relu6' is not one vit_bert computes"):
        vit_bert.load_pretrained(folder)
