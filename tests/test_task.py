import pytest
import torch

from dataclasses import replace

from vit_bert.config import DataContract, ModelOptions
from vit_bert.tokenizer import train_wordpiece
from vit_bert.training.base import model_config
from vit_bert.training.task import ClassificationTask

IMAGE_INFO = DataContract("image", list("0123456789"), in_chans=1, img_size=8, mean=[0.5], std=[0.25])
TEXT_INFO = DataContract("text", ["a", "b", "c"], vocab_size=120, pad_token_id=0, max_length=32, tokenizer=train_wordpiece(["a b c"], 120).to_str())


def options(fields=None):
    """The ``model.config`` fields a user set, as the task reads them."""
    return ModelOptions(**(fields or {})).set_fields()


def test_data_info_sets_classes_channels_size_and_vocabulary():
    image = model_config("vit-cifar/4", options({"patch_size": 2}), IMAGE_INFO)
    assert (image.num_classes, image.in_chans, image.img_size) == (10, 1, 8)
    text = model_config("bert-tiny", options(), TEXT_INFO)
    assert (text.num_classes, text.vocab_size, text.pad_token_id) == (3, 120, 0)


def test_override_that_contradicts_the_data_is_an_error():
    with pytest.raises(ValueError, match=r"num_classes=5 disagrees with the dataset, which has num_classes=10"):
        model_config("vit-cifar/4", options({"num_classes": 5, "patch_size": 2}), IMAGE_INFO)


def test_preset_of_the_other_modality_is_an_error():
    with pytest.raises(ValueError, match=r"preset 'bert-tiny' reads text inputs, but the data module gives image"):
        model_config("bert-tiny", options(), IMAGE_INFO)


def test_max_length_longer_than_position_table():
    with pytest.raises(ValueError, match=r"max_length=32 exceeds .*max_len=16"):
        model_config("bert-tiny", options({"max_len": 16}), TEXT_INFO)


def test_mixup_is_for_images_only():
    with pytest.raises(ValueError, match="images only"):
        ClassificationTask("bert-tiny", data_contract=TEXT_INFO, mixup_alpha=0.8)


@pytest.mark.parametrize("mixup", [0.0, 0.8])
def test_training_steps_fit_a_fixed_batch(mixup):
    torch.manual_seed(0)
    task = ClassificationTask("vit-cifar/4", config={"patch_size": 2, "dim": 32, "depth": 1, "heads": 2}, data_contract=IMAGE_INFO, mixup_alpha=mixup)
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


def test_task_starts_from_pretrained_weights_and_adapts_them_to_the_data(tmp_path):
    import timm

    reference = timm.create_model("vit_tiny_patch16_224", pretrained=False, in_chans=1)  # a registered timm ViT: its head count is known
    torch.save(reference.state_dict(), tmp_path / "vit.pth")
    info = replace(IMAGE_INFO, img_size=32)
    task = ClassificationTask(pretrained=str(tmp_path / "vit.pth"), config={"drop_path": 0.1}, data_contract=info)
    assert (task.config.num_classes, task.config.img_size, task.config.drop_path, task.config.dim) == (10, 32, 0.1, 192)
    assert torch.equal(task.model.encoder.blocks[1].attn.qkv.weight, reference.blocks[1].attn.qkv.weight)
    assert task.model(torch.randn(2, 1, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="pretrained model reads image inputs.*data module gives text"):
        ClassificationTask(pretrained=str(tmp_path / "vit.pth"), data_contract=TEXT_INFO)


def test_pretrained_text_model_needs_its_own_vocabulary(tmp_path):
    from transformers import BertConfig, BertModel

    BertModel(BertConfig(vocab_size=500, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="tokenizer has 120 tokens.*vocabulary has 500"):
        ClassificationTask(pretrained=str(tmp_path), data_contract=TEXT_INFO)
    task = ClassificationTask(pretrained=str(tmp_path), data_contract=replace(TEXT_INFO, vocab_size=500))
    assert task.config.num_classes == 3 and task.config.pre_norm is False


def test_a_nan_loss_stops_training_with_the_step_and_a_hint():
    task = ClassificationTask("vit-cifar/4", config={"patch_size": 2, "dim": 32, "depth": 1, "heads": 2}, data_contract=IMAGE_INFO)
    images = torch.randn(4, 1, 8, 8)
    images[0, 0, 0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match=r"loss became nan at step 0; lower model.lr .* 32-true"):
        task.training_step({"images": images, "labels": torch.tensor([0, 1, 2, 3])}, 0)
