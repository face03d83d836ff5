"""Masked-token pretraining: BERT's MLM on text and MAE on images. The masking rules, the task,
and pretrain -> fine-tune through train.py."""

from pathlib import Path

import pytest
import torch

from vit_bert.config import DataContract
from vit_bert.errors import DataError
from vit_bert.tokenizer import train_wordpiece
import vit_bert
from vit_bert.training.masked import MaskedTokenTask, normalised_patches
from vit_bert.training.masking import mask_patches, mask_tokens
from text_data import sentences, write_splits

ROOT = Path(__file__).resolve().parent.parent
SPECIAL = torch.tensor([0, 1, 2, 3, 4])  # [PAD] [UNK] [CLS] [SEP] [MASK]


def test_bert_masking_rule_on_a_large_batch():
    ids = torch.randint(5, 1000, (64, 128))
    ids[:, 0], ids[:, -1] = 2, 3  # [CLS] ... [SEP]
    mask = torch.ones_like(ids)
    mask[:8, 100:] = 0
    ids[:8, 100:] = 0
    corrupted, chosen = mask_tokens(ids, mask, SPECIAL, mask_id=4, vocab_size=1000, mask_prob=0.15, generator=torch.Generator().manual_seed(0))
    candidates = (mask.bool() & (ids >= 5))
    assert not (chosen & ~candidates).any()  # never [CLS], [SEP] or padding
    assert abs(chosen.sum() / candidates.sum() - 0.15) < 0.01
    assert torch.equal(corrupted[~chosen], ids[~chosen])
    as_mask = (corrupted[chosen] == 4).float().mean()
    kept = (corrupted[chosen] == ids[chosen]).float().mean()
    assert abs(as_mask - 0.8) < 0.02 and abs(kept - 0.1) < 0.02 and abs(1 - as_mask - kept - 0.1) < 0.02  # 80/10/10


def test_a_short_batch_still_predicts_a_token_and_an_empty_one_is_named():
    ids, mask = torch.tensor([[2, 7, 3]]), torch.ones(1, 3, dtype=torch.long)
    _, chosen = mask_tokens(ids, mask, SPECIAL, 4, 50, mask_prob=1e-6)
    assert chosen.tolist() == [[False, True, False]]
    with pytest.raises(DataError, match="no token to mask: every text is empty"):
        mask_tokens(torch.tensor([[2, 3]]), torch.ones(1, 2), SPECIAL, 4, 50, 0.15)


def contract(vocab: int = 60) -> DataContract:
    tokenizer = train_wordpiece([t for t, _ in sentences(200)], vocab)
    return DataContract("text", [], vocab_size=tokenizer.get_vocab_size(), pad_token_id=0, max_length=32, tokenizer=tokenizer.to_str())


