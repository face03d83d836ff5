"""A timm model's head keeps the class names its pretrained_cfg (or a Hub folder's config.json) gives: timm's
ImageNet-1k descriptions for an in1k head, label_names where the config has them, the indices where nothing says."""

import json

import pytest
import timm
import torch
from safetensors.torch import save_file

from vit_bert.errors import WeightsError
from vit_bert.predict import Predictor
from vit_bert.weights import load_pretrained

SMALL = dict(img_size=32, patch_size=8, depth=1)


def small_vit(**kwargs):
    torch.manual_seed(0)
    return timm.create_model("vit_tiny_patch16_224", pretrained=False, **SMALL, **kwargs).eval()


def hub_folder(path, config: dict, **kwargs):
    model = small_vit(**kwargs)
    path.mkdir()
    save_file(model.state_dict(), path / "model.safetensors")
    (path / "config.json").write_text(json.dumps({"architecture": "vit_tiny_patch16_224", "model_args": SMALL, **config}))
    return model


def test_an_imagenet_1k_head_is_named_and_predictions_say_the_name(tmp_path):
    reference = small_vit()
    assert reference.pretrained_cfg["tag"].endswith("_in1k")  # the cfg timm gives this architecture's published head
    model = load_pretrained(reference)
    assert len(model.class_names) == 1000 and model.class_names[1] == "goldfish, Carassius auratus"
    assert model.data_contract.class_names == model.class_names
    predictor = Predictor("vit_tiny_patch16_224", model=model)
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        expected = reference(predictor.batch(images)["images"]).softmax(-1).max(-1)
    assert predictor(images) == [(model.class_names[i], pytest.approx(p, abs=1e-5)) for i, p in zip(expected.indices.tolist(), expected.values.tolist())]
    model.save_pretrained(tmp_path / "saved")
    assert load_pretrained(tmp_path / "saved").class_names == model.class_names


def test_another_head_size_is_not_called_imagenet():
    assert load_pretrained(small_vit(num_classes=10)).class_names == [str(i) for i in range(10)]


def test_a_hub_folder_speaks_for_its_own_head(tmp_path):
    hub_folder(tmp_path / "named", {"num_classes": 3, "label_names": ["cat", "dog", "bird"]}, num_classes=3)
    assert load_pretrained(tmp_path / "named").class_names == ["cat", "dog", "bird"]
    hub_folder(tmp_path / "by_index", {"num_classes": 2, "label_names": {"1": "yes", "0": "no"}}, num_classes=2)
    assert load_pretrained(tmp_path / "by_index").class_names == ["no", "yes"]
    # 1000 classes, but the folder states no dataset: the architecture's default tag does not speak for these weights
    hub_folder(tmp_path / "unstated", {"num_classes": 1000})
    assert load_pretrained(tmp_path / "unstated").class_names == [str(i) for i in range(1000)]
    hub_folder(tmp_path / "in1k", {"num_classes": 1000, "pretrained_cfg": {"tag": "augreg2_in21k_ft_in1k", "mean": [0.1, 0.2, 0.3], "std": [0.4, 0.5, 0.6]}})
    from_folder = load_pretrained(tmp_path / "in1k")
    assert from_folder.class_names[0] == "tench, Tinca tinca"
    assert (from_folder.data_contract.mean, from_folder.data_contract.std) == ([0.1, 0.2, 0.3], [0.4, 0.5, 0.6])  # its own, too
    hub_folder(tmp_path / "wrong", {"num_classes": 3, "label_names": ["cat", "dog"]}, num_classes=3)
    with pytest.raises(WeightsError, match="label_names holds 2 names, but the head has 3 classes"):
        load_pretrained(tmp_path / "wrong")
