import pytest
import torch

from vit_bert.training.task import ClassificationTask, model_config

IMAGE_INFO = {"modality": "image", "num_classes": 10, "class_names": list("0123456789"), "in_chans": 1, "image_size": 8}
TEXT_INFO = {"modality": "text", "num_classes": 3, "class_names": ["a", "b", "c"], "vocab_size": 120, "pad_token_id": 0, "max_length": 32}


def test_data_info_sets_classes_channels_size_and_vocabulary():
    image = model_config("vit-cifar/4", {"patch_size": 2}, IMAGE_INFO)
    assert (image.num_classes, image.in_chans, image.img_size) == (10, 1, 8)
    text = model_config("bert-tiny", None, TEXT_INFO)
    assert (text.num_classes, text.vocab_size, text.pad_token_id) == (3, 120, 0)


def test_override_that_contradicts_the_data_is_an_error():
    with pytest.raises(ValueError, match=r"model.overrides.num_classes=5 disagrees with the dataset, which has num_classes=10"):
        model_config("vit-cifar/4", {"num_classes": 5, "patch_size": 2}, IMAGE_INFO)


def test_preset_of_the_other_modality_is_an_error():
    with pytest.raises(ValueError, match=r"preset 'bert-tiny' reads text inputs, but the data module gives image"):
        model_config("bert-tiny", None, IMAGE_INFO)


def test_max_length_longer_than_position_table():
    with pytest.raises(ValueError, match=r"max_length=32 exceeds .*max_len=16"):
        model_config("bert-tiny", {"max_len": 16}, TEXT_INFO)


def test_mixup_is_for_images_only():
    with pytest.raises(ValueError, match="images only"):
        ClassificationTask("bert-tiny", data_info=TEXT_INFO, mixup_alpha=0.8)


@pytest.mark.parametrize("mixup", [0.0, 0.8])
def test_training_steps_fit_a_fixed_batch(mixup):
    torch.manual_seed(0)
    task = ClassificationTask("vit-cifar/4", {"patch_size": 2, "dim": 32, "depth": 1, "heads": 2}, IMAGE_INFO, mixup_alpha=mixup)
    task.log = task.log_dict = lambda *a, **k: None  # no trainer attached
    batch = {"images": torch.randn(16, 1, 8, 8), "labels": torch.arange(16) % 10}
    optimizer = torch.optim.AdamW(task.parameters(), lr=3e-3)
    losses = []
    for step in range(40):
        loss = task.training_step(dict(batch), step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    task.eval()
    probs = task.predict_step(batch, 0)
    torch.testing.assert_close(probs.sum(-1), torch.ones(16))
