"""train.py end to end: tiny models, a few steps, generated or embedded data."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torchvision.io import decode_png, read_file, write_png

from vit_bert.cli import run
from vit_bert.training.checkpoint_io import AtomicCheckpointIO
from vit_bert.predict import Predictor, expand_inputs
from text_data import write_splits

ROOT = Path(__file__).resolve().parent.parent
def tiny_image_run(epochs: int = 1) -> list[str]:
    """Quickstart config, a 1-block model, 3 training batches per epoch."""
    return [
        "--model.config", "{patch_size: 2, dim: 32, depth: 1, heads: 2}",
        "--trainer.max_epochs", str(epochs), "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "2",
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
    ]


TINY_IMAGE = tiny_image_run()


def train_py(*args, cwd):
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}  # tests/ for the faults callbacks
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_train_py_quickstart_path_then_predict_from_the_checkpoint(tmp_path):
    result = train_py(*TINY_IMAGE, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "test accuracy: " in result.stdout
    for noise in ("args parameter is intended", "Tip: For seamless cloud logging", "LeafSpec` is deprecated", "Traceback", "`weights_only` was not set"):
        assert noise not in result.stderr + result.stdout  # a clean run prints no warning that looks like trouble
    checkpoint = result.stdout.split("checkpoint: ")[1].split()[0]
    assert (tmp_path / checkpoint).is_file()
    assert (tmp_path / "runs/quickstart/version_0/metrics.csv").is_file()

    # predict: two digit images written as PNG files, classified from the checkpoint alone
    from sklearn.datasets import load_digits
    digits = load_digits()
    for i in range(2):
        image = torch.from_numpy(digits.images[i] * 255 / 16).to(torch.uint8)[None]
        write_png(image, str(tmp_path / f"digit{i}.png"))
    result = train_py("predict", checkpoint, "digit0.png", "digit1.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("digit0.png\t")
    label, prob = lines[0].split("\t")[1:]
    assert label in [str(d) for d in range(10)] and 0.0 < float(prob) <= 1.0

    # checkpoint -> load_pretrained -> save_pretrained folder: the folder predicts exactly as the checkpoint
    # (its data contract keeps the digits' normalisation and size), here and through the vit-bert entry point
    from vit_bert import load_pretrained

    load_pretrained(tmp_path / checkpoint).save_pretrained(tmp_path / "folder")
    from_folder = train_py("predict", "folder", "digit0.png", "digit1.png", cwd=tmp_path)
    assert from_folder.returncode == 0 and from_folder.stdout == result.stdout, from_folder.stderr[-2000:]
    vit_bert_script = Path(sys.executable).parent / "vit-bert"  # the console script pip installed beside this Python
    vit_bert_cli = subprocess.run([str(vit_bert_script), "predict", "folder", "digit0.png", "digit1.png"], cwd=tmp_path, capture_output=True, text=True)
    assert vit_bert_cli.stdout == result.stdout, vit_bert_cli.stderr[-2000:]


@pytest.mark.slow
def test_text_run_and_checkpoint_reload_give_the_same_predictions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_splits(tmp_path / "data", "tsv", n_train=300, n_test=60, int_labels=False)
    cli = run([
        "--config", str(ROOT / "configs/sst2_bert.yaml"), "--data.root", "data",
        "--data.tokenizer_vocab_size", "200", "--model.preset", "bert-tiny", "--model.lr", "0.003",
        "--trainer.max_epochs", "5", "--trainer.enable_progress_bar", "false",
        "--trainer.callbacks+=vit_bert.viz.AttentionFigureCallback", "--trainer.callbacks.every_n_epochs", "2",
    ])
    best = cli.best_checkpoint
    assert Path(best).is_file()
    assert (Path(cli.trainer.log_dir) / "tokenizer.json").is_file()
    assert cli.trainer.callback_metrics["test_acc"] > 0.8  # the label is one word away: learnable in 5 epochs

    texts = ["the film was very good", "a dull and boring plot", "quite lovely actors"]
    predictor = Predictor(best)
    predicted = predictor(texts)
    ids, _ = cli.datamodule.tokenizer.encode(texts)
    batch = cli.datamodule.tokenizer.collate(ids)
    cli.model.eval()
    with torch.no_grad():
        probs = cli.model(**batch).softmax(-1)
    expected = [(cli.datamodule.labels.names[i], p) for i, p in zip(probs.argmax(-1).tolist(), probs.max(-1).values.tolist())]
    assert [label for label, _ in predicted] == [label for label, _ in expected]
    assert [p for _, p in predicted] == pytest.approx([p for _, p in expected], abs=1e-5)
    assert {label for label, _ in predicted} <= {"neg", "pos"}
    assert expand_inputs(texts, "text") == texts

    # the attention callback drew the same validation sentence after epochs 2 and 4 (every 2nd epoch of 5)
    figures = sorted((Path(cli.trainer.log_dir) / "attention").glob("*.png"))
    assert [f.name for f in figures] == ["epoch001.png", "epoch003.png"]
    assert decode_png(read_file(str(figures[0]))).shape[0] in (3, 4)


@pytest.mark.slow
def test_user_errors_exit_2_with_one_line_and_no_traceback(tmp_path):
    result = train_py("--model.preset", "vit-cifar/8", "--trainer.max_epochs", "1", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "unknown preset 'vit-cifar/8'" in result.stderr and "Did you mean 'vit-cifar/4'" in result.stderr


@pytest.mark.slow
def test_resume_with_ckpt_path_last_continues_from_the_saved_step(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = run([*TINY_IMAGE, "--trainer.callbacks+=vit_bert.viz.AttentionFigureCallback"])
    figure = Path(first.trainer.log_dir) / "attention/epoch000.png"
    assert decode_png(read_file(str(figure))).shape[0] in (3, 4)  # image figure of a validation digit
    assert first.trainer.global_step == 3
    resumed = run([*tiny_image_run(epochs=2), "--ckpt_path", "last"])
    assert resumed.trainer.global_step == 6  # 3 restored + 3 new, none repeated
    assert resumed.trainer.current_epoch == 2
    assert (tmp_path / "runs/quickstart/version_0/checkpoints/last.ckpt").is_file()  # the first run's files stay


@pytest.mark.slow
def test_typed_model_options_train_and_vit_bert_test_scores_the_checkpoint(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    typed = ["--model.config.patch_size", "2", "--model.config.dim", "32", "--model.config.depth", "1", "--model.config.heads", "2"]
    rest = TINY_IMAGE[2:]  # the same tiny run, its model given field by field
    cli = run([*typed, *rest])
    assert (cli.model.config.depth, cli.model.config.dim) == (1, 32)
    best = cli.best_checkpoint
    fit_accuracy = float(capsys.readouterr().out.split("test accuracy: ")[1].split()[0])
    from vit_bert.commands import main as vit_bert_main

    vit_bert_main(["test", *typed, *rest, "--ckpt_path", best])
    out = capsys.readouterr().out
    assert f"test accuracy: {fit_accuracy:.4f}" in out and f"checkpoint: {best}" in out


def test_run_takes_extra_callbacks_that_see_the_prepared_batches(tmp_path, monkeypatch):
    """benchmarks/e2e.py times a real run through this hook."""
    from lightning.pytorch.callbacks import Callback

    class Seen(Callback):
        def __init__(self):
            self.batches = []

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self.batches.append(batch["images"])

    monkeypatch.chdir(tmp_path)
    seen = Seen()
    run([*TINY_IMAGE, "--trainer.max_steps", "2"], [seen])
    assert len(seen.batches) == 2
    assert all(b.dtype == torch.float32 and b.shape[1:] == (1, 8, 8) for b in seen.batches)  # augmented and normalised


@pytest.mark.slow
def test_ckpt_path_last_without_a_previous_run(tmp_path):
    result = train_py(*TINY_IMAGE, "--ckpt_path", "last", cwd=tmp_path)
    assert result.returncode == 2 and "no last.ckpt under runs/quickstart/" in result.stderr


@pytest.mark.slow
def test_last_ckpt_holds_the_newest_state_even_when_val_acc_does_not_improve(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # lr 0: val_acc never improves after epoch 0, so no "best" checkpoint is written at epochs 1 and 2
    cli = run([*tiny_image_run(epochs=3), "--model.lr", "0.0", "--last_every_n_steps", "2"])
    last = torch.load(Path(cli.trainer.log_dir) / "checkpoints/last.ckpt", weights_only=True)
    assert last["global_step"] == cli.trainer.global_step == 9
    assert len(list((Path(cli.trainer.log_dir) / "checkpoints").glob("best-*.ckpt"))) == 1
    assert isinstance(cli.trainer.strategy.checkpoint_io, AtomicCheckpointIO)  # temp file + rename


@pytest.mark.slow
def test_same_seed_same_config_gives_identical_metrics_and_weights_on_cpu(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runs = [run([*tiny_image_run(epochs=2), "--run_name", f"seed{i}"]) for i in range(2)]
    metrics = [{k: float(v) for k, v in r.trainer.callback_metrics.items()} for r in runs]
    assert metrics[0] == metrics[1]
    weights = [r.model.state_dict() for r in runs]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    other = run([*tiny_image_run(epochs=2), "--run_name", "seed1", "--seed_everything", "1"])
    assert not torch.equal(other.model.state_dict()["model.head.fc.weight"], weights[0]["model.head.fc.weight"])


@pytest.mark.slow
def test_bad_resume_checkpoints_exit_2_with_one_line_and_keep_the_files(tmp_path, monkeypatch, capsys):
    from vit_bert.commands import train_py as main

    monkeypatch.chdir(tmp_path)
    run([*TINY_IMAGE, "--run_name", "image"])
    image_ckpt = tmp_path / "runs/image/version_0/checkpoints/last.ckpt"
    write_splits(tmp_path / "data", "tsv", n_train=60, n_test=20)
    text_run = run(["--config", str(ROOT / "configs/sst2_bert.yaml"), "--data.root", "data", "--data.tokenizer_vocab_size", "100",
                    "--model.preset", "bert-tiny", "--trainer.max_epochs", "1", "--trainer.enable_progress_bar", "false"])
    text_ckpt = Path(text_run.trainer.log_dir) / "checkpoints/last.ckpt"
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(image_ckpt.read_bytes()[:500])
    before = {p: p.read_bytes() for p in (image_ckpt, text_ckpt)}
    cases = {
        str(truncated): "cannot read",
        str(text_ckpt): "holds a text model, but this run trains an image model",
        str(image_ckpt): "does not fit this run's model",  # same modality, other shape (dim 48 below)
    }
    for path, message in cases.items():
        overrides = "{patch_size: 2, dim: 48, depth: 1, heads: 2}"
        with pytest.raises(SystemExit) as exit_info:
            main([*TINY_IMAGE, "--model.config", overrides, "--run_name", "resume", "--ckpt_path", path])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith("error: ") and message in err, err
    assert all(p.read_bytes() == data for p, data in before.items())  # nothing on disk was touched
