"""The data contract travels with the weights: a save_pretrained folder reads inputs exactly as its checkpoint did."""

import json

import pytest
import timm
import torch
from torchvision.io import write_png

import vit_bert
from vit_bert.config import DataContract
from vit_bert.errors import ConfigError, DataError
from vit_bert.predict import Predictor
from vit_bert.tokenizer import train_wordpiece
from vit_bert.weights.load import checkpoint_contract

IMAGE = DataContract("image", ["cat", "dog", "owl"], in_chans=3, img_size=16, mean=[0.2, 0.3, 0.4], std=[0.1, 0.2, 0.3])


def image_model():
    model = vit_bert.build_model("vit-ti/16", img_size=16, patch_size=4, depth=1, num_classes=3)
    model.set_data_contract(IMAGE)
    return model


def test_a_folder_keeps_size_normalisation_and_class_names(tmp_path):
    image_model().save_pretrained(tmp_path / "folder")
    meta = json.loads((tmp_path / "folder/config.json").read_text())
    assert meta["data"]["mean"] == [0.2, 0.3, 0.4] and meta["data"]["img_size"] == 16 and "tokenizer" not in meta["data"]
    assert vit_bert.load_pretrained(tmp_path / "folder").data_contract == IMAGE


def test_predict_from_a_folder_normalises_with_the_training_statistics(tmp_path):
    model = image_model()
    model.save_pretrained(tmp_path / "folder")
    write_png(torch.randint(0, 256, (3, 16, 16), dtype=torch.uint8), str(tmp_path / "a.png"))
    predictor = Predictor(str(tmp_path / "folder"))
    images = predictor.read_images([tmp_path / "a.png"])
    expected = (images.float() / 255 - torch.tensor(IMAGE.mean).view(1, 3, 1, 1)) / torch.tensor(IMAGE.std).view(1, 3, 1, 1)
    torch.testing.assert_close(predictor.batch(images)["images"], expected)
    assert predictor.class_names == ["cat", "dog", "owl"]


def test_a_text_folder_keeps_the_tokenizer_and_max_length(tmp_path):
    tokenizer = train_wordpiece(["a good film", "a dull plot"], 60)
    contract = DataContract("text", ["neg", "pos"], vocab_size=tokenizer.get_vocab_size(), pad_token_id=0, max_length=6,
                            tokenizer=tokenizer.to_str())
    model = vit_bert.build_model("bert-tiny", vocab_size=contract.vocab_size, num_classes=2)
    model.set_data_contract(contract)
    model.save_pretrained(tmp_path / "folder")
    assert (tmp_path / "folder/tokenizer.json").is_file()
    predictor = Predictor(str(tmp_path / "folder"))
    assert predictor.text.max_length == 6  # a longer text is cut where training cut it
    assert predictor.batch(["a good film a dull plot a good film"])["input_ids"].shape == (1, 6)


def test_image_weights_without_a_contract_need_mean_and_std(tmp_path):
    reference = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32)  # a registered timm ViT: its head count is known
    torch.save(reference.state_dict(), tmp_path / "vit.pth")
    with pytest.raises(DataError, match=r"does not say how its images were normalised .* --mean 0.485"):
        Predictor(str(tmp_path / "vit.pth"))
    predictor = Predictor(str(tmp_path / "vit.pth"), mean=[0.5] * 3, std=[0.5] * 3)
    assert predictor.transform.mean.flatten().tolist() == [0.5] * 3
    with pytest.raises(ConfigError, match="one value per channel"):
        Predictor(str(tmp_path / "vit.pth"), mean=[0.5], std=[0.5])


def test_contract_checks_its_fields():
    with pytest.raises(ConfigError, match="text data contract needs vocab_size.*tokenizer"):
        DataContract("text", ["a"])
    with pytest.raises(TypeError, match="data contract 'img_size' must be int"):
        DataContract("image", ["a"], in_chans=1, img_size="8", mean=[0.0], std=[1.0])


def test_checkpoints_from_before_the_contract_are_still_read():
    legacy = {"hyper_parameters": {"data_info": {"modality": "image", "num_classes": 2, "class_names": ["a", "b"], "in_chans": 1,
                                                 "image_size": 8, "mean": [0.1], "std": [0.2]}}}
    assert checkpoint_contract(legacy) == DataContract("image", ["a", "b"], in_chans=1, img_size=8, mean=[0.1], std=[0.2])


def test_a_text_model_given_an_image_path_stops_instead_of_reading_it_as_a_sentence(tmp_path):
    from vit_bert.predict import expand_inputs

    (tmp_path / "photo.png").write_bytes(b"")
    for item in (str(tmp_path / "photo.png"), "holiday.JPG", str(tmp_path)):
        with pytest.raises(DataError, match=r"(an image file name|a folder), but this model reads text.*sentences or .txt files"):
            expand_inputs(["a fine film", item], "text")
    assert expand_inputs(["a fine film", "the png format is fine"], "text") == ["a fine film", "the png format is fine"]
