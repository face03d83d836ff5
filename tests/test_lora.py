"""LoRA adapters on every family: zero at the start, only adapters and head train, exact merging into plain weights,
from Python and from the command line (--model.lora.rank), the checkpoint holding them apart."""

from pathlib import Path

import pytest
import torch

import vit_bert
from vit_bert.cli import run
from vit_bert.errors import ConfigError
from vit_bert.layers.lora import LoRAConfig, merged_state_dict

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = {  # preset -> overrides, small: each family's block (post-norm BERT, GeGLU rotary ModernBERT, ViT, SwiGLU EVA-02, DINOv3)
    "bert-mini": dict(vocab_size=50, depth=2, num_classes=2), "modern-mini": dict(vocab_size=50, depth=2, num_classes=2),
    "vit-cifar/4": dict(depth=2), "eva02-ti/14": dict(depth=2, img_size=28, num_classes=3), "dinov3-s/16": dict(depth=2, img_size=32, num_classes=3, layer_scale=1.0),
}


def inputs(model):
    if model.config.modality == "text":
        ids = torch.randint(5, 50, (2, 9))
        mask = torch.ones_like(ids)
        mask[1, 5:] = 0  # a padded row: the packed path
        return (ids,), {"attention_mask": mask}
    return (torch.randn(2, 3, model.config.img_size, model.config.img_size),), {}


@pytest.mark.parametrize("preset", list(FAMILIES))
def test_adapters_start_at_zero_train_alone_and_merge_exactly(preset):
    model = vit_bert.build_model(preset, **FAMILIES[preset]).eval()
    args, kwargs = inputs(model)
    with torch.no_grad():
        before = model(*args, **kwargs)
    adapted = model.add_lora(rank=4, targets=("q", "k", "v", "proj", "fc1", "fc2"))
    assert len(adapted) == 4 * model.config.depth
    with torch.no_grad():
        assert torch.equal(model(*args, **kwargs), before)  # B starts at zero
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(".parametrizations.weight.0." in name or name.startswith("head.") for name in trainable)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "B_" in name:
                p.normal_(std=0.05)
        adapted_out = model(*args, **kwargs)
    assert (adapted_out - before).abs().max() > 1e-3
    plain = vit_bert.build_model(preset, **FAMILIES[preset]).eval()
    plain.load_state_dict(model.plain_state_dict())
    with torch.no_grad():
        assert (plain(*args, **kwargs) - adapted_out).abs().max() < 1e-5
    assert model.merge_lora() == 4 * model.config.depth
    with torch.no_grad():
        assert (model(*args, **kwargs) - adapted_out).abs().max() < 1e-5
    assert set(model.state_dict()) == set(plain.state_dict())


def test_lora_config_errors_say_what_was_expected():
    with pytest.raises(ConfigError, match=r"lora.rank=0: expected a positive integer"):
        LoRAConfig(rank=0)
    with pytest.raises(ConfigError, match=r"lora.targets=\['query'\]: expected some of q, k, v, proj, fc1, fc2"):
        LoRAConfig(targets=("query",))
    model = vit_bert.build_model("vit-cifar/4", depth=1)
    model.add_lora()
    with pytest.raises(ConfigError, match="has LoRA adapters already; merge them first"):
        model.add_lora()


def test_every_format_writes_merged_weights(tmp_path):
    model = vit_bert.build_model("vit-s/16", depth=2, img_size=32, num_classes=3).eval()
    model.add_lora(rank=2)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "B_" in name:
                p.normal_(std=0.05)
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = model(images)
    for fmt in ("vit_bert", "timm", "transformers"):
        back = vit_bert.load_pretrained(model.save_pretrained(tmp_path / fmt, format=fmt)).eval()
        with torch.no_grad():
            assert (back(images) - expected).abs().max() < 1e-5, fmt


def test_lora_from_the_command_line_trains_adapters_and_head_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # the default command's model (configs/quickstart.yaml's sizes), as pretrained weights to adapt
    start = vit_bert.build_model("vit-cifar/4", img_size=8, patch_size=2, in_chans=1, depth=4, dim=64, heads=4, mlp_ratio=2.0, pos_embed="sincos",
                                 pool="mean", num_classes=10)
    folder = start.save_pretrained(tmp_path / "start")
    cli = run(["--model.preset", "vit-cifar/4", "--model.pretrained", str(folder), "--model.lora.rank", "4", "--model.lora.targets", "[q, v, fc1]",
               "--data.dataset", "digits", "--data.batch_size", "32", "--data.mean", "[0.5]", "--data.std", "[0.5]", "--trainer.max_steps", "3",
               "--trainer.limit_val_batches", "1", "--trainer.limit_test_batches", "1", "--trainer.enable_progress_bar", "false",
               "--trainer.precision", "32-true", "--seed_everything", "0"])
    ckpt = torch.load(Path(cli.trainer.log_dir) / "checkpoints" / "last.ckpt", weights_only=True)
    adapters = [k for k in ckpt["state_dict"] if ".parametrizations.weight.0.B_" in k]
    assert len(adapters) == 3 * 4 and ckpt["hyper_parameters"]["lora"]["rank"] == 4  # held apart, for resuming
    trained = merged_state_dict({k.removeprefix("model."): v for k, v in ckpt["state_dict"].items() if k.startswith("model.")})
    original = start.state_dict()
    unchanged = [k for k in original if k.startswith("encoder.") and "qkv" not in k and "fc1" not in k]
    assert unchanged and all(torch.equal(trained[k], original[k]) for k in unchanged)  # frozen
    assert not torch.equal(trained["encoder.blocks.0.attn.qkv.weight"], original["encoder.blocks.0.attn.qkv.weight"])  # adapted
    loaded = vit_bert.load_pretrained(Path(cli.trainer.log_dir) / "checkpoints" / "last.ckpt")
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in trained.items())  # plain weights, adapters folded in