def test_the_task_learns_to_fill_in_a_fixed_batch():
    torch.manual_seed(0)
    data = contract()
    task = MaskedTokenTask("bert-tiny", config={"dropout": 0.0, "attn_dropout": 0.0}, data_contract=data, mask_prob=0.3)
    task.log = lambda *a, **k: None
    tokenizer = data.load_tokenizer()
    texts = [t for t, _ in sentences(16, seed=5)]
    rows = [[2, *tokenizer.encode(t, add_special_tokens=False).ids, 3] for t in texts]
    longest = max(map(len, rows))
    ids = torch.tensor([r + [0] * (longest - len(r)) for r in rows])
    batch = {"input_ids": ids, "attention_mask": (ids != 0).long()}
    optimizer = torch.optim.AdamW(task.parameters(), lr=3e-3)
    losses = []
    for step in range(100):
        loss = task.training_step(batch, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    # masks are drawn anew every step, so compare averages; seen: 0.38 (Xeon AMX), 0.41 (CI's CPU)
    assert sum(losses[-10:]) / 10 < 0.55 * sum(losses[:5]) / 5


def test_bad_settings_stop_with_one_line():
    with pytest.raises(ValueError, match="mask_prob must lie between 0 and 1"):
        MaskedTokenTask("bert-tiny", data_contract=contract(), mask_prob=1.0)
    with pytest.raises(ValueError, match="bert-tiny' reads text inputs.*gives image"):
        MaskedTokenTask("bert-tiny", data_contract=DIGITS)
    plain = contract()
    tokenizer = plain.load_tokenizer()
    vocab = {k: v for k, v in tokenizer.get_vocab().items() if k != "[MASK]"}
    from tokenizers import Tokenizer
    from tokenizers.models import WordPiece

    no_mask = Tokenizer(WordPiece(vocab, unk_token="[UNK]"))
    with pytest.raises(ValueError, match=r"the tokenizer has no \[MASK\] token"):
        MaskedTokenTask("bert-tiny", data_contract=DataContract("text", [], vocab_size=len(vocab), pad_token_id=0, max_length=32, tokenizer=no_mask.to_str()))


@pytest.mark.slow
def test_pretrain_with_train_py_then_fine_tune_from_its_last_checkpoint(tmp_path, monkeypatch, capsys):
    from vit_bert.cli import build_cli, run
    from vit_bert.commands import main as vit_bert_command, train_py as main

    monkeypatch.chdir(tmp_path)
    write_splits(tmp_path / "data", "tsv", n_train=200, n_test=40)
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw/train.txt").write_text("\n".join(t for t, _ in sentences(200)) + "\n")  # unlabelled, one per line
    pretrain = run(["--config", str(ROOT / "configs/mlm_pretrain.yaml"), "--data.root", "raw", "--model.preset", "bert-tiny",
                    "--data.tokenizer_vocab_size", "120", "--trainer.max_steps", "7", "--trainer.enable_progress_bar", "false",
                    "--trainer.callbacks+=vit_bert.viz.AttentionFigureCallback"])
    assert "test masked-token accuracy: " in capsys.readouterr().out
    figures = sorted((Path(pretrain.trainer.log_dir) / "attention").glob("*.png"))  # attention while pretraining
    assert [f.name for f in figures] == ["epoch000.png", "epoch001.png"]
    last = Path(pretrain.trainer.log_dir) / "checkpoints/last.ckpt"  # written when max_steps ends the fit mid-epoch
    assert last.is_file() and torch.load(last, weights_only=True)["global_step"] == 7

    fine_tune = ["--config", str(ROOT / "configs/sst2_bert.yaml"), "--data.root", "data", "--model.pretrained", str(last),
                 "--trainer.max_epochs", "1", "--trainer.enable_progress_bar", "false"]
    cli = build_cli(fine_tune)
    assert cli.model.config.head == "classifier" and cli.model.config.num_classes == 2
    pretrained = torch.load(last, weights_only=True)["state_dict"]["model.encoder.blocks.0.attn.qkv.weight"]
    assert torch.equal(cli.model.model.encoder.blocks[0].attn.qkv.weight, pretrained)
    assert cli.datamodule.tokenizer.vocab_size == pretrain.datamodule.tokenizer.vocab_size  # the checkpoint's tokenizer
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", str(last), "a good film"])
    assert exit_info.value.code == 2 and "is a masked-token model" in capsys.readouterr().err
    vit_bert_command(["viz", str(last), "a good film", "--html", "mlm.html"])  # its attention can be seen all the same, with its own tokenizer
    assert "wrote mlm.html: 1 input(s)" in capsys.readouterr().out and (tmp_path / "mlm.html").stat().st_size > 10_000


DIGITS = DataContract("image", [str(i) for i in range(10)], in_chans=1, img_size=8, mean=[0.3], std=[0.4])
TINY_VIT = {"patch_size": 2, "dim": 32, "depth": 2, "heads": 2, "dropout": 0.0}


def test_patch_masks_hide_exactly_the_asked_share_of_each_image_at_random():
    masked = mask_patches(256, 16, 10, generator=torch.Generator().manual_seed(0))
    assert masked.shape == (256, 16) and masked.sum(dim=1).tolist() == [10] * 256
    assert abs(masked.float().mean(dim=0) - 10 / 16).max() < 0.12  # every position is masked about as often
    assert len({tuple(row.tolist()) for row in masked}) > 200  # each image its own subset
    again = mask_patches(256, 16, 10, generator=torch.Generator().manual_seed(0))
    assert torch.equal(masked, again)


def test_mask_ratios_that_leave_nothing_visible_or_nothing_to_predict_are_refused():
    with pytest.raises(ValueError, match=r"mask_prob=0.02 masks 0 of the 16 patches: nothing to predict"):
        MaskedTokenTask("vit-cifar/4", config={"patch_size": 2}, data_contract=DIGITS, mask_prob=0.02)
    with pytest.raises(ValueError, match=r"mask_prob=0.98 masks all 16 patches: nothing stays visible"):
        MaskedTokenTask("vit-cifar/4", config={"patch_size": 2}, data_contract=DIGITS, mask_prob=0.98)


@pytest.mark.parametrize("stem", ["patch", "conv"])
def test_the_model_cannot_see_the_pixels_of_masked_patches(stem):
    # A conv stem's 3x3 windows reach across patch borders: the hidden pixels are zeroed before it.
    torch.manual_seed(0)
    model = vit_bert.build_model("vit-cifar/4", **{**TINY_VIT, "stem": stem}, img_size=8, in_chans=1, head="pixels").eval()
    images = torch.randn(3, 1, 8, 8)
    masked = mask_patches(3, 16, 10, generator=torch.Generator().manual_seed(1))
    hidden_pixels = vit_bert.layers.unpatchify(masked[..., None].expand(-1, -1, 4), 2, (4, 4))  # (3, 1, 8, 8) bool
    changed = images + torch.randn_like(images) * hidden_pixels
    assert not torch.equal(changed, images)
    with torch.no_grad():
        predicted, again = model.forward_masked(images, masked), model.forward_masked(changed, masked)
        unmasked = model.forward_masked(changed, torch.zeros_like(masked))
    assert predicted.shape == (3, 16, 4)
    assert torch.allclose(predicted, again, atol=1e-6)  # the hidden pixels changed, the prediction did not
    assert not torch.allclose(predicted, unmasked, atol=1e-3)
    with pytest.raises(ValueError, match="forward_masked needs a masked-patch model"):
        vit_bert.build_model("vit-cifar/4", **TINY_VIT, img_size=8, in_chans=1).forward_masked(images, masked)
    uneven = masked.clone()
    uneven[2, masked[2].nonzero()[0]] = False
    with pytest.raises(ValueError, match=r"every image needs the same number of masked patches; got \[9, 10\]"):
        model.forward_masked(images, uneven)


def test_the_encoder_reads_the_visible_patches_only_and_the_decoder_fills_in_the_rest():
    torch.manual_seed(0)
    model = vit_bert.build_model("vit-cifar/4", **TINY_VIT, img_size=8, in_chans=1, head="pixels").eval()
    seen = []
    model.encoder.register_forward_hook(lambda module, args, output: seen.append(tuple(output.shape)))
    masked = mask_patches(2, 16, 12)
    with torch.no_grad():
        predicted = model.forward_masked(torch.randn(2, 1, 8, 8), masked)
    assert seen == [(2, 1 + 4, 32)]  # [CLS] + the 4 visible patches of 16
    assert predicted.shape == (2, 16, 4)
    images = torch.randn(2, 1, 8, 8)
    kept = (~masked).nonzero()[:, 1].reshape(2, 4)
    with torch.no_grad():
        everything = model.frontend(images).tokens
        visible = model.frontend.forward_visible(images, kept).tokens
        assert torch.equal(visible[:, 0], everything[:, 0])  # [CLS]
        assert torch.equal(visible[:, 1:], everything[:, 1:][torch.arange(2)[:, None], kept])  # each patch with its own position
        encoded = torch.randn(2, 17, 32)
        all_kept = torch.arange(16).expand(2, 16)
        assert torch.allclose(model.head(encoded, all_kept), model.head(encoded), atol=1e-6)  # nothing hidden: no mask token


def test_a_masked_patch_model_saved_and_loaded_keeps_its_decoder(tmp_path):
    model = vit_bert.build_model("vit-cifar/4", **TINY_VIT, img_size=8, in_chans=1, head="pixels")
    with torch.no_grad():
        for parameter in model.head.parameters():
            parameter.normal_()
    model.save_pretrained(tmp_path / "mae")
    again = vit_bert.load_pretrained(tmp_path / "mae")
    assert again.config.head == "pixels"
    assert all(torch.equal(again.state_dict()[k], v) for k, v in model.state_dict().items())


def test_pixel_targets_are_each_patch_normalised():
    images = torch.rand(2, 3, 8, 8) * 5 + 2
    target = normalised_patches(images, 4)
    assert target.shape == (2, 4, 48)
    assert target.mean(dim=-1).abs().max() < 1e-5 and (target.std(dim=-1) - 1).abs().max() < 1e-3


def test_the_image_task_learns_to_fill_in_a_fixed_batch():
    torch.manual_seed(0)
    task = MaskedTokenTask("vit-cifar/4", config=TINY_VIT, data_contract=DIGITS)
    task.log = lambda *a, **k: None
    assert task.model.config.head == "pixels" and task.masked_per_image == 12  # 0.75 of 16 patches by default
    yy, xx = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    images = torch.stack([torch.sin(xx * f / 3 + yy * g / 4) for f, g in zip(range(1, 17), range(16, 0, -1))])[:, None]
    optimizer = torch.optim.AdamW(task.parameters(), lr=3e-3)
    losses = []
    for step in range(300):
        loss = task.training_step({"images": images, "labels": torch.zeros(16, dtype=torch.long)}, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    # masks are drawn anew every step, so compare averages; seen: 0.40 (Xeon AMX); 0.53 after 150 steps
    assert sum(losses[-10:]) / 10 < 0.6 * sum(losses[:5]) / 5


@pytest.mark.slow
def test_masked_image_pretraining_then_fine_tuning_as_the_config_says(tmp_path, monkeypatch, capsys):
    from vit_bert.cli import build_cli, run
    from vit_bert.commands import train_py as main

    monkeypatch.chdir(tmp_path)
    # Validated after every epoch here (the config: every 5th), so that the callback draws after the first.
    pretrain = run(["--config", str(ROOT / "configs/mim_pretrain.yaml"), "--data.dataset", "digits", "--trainer.max_steps", "30",
                    "--trainer.check_val_every_n_epoch", "1",
                    "--trainer.enable_progress_bar", "false", "--trainer.callbacks+=vit_bert.viz.AttentionFigureCallback"])
    out = capsys.readouterr().out
    assert "test pixel loss (L1 on masked patches): " in out
    assert float(out.split("test pixel loss (L1 on masked patches): ")[1].split()[0]) < 0.8  # per-patch-normalised targets: predicting 0 gives E|z| = 0.80
    assert [p.name for p in (Path(pretrain.trainer.log_dir) / "attention").glob("*.png")] == ["epoch000.png"]  # 25 steps an epoch
    last = Path("runs/mim_pretrain/version_0/checkpoints/last.ckpt")
    assert torch.load(last, weights_only=True)["global_step"] == 30

    cli = build_cli(["--model.pretrained", str(last), "--trainer.max_epochs", "1"])  # the quickstart config, as written
    assert cli.model.config.head == "classifier" and cli.model.config.num_classes == 10
    pretrained = torch.load(last, weights_only=True)["state_dict"]
    for name in ("encoder.blocks.3.mlp.fc2.weight", "frontend.patch_embed.proj.weight"):
        assert torch.equal(cli.model.model.get_parameter(name), pretrained[f"model.{name}"])

    with pytest.raises(SystemExit) as exit_info:
        main(["--model.pretrained", str(last), "--model.config.dim", "32"])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err.count("\n") == 0
    assert "model.config.dim=32 disagrees with the pretrained model, which has dim=64" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", str(last), "x.png"])
    assert exit_info.value.code == 2 and "is a masked-token model (head='pixels')" in capsys.readouterr().err
