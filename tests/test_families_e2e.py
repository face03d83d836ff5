"""Everything downstream of loading, on every ViT family (each timm architecture at the digits' size): fine-tuning through
train.py with a fresh head, predict, the folder round trip, ONNX export, masked-image pretraining and co-training from it."""

import json
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file
from torchvision.io import write_png

import vit_bert
from vit_bert.cli import build_cli, run
from vit_bert.commands import main as vit_bert_main
from vit_bert.export import example_inputs, export_onnx, onnx_max_difference
from text_data import write_splits

ROOT = Path(__file__).resolve().parent.parent
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


FAMILIES = ["vit_small_patch14_dinov2", "vit_small_patch14_reg4_dinov2", "deit3_small_patch16_224", "deit_tiny_distilled_patch16_224",
            "vit_base_patch16_clip_224", "vit_base_patch16_siglip_224", "eva02_tiny_patch14_224", "vit_small_patch16_dinov3"]
# A width no registered timm ViT has: the head count is given, and CLIP's GELU (timm also registers it with quick GELU)
KNOWN = {"vit_base_patch16_clip_224": ", act: gelu"}
ACT = {"eva02_tiny_patch14_224": "silu"}  # SwiGLU; the others GELU
# Eva models (rotary positions): their settings are in the timm object, not its tensors; EVA-02's reference grid at this size
EVA = {"eva02_tiny_patch14_224": {"ref_feat_shape": (4, 4)}, "vit_small_patch16_dinov3": {}}


def family_file(directory: Path, name: str) -> Path:
    """timm's architecture of ``name`` at the digits' size (8x8 grey, 2x2 patches), random weights, as a bare file; an Eva as
    the vit_bert folder of its object, the way its rotary settings travel."""
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False, img_size=8, patch_size=2, in_chans=1, embed_dim=32, depth=2, num_heads=2,
                              **EVA.get(name, {}))
    if name in EVA:
        return vit_bert.load_pretrained(model).save_pretrained(directory / f"{name}_tiny")
    path = directory / f"{name}_tiny.safetensors"
    save_file(model.state_dict(), path)
    return path


def write_config(path: Path, task: str, weights: Path) -> Path:
    known = next((extra for name, extra in KNOWN.items() if weights.name.startswith(name)), "")
    path.write_text(
        f"seed_everything: 0\nmodel:\n  class_path: {task}\n"
        f"  init_args:\n    pretrained: {weights}\n    config: {{heads: 2{known}}}\n    lr: 0.002\n"
        # a bare weights file records no normalisation: the data module is told one
        "data:\n  class_path: vit_bert.data.ImageDataModule\n  init_args: {dataset: digits, batch_size: 32, hflip: false, mean: [0.5], std: [0.5]}\n"
        "trainer:\n  max_epochs: 1\n  limit_train_batches: 4\n  limit_val_batches: 2\n  limit_test_batches: 2\n  precision: 32-true\n", encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILIES)
def test_fine_tune_predict_and_export(tmp_path, monkeypatch, capsys, name):
    monkeypatch.chdir(tmp_path)
    weights = family_file(tmp_path, name)
    start = vit_bert.load_pretrained(weights, heads=2, act=ACT.get(name, "gelu"))
    cli = run(["--config", str(write_config(tmp_path / "fine_tune.yaml", "ClassificationTask", weights)), *QUIET])
    model = cli.model.model
    assert model.config.num_classes == 10 and model.head.fc.weight.shape == (10, 32)  # a fresh 10-class head
    assert model.config.image_config == start.config.image_config  # registers, distillation token, norm_pre ... as the file's
    out = capsys.readouterr().out
    assert "test accuracy: " in out
    best = out.split("checkpoint: ")[1].split()[0]

    from sklearn.datasets import load_digits

    write_png(torch.from_numpy(load_digits().images[0] * 255 / 16).to(torch.uint8)[None], "digit0.png")
    vit_bert_main(["predict", best, "digit0.png"])
    name, label, probability = capsys.readouterr().out.strip().split("\t")
    assert name == "digit0.png" and label in [str(d) for d in range(10)] and 0.0 < float(probability) <= 1.0

    loaded = vit_bert.load_pretrained(best).eval()
    loaded.save_pretrained(tmp_path / "folder")
    again = vit_bert.load_pretrained(tmp_path / "folder").eval()
    images = torch.randn(3, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(again(images), loaded(images))
    path = export_onnx(loaded, tmp_path / "model.onnx")
    assert onnx_max_difference(loaded, path, example_inputs(loaded, 4, 0, seed=0)) <= 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILIES)
def test_masked_image_pretraining_and_co_training_start_from_it(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    weights = family_file(tmp_path, name)
    start = vit_bert.load_pretrained(weights, heads=2, act=ACT.get(name, "gelu"))
    mae = run(["--config", str(write_config(tmp_path / "mae.yaml", "MaskedTokenTask", weights)), *QUIET])
    assert mae.model.model.config.head == "pixels" and mae.model.model.head.num_prefix_tokens == start.config.num_prefix_tokens
    assert mae.trainer.global_step == 4

    write_splits(tmp_path / "text", "tsv", n_train=200, n_test=40)
    image = {key: value for key, value in start.config.image_config.__dict__.items()
             if key not in ("in_chans", "dropout", "ln_eps") and value is not None}  # None: the default
    head = {key: getattr(start.config, key) for key in ("pool", "fc_norm")}
    encoder = {"heads": 2, "act": ACT.get(name, "gelu")}
    cotrain = build_cli(["--config", str(ROOT / "configs/cotrain_cifar10_sst2.yaml"), "--data.tasks.cifar10.init_args.dataset", "digits",
                         "--data.tasks.sst2.init_args.root", "text", "--data.tasks.sst2.init_args.tokenizer_vocab_size", "120",
                         "--model.pretrained", str(weights), "--model.encoder", json.dumps(encoder),
                         "--model.tasks", json.dumps({"cifar10": {**image, **head}, "sst2": {"max_len": 64}}),
                         "--trainer.max_steps", "1", "--trainer.max_time", "null", *QUIET])
    shared = cotrain.model.model
    assert torch.equal(shared.encoder.blocks[1].mlp.fc2.weight, start.encoder.blocks[1].mlp.fc2.weight)
    if start.frontend.pos_embed is not None:
        assert torch.equal(shared.frontends["cifar10"].pos_embed, start.frontend.pos_embed)  # the image front-end came along
    else:
        assert torch.equal(shared.frontends["cifar10"].reg_token, start.frontend.reg_token)  # DINOv3: no table, but registers
    assert shared.encoder.config.rope_theta == start.config.rope_theta
